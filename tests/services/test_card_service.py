"""The card service with real simulated cards in process: one worker thread, jobs in order, events posted
from its own threads, pulled cards, real-card delays, clean stops; plus the revocation adapter and the
[verification] configuration that feeds the verifier.

The autouse fixture in conftest.py fails any test that leaves a thread behind.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from drivers import errors
from drivers import reader_events as watch
from drivers.mynumber import aids
from drivers.mynumber.certificates import parse_certificate
from drivers.mynumber.trust import TrustStore
from drivers.mynumber.verifier import DEFAULT_REQUIRED, CardVerifier, RevocationUnavailable, Verdict
from drivers.sim.card import SimulatedCard
from drivers.sim.faults import REAL_CARD, FaultPlan, FaultyCard
from drivers.sim.profile import profile_certificates
from drivers.sim.tray import SimulatedTray
from kiosk.app.wiring import trust_store_from_config, verifier_factory_from_config
from kiosk.config import ConfigError, KioskConfig, SimulatorSection, VerificationSection, parse_config
from kiosk.core.dispatch import MonotonicClock, SyncDispatcher
from kiosk.core.events import (
    CardFailed,
    CardInserted,
    CardRemoved,
    CardResult,
    Event,
    Finish,
    PinDigit,
    PinSubmit,
    ReaderChanged,
    ShowDetails,
)
from kiosk.core.flows import CARD_CHECK
from kiosk.core.flows.card_check import (
    CardCheckFlow,
    CardDetails,
    CardReady,
    Prefetch,
    Prefetched,
    ReadDetails,
    Recognise,
    VerifyWithPin,
)
from kiosk.core.shell import Shell
from kiosk.core.view import Screen, ViewState
from kiosk.services.card_service import CardService
from kiosk.services.central import CertificateStatus
from kiosk.services.errors import Rejected, ServerTimeout, ServerUnreachable
from kiosk.services.revocation_client import CentralRevocationChecker
from tests.core.test_card_check_flow import ADDRESS, MY_NUMBER, NAME, personal_data_in
from tests.mynumber.verification_support import crl_checker, image_of, profile, trust_store

WAIT = 15.0  # seconds; generous for slow CI machines, never reached when things work
AUTH_PIN_FID = aids.AUTH_PIN.fid


class Recorder:
    """The ``post`` target: thread-safe, remembers which thread posted each event."""

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[Event, str]] = queue.Queue()

    def __call__(self, event: Event) -> None:
        self.events.put((event, threading.current_thread().name))

    def next(self, timeout: float = WAIT) -> tuple[Event, str]:
        return self.events.get(timeout=timeout)

    def until(self, done: Callable[[Event], bool], timeout: float = WAIT) -> list[tuple[Event, str]]:
        """Events up to and including the first one for which ``done`` is true."""
        seen = []
        deadline = time.monotonic() + timeout
        while True:
            event, thread = self.next(max(0.01, deadline - time.monotonic()))
            seen.append((event, thread))
            if done(event):
                return seen

    def outcome(self, ticket: int) -> CardResult | CardFailed:
        """The result or failure of the operation with ``ticket``."""
        events = self.until(lambda e: isinstance(e, CardResult | CardFailed) and e.ticket == ticket)
        event = events[-1][0]
        assert isinstance(event, CardResult | CardFailed)
        return event

    def result(self, ticket: int) -> object:
        event = self.outcome(ticket)
        assert isinstance(event, CardResult), f"expected a result, got {event!r}"
        return event.result


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> TrustStore:
    return trust_store(tmp_path_factory.mktemp("trust"))


@pytest.fixture
def make_service(store: TrustStore):
    made: list[CardService] = []

    def make(*, revocation=None, start: bool = True, tray: SimulatedTray | None = None, transport_factory=None,
             **options) -> tuple[CardService, SimulatedTray, Recorder]:
        tray = tray or SimulatedTray()
        recorder = Recorder()
        service = CardService(transport_factory or tray.connect, recorder, watcher=tray, clock=MonotonicClock(),
                              verifier_factory=lambda card: CardVerifier(card, store, revocation=revocation),
                              **options)
        made.append(service)
        if start:
            service.start()
        return service, tray, recorder

    yield make
    for service in made:
        service.stop()


def adult() -> SimulatedCard:
    return SimulatedCard(image_of("adult"))


def inserted(recorder: Recorder) -> CardInserted:
    event = recorder.until(lambda e: isinstance(e, CardInserted))[-1][0]
    assert isinstance(event, CardInserted)
    return event


# --- reading, verifying, details ----------------------------------------------------------------------------------


def open_card(service: CardService, recorder: Recorder) -> tuple[int, CardReady, Prefetched]:
    """What the card check does at insertion: recognition, then the PIN-free prefetch, for that insertion."""
    insertion = inserted(recorder).insertion
    ready = recorder.result(service.submit(Recognise(), insertion=insertion))
    prefetched = recorder.result(service.submit(Prefetch(), insertion=insertion))
    assert isinstance(ready, CardReady) and isinstance(prefetched, Prefetched)
    return insertion, ready, prefetched


def test_insertion_is_announced_and_operations_run_on_the_worker(make_service) -> None:
    service, tray, recorder = make_service()
    tray.insert(adult())
    event = inserted(recorder)
    assert event.insertion == 1 and event.reader == tray.reader_name == service.reader
    first, second = service.submit(Recognise(), insertion=1), service.submit(Prefetch(), insertion=1)
    events = recorder.until(lambda e: isinstance(e, CardResult) and e.ticket == second)
    results = [(e, thread) for e, thread in events if isinstance(e, CardResult)]
    assert [e.ticket for e, _ in results] == [first, second]  # in order
    ready, prefetched = results[0][0].result, results[1][0].result
    assert isinstance(ready, CardReady) and (ready.auth.name, ready.auth.remaining) == ("auth", 3)
    assert isinstance(prefetched, Prefetched) and not prefetched.certificate_failed
    assert {c.name: c.status for c in prefetched.checks} == {
        "auth_chain": "passed", "auth_validity": "passed", "auth_key_usage": "passed"}
    assert [p.name for p in prefetched.pins] == ["auth", "sign", "card_info", "juki"]
    assert {thread for _, thread in results} == {"card-worker"}
    assert threading.current_thread().name != "card-worker"


def test_verify_and_details_zero_the_pins_and_lock_the_card_again(make_service) -> None:
    service, tray, recorder = make_service(revocation=crl_checker())
    card = adult()
    tray.insert(card)
    insertion, _, _ = open_card(service, recorder)
    pin = bytearray(b"1234")
    verdict = recorder.result(service.submit(VerifyWithPin(pin), insertion=insertion))
    assert pin == bytearray(4)
    assert isinstance(verdict, Verdict)
    assert verdict.verified and verdict.my_number is None and verdict.basic4 is None
    assert {s.name: s.remaining for s in verdict.pin_statuses} == {"auth": 3, "sign": 5, "card_info": 3, "juki": 3}
    card_info_pin = bytearray(b"5678")
    details = recorder.result(service.submit(ReadDetails(card_info_pin), insertion=insertion))
    assert card_info_pin == bytearray(4)
    assert isinstance(details, CardDetails)
    assert details.my_number == MY_NUMBER and details.basic4 is not None and details.basic4.name == NAME
    assert {c.name: c.status for c in details.checks} == {
        "my_number_digest": "passed", "basic4_digest": "passed", "card_info_signature": "passed",
        "card_info_certificate": "passed"}
    assert MY_NUMBER not in repr(details) and NAME not in repr(details)
    assert card.security_state == frozenset()  # the card forgot the card-info PIN: asking again needs it again


def test_wrong_pin_spends_exactly_one_try(make_service) -> None:
    service, tray, recorder = make_service()
    card = adult()
    tray.insert(card)
    insertion = inserted(recorder).insertion
    failed = recorder.outcome(service.submit(VerifyWithPin(bytearray(b"9999")), insertion=insertion))
    assert isinstance(failed, CardFailed) and isinstance(failed.error, errors.WrongPin)
    assert failed.error.remaining == 2 and card.pin("jpki", AUTH_PIN_FID).remaining == 2
    verdict = recorder.result(service.submit(VerifyWithPin(bytearray(b"1234")), insertion=insertion))
    assert isinstance(verdict, Verdict) and verdict.pin_statuses[0].remaining == 3  # a right PIN resets it


def test_last_try_is_never_spent(make_service) -> None:
    service, tray, recorder = make_service()
    card = SimulatedCard(image_of("last-try"))
    tray.insert(card)
    insertion, ready, _ = open_card(service, recorder)
    assert ready.auth.remaining == 1
    pin = bytearray(profile("last-try").pins.auth.encode())
    failed = recorder.outcome(service.submit(VerifyWithPin(pin), insertion=insertion))
    assert isinstance(failed, CardFailed) and isinstance(failed.error, errors.PinGuardRefused)
    assert card.pin("jpki", AUTH_PIN_FID).remaining == 1 and pin == bytearray(len(pin))


def test_not_a_my_number_card(make_service) -> None:
    service, tray, recorder = make_service()
    only_juki = dataclasses.replace(image_of("adult"), applications=[image_of("adult").application("juki")])
    tray.insert(SimulatedCard(only_juki))
    failed = recorder.outcome(service.submit(Recognise(), insertion=inserted(recorder).insertion))
    assert isinstance(failed, CardFailed) and isinstance(failed.error, errors.NotAMyNumberCard)


def test_operations_of_one_insertion_share_one_connection(make_service) -> None:
    connects: list[str] = []
    tray = SimulatedTray()

    def counting(reader: str):
        connects.append(reader)
        return tray.connect(reader)

    service, _tray, recorder = make_service(tray=tray, transport_factory=counting)
    tray.insert(adult())
    insertion, _, _ = open_card(service, recorder)
    recorder.result(service.submit(Prefetch(), insertion=insertion))
    assert len(connects) == 1


# --- order, threads, delays ---------------------------------------------------------------------------------------


def test_operations_run_in_order_off_the_callers_thread_with_real_card_delays(make_service) -> None:
    service, tray, recorder = make_service()
    slow = FaultyCard(adult(), FaultPlan(delay=REAL_CARD))
    tray.insert(slow)
    insertion = inserted(recorder).insertion
    started = time.monotonic()
    tickets = [service.submit(Recognise(), insertion=insertion), service.submit(Prefetch(), insertion=insertion),
               service.submit(VerifyWithPin(bytearray(b"1234")), insertion=insertion),
               service.submit(ReadDetails(bytearray(b"5678")), insertion=insertion)]
    assert time.monotonic() - started < 0.5  # never waits on the card: waiting would take the ~2 s below
    events = recorder.until(lambda e: isinstance(e, CardResult | CardFailed) and e.ticket == tickets[-1])
    outcomes = [(e.ticket, type(e).__name__, thread) for e, thread in events if isinstance(e, CardResult | CardFailed)]
    assert outcomes == [(ticket, "CardResult", "card-worker") for ticket in tickets]
    assert slow.modeled_seconds > 2.0  # a real card's worth of time was spent, on the worker
    assert time.monotonic() - started >= 0.9 * slow.modeled_seconds


@pytest.mark.parametrize("remove_at", [1, 2, 4, 6, 8, 11, 13, 15, 17, 20])
def test_a_pulled_card_fails_its_operation_and_the_service_carries_on(make_service, remove_at: int) -> None:
    service, tray, recorder = make_service()
    tray.insert(FaultyCard(adult(), FaultPlan(remove_at=remove_at)))
    insertion = inserted(recorder).insertion
    tickets = [service.submit(op, insertion=insertion) for op in (Recognise(), Prefetch(),
                                                                   VerifyWithPin(bytearray(b"1234")))]
    outcomes = recorder.until(lambda e: isinstance(e, CardResult | CardFailed) and e.ticket == tickets[-1])
    failures = [e for e, _ in outcomes if isinstance(e, CardFailed)]
    assert failures, "the pulled card must fail an operation"
    assert all(isinstance(f.error, errors.CardRemoved) for f in failures)
    assert {f.ticket for f in failures} <= set(tickets)
    tray.remove()
    removed = recorder.until(lambda e: isinstance(e, CardRemoved))[-1]
    assert removed[1] == "card-events"
    tray.insert(adult())
    open_card(service, recorder)


def test_an_operation_for_a_removed_card_never_touches_the_next_one(make_service) -> None:
    service, _tray, recorder = make_service(start=False)
    first = service.on_card_inserted("Simulated reader 0")
    ticket = service.submit(Recognise(), insertion=first)
    service.on_card_removed("Simulated reader 0")
    second = service.on_card_inserted("Simulated reader 0")
    late = service.submit(Recognise(), insertion=first)  # queued for the old card after the new one came
    service.start()
    assert isinstance(recorder.outcome(ticket).error, errors.CardRemoved)  # type: ignore[union-attr]
    assert isinstance(recorder.outcome(late).error, errors.CardRemoved)  # type: ignore[union-attr]
    assert second == first + 1


def test_stop_skips_queued_operations_zeroes_their_pins_and_joins(make_service) -> None:
    service, tray, recorder = make_service()
    tray.insert(FaultyCard(adult(), FaultPlan(delay=REAL_CARD)))
    insertion = inserted(recorder).insertion
    pins = [bytearray(b"1234"), bytearray(b"5678")]
    service.submit(VerifyWithPin(pins[0]), insertion=insertion)
    service.submit(ReadDetails(pins[1]), insertion=insertion)
    service.stop()
    assert pins == [bytearray(4), bytearray(4)]
    assert not any(t.name in ("card-worker", "card-events") and t.is_alive() for t in threading.enumerate())
    late = bytearray(b"1234")
    with pytest.raises(RuntimeError):
        service.submit(VerifyWithPin(late), insertion=insertion)
    assert late == bytearray(4)
    service.stop()  # idempotent


def test_stop_before_start_zeroes_queued_pins(make_service) -> None:
    service, _tray, _recorder = make_service(start=False)
    pin = bytearray(b"1234")
    service.submit(VerifyWithPin(pin), insertion=1)
    service.stop()
    assert pin == bytearray(4)


# --- reader events ------------------------------------------------------------------------------------------------


def test_reader_unplugged_and_plugged_back(make_service) -> None:
    _service, tray, recorder = make_service()
    tray.insert(adult())
    inserted(recorder)
    tray.unplug()
    events = recorder.until(lambda e: isinstance(e, ReaderChanged) and e.state == "reader_lost")
    assert any(isinstance(e, CardRemoved) for e, _ in events)
    tray.plug()
    recorder.until(lambda e: isinstance(e, ReaderChanged) and e.state == "ready")


def test_pcsc_watcher_events_are_translated(make_service) -> None:
    service, _tray, recorder = make_service(start=False)
    service.on_watch_event(watch.ReaderAdded("R1"))
    service.on_watch_event(watch.ReaderAdded("R2"))
    service.on_watch_event(watch.CardInserted("R2", b"\x3b"))  # not the reader in use: ignored
    service.on_watch_event(watch.CardInserted("R1", b"\x3b"))
    service.on_watch_event(watch.ReaderRemoved("R1"))  # its card goes with it; R2 takes over
    service.on_watch_event(watch.ServiceLost("pcscd stopped"))
    service.on_watch_event(watch.ServiceRestored())
    seen = []
    while not recorder.events.empty():
        event, _ = recorder.next()
        seen.append((type(event).__name__, getattr(event, "state", getattr(event, "reader", None))))
    assert seen == [("ReaderChanged", "ready"), ("CardInserted", "R1"), ("CardRemoved", "R1"),
                    ("ReaderChanged", "ready"), ("ReaderChanged", "service_down"), ("ReaderChanged", "no_reader")]


def test_readers_not_in_the_configuration_are_ignored(make_service) -> None:
    service, _tray, recorder = make_service(start=False, readers=("PaSoRi",))
    service.on_watch_event(watch.ReaderAdded("Simulated reader 0"))
    service.on_watch_event(watch.ReaderAdded("SONY PaSoRi RC-S380 00 00"))
    event, _ = recorder.next()
    assert isinstance(event, ReaderChanged) and event.reader == "SONY PaSoRi RC-S380 00 00"
    assert recorder.events.empty()


def test_demo_tray_inserts_by_profile_name_without_blocking(make_service) -> None:
    service, tray, recorder = make_service()
    assert {"adult", "last-try", "minor"} <= set(tray.profiles())
    started = time.monotonic()
    tray.insert("last-try")  # what the UI's demo tray calls on the UI thread
    assert time.monotonic() - started < 0.4  # the card (about a second to build) is built later, by the worker
    event = inserted(recorder)
    ready = recorder.result(service.submit(Recognise(), insertion=event.insertion))
    assert isinstance(ready, CardReady) and ready.auth.remaining == 1
    assert event.atr == b""  # not built yet when announced; recognition never uses the ATR
    with pytest.raises(RuntimeError):
        tray.insert("adult")  # one card at a time
    tray.remove()
    tray.insert(Path(__file__).resolve().parents[2] / "config" / "cards" / "adult.toml")
    open_card(service, recorder)
    assert service.reader == tray.reader_name


def test_an_unknown_profile_is_a_failed_read_not_a_dead_worker(make_service) -> None:
    service, tray, recorder = make_service()
    tray.insert("nobody")
    failed = recorder.outcome(service.submit(Recognise(), insertion=inserted(recorder).insertion))
    assert isinstance(failed, CardFailed)
    tray.remove()
    tray.insert(adult())
    open_card(service, recorder)
    assert service.reader is not None


def test_a_failing_post_does_not_kill_the_worker(make_service, store) -> None:
    calls: list[Event] = []

    def flaky(event: Event) -> None:
        calls.append(event)
        if isinstance(event, CardResult) and isinstance(event.result, CardReady):
            raise RuntimeError("ui gone")

    tray = SimulatedTray()
    service = CardService(tray.connect, flaky, watcher=tray, clock=MonotonicClock(),
                          verifier_factory=lambda card: CardVerifier(card, store))
    with service:
        tray.insert(adult())
        deadline = time.monotonic() + WAIT
        while not any(isinstance(e, CardInserted) for e in calls):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        service.submit(Recognise(), insertion=1)
        service.submit(Prefetch(), insertion=1)
        while not any(isinstance(e, CardResult) and isinstance(e.result, Prefetched) for e in calls):
            assert time.monotonic() < deadline
            time.sleep(0.01)


# --- with the flow: the whole resident path on a simulated card ---------------------------------------------------


def test_resident_path_end_to_end_leaves_nothing_behind(make_service, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    service, tray, recorder = make_service(revocation=crl_checker())
    dispatcher = SyncDispatcher()
    flow = Shell(dispatcher, service, MonotonicClock(), KioskConfig(), flows={CARD_CHECK: CardCheckFlow})

    def run_until(done: Callable[[ViewState], bool]) -> None:
        deadline = time.monotonic() + WAIT
        while not done(flow.state):
            event, _ = recorder.next(max(0.01, deadline - time.monotonic()))
            dispatcher.post(event)  # the test thread plays the UI thread

    def type_pin(digits: str) -> None:
        for digit in digits:
            dispatcher.post(PinDigit(digit))
        dispatcher.post(PinSubmit())

    tray.insert(adult())
    run_until(lambda s: s.screen is Screen.PIN_ENTRY)
    assert flow.state.pin is not None and flow.state.pin.remaining_tries == 2  # the last try is kept back
    type_pin("1234")
    run_until(lambda s: s.screen is Screen.RESULT)
    assert flow.state.result is not None and flow.state.result.verified
    dispatcher.post(ShowDetails())
    type_pin("5678")
    run_until(lambda s: s.screen is Screen.RESULT and s.result is not None and s.result.details is not None)
    assert dict(flow.state.result.details)["details.name"] == NAME  # type: ignore[union-attr, arg-type]
    assert MY_NUMBER not in repr(flow.state)
    dispatcher.post(Finish())
    assert flow.state.screen is Screen.TAKE_CARD  # the card is still on the reader
    assert personal_data_in(flow, skip=(CardService,)) == set()
    # The service keeps nothing personal either; only the card itself holds its resident's data.
    assert personal_data_in(service, skip=(SimulatedCard, SimulatedTray)) == set()
    tray.remove()
    run_until(lambda s: s.reader.value == "ready" and s.screen is Screen.ATTRACT)
    assert ADDRESS not in repr(flow.state)
    assert caplog.records, "the path logs what it does"
    assert not [value for value in (NAME, ADDRESS, MY_NUMBER) if value in caplog.text]


# --- revocation through the central server ------------------------------------------------------------------------


class StubCentral:
    def __init__(self, answer: CertificateStatus | Exception) -> None:
        self.answer = answer
        self.asked: list[tuple[str, str]] = []

    def certificate_status(self, issuer_key_id: str, serial: str) -> CertificateStatus:
        self.asked.append((issuer_key_id, serial))
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def auth_certificate():
    return parse_certificate(profile_certificates(profile("adult"))["auth"])


@pytest.mark.parametrize(("answer", "expected"), [
    (CertificateStatus("good", {}), ("good", None)),
    (CertificateStatus("revoked", {"reason": "keyCompromise"}), ("revoked", "keycompromise")),
    (CertificateStatus("revoked", {}), ("revoked", "revoked")),
    (CertificateStatus("unknown", {"reason": "crl_expired"}), ("unknown", "crl_expired")),
    (CertificateStatus("unknown", {"reason": "住所 東京都 0123456789"}), ("unknown", "status_unknown")),
])
def test_revocation_answers(answer: CertificateStatus, expected: tuple[str, str | None]) -> None:
    certificate = auth_certificate()
    central = StubCentral(answer)
    result = CentralRevocationChecker(central).check(certificate)
    assert (result.status, result.reason) == expected
    assert central.asked == [(certificate.authority_key_id.hex(), format(certificate.serial, "x"))]


@pytest.mark.parametrize("failure", [ServerUnreachable("down"), ServerTimeout("slow", "read"),
                                     Rejected(403, "forbidden", "not this kiosk")])
def test_no_answer_means_not_checked(failure: Exception) -> None:
    with pytest.raises(RevocationUnavailable):
        CentralRevocationChecker(StubCentral(failure)).check(auth_certificate())


def test_certificate_without_issuer_key_id_is_unknown() -> None:
    certificate = dataclasses.replace(auth_certificate(), authority_key_id=None)
    central = StubCentral(CertificateStatus("good", {}))
    assert CentralRevocationChecker(central).check(certificate).status == "unknown"
    assert central.asked == []


def test_revocation_over_real_https(central, make_client) -> None:
    certificate = auth_certificate()
    checker = CentralRevocationChecker(make_client(central.url))
    assert checker.check(certificate).status == "good"
    central.revoked_serials.add(format(certificate.serial, "x"))
    assert checker.check(certificate).status == "revoked"
    central.stop()
    with pytest.raises(RevocationUnavailable):
        checker.check(certificate)


def test_offline_server_leaves_the_card_unverified(make_service, central, make_client) -> None:
    central.stop()
    service, tray, recorder = make_service(revocation=CentralRevocationChecker(make_client(central.url)))
    tray.insert(adult())
    verdict = recorder.result(service.submit(VerifyWithPin(bytearray(b"1234")),
                                             insertion=inserted(recorder).insertion))
    assert isinstance(verdict, Verdict)
    check = verdict.check("revocation")
    assert (check.status, check.reason) == ("not_checked", "offline")
    assert not verdict.verified


# --- [verification] configuration ---------------------------------------------------------------------------------


def test_verification_defaults_match_the_verifier() -> None:
    assert frozenset(VerificationSection().required_checks) == DEFAULT_REQUIRED
    assert KioskConfig().verification.renewal_months == 3


def test_verification_section_parses() -> None:
    config = parse_config({"verification": {"trust_store": "jlis", "required_checks": ["auth_chain", "possession"],
                                            "renewal_months": 2}})
    assert config.verification == VerificationSection("jlis", ("auth_chain", "possession"), 2)


@pytest.mark.parametrize(("section", "message"), [
    ({"required_checks": ["auth_chian"]}, "did you mean 'auth_chain'"),
    ({"required_checks": ["possession", "possession"]}, "twice"),
    ({"required_checks": "auth_chain"}, "must be a list of str"),
    ({"renewal_months": 13}, "between 0 and 12"),
    ({"renewal_months": 2.5}, "must be a whole number"),
    ({"renewal_month": 3}, "did you mean 'verification.renewal_months'"),
])
def test_verification_section_is_strict(section: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"verification": section})


def test_verifier_from_config(tmp_path: Path) -> None:
    folder = tmp_path / "trust"
    folder.mkdir()
    trust_store(folder)
    config = parse_config({"verification": {"trust_store": str(folder), "required_checks": ["auth_chain"],
                                            "renewal_months": 6}})
    make = verifier_factory_from_config(config)
    from drivers.mynumber.card import MyNumberCard
    from drivers.sim.transport import SimTransport

    verifier = make(MyNumberCard(SimTransport(adult())))
    assert verifier.config.required == frozenset({"auth_chain"}) and verifier.config.renewal_months == 6
    assert verifier.trust.certificates
    assert verifier.verify("1234").verified


def test_trust_store_needed_for_real_cards() -> None:
    with pytest.raises(ConfigError, match=r"verification\.trust_store"):
        trust_store_from_config(KioskConfig())
    simulated = trust_store_from_config(KioskConfig(simulator=SimulatorSection(enabled=True)))
    assert simulated.certificates


class RecordingTransport:
    """The tray's transport, with every command that went to the card kept."""

    def __init__(self, inner: object, sent: list[bytes]) -> None:
        self._inner, self._sent = inner, sent

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    def transmit(self, command: bytes) -> bytes:
        self._sent.append(command)
        return self._inner.transmit(command)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("setting", "extended_expected"), [("no", False), ("yes", True), ("auto", True)])
def test_the_configured_extended_apdus_setting_reaches_the_card_reads(make_service, setting: str,
                                                                       extended_expected: bool) -> None:
    """[card] extended_apdus = "no" keeps every command short (a reader known to mangle extended APDUs);
    "yes" and "auto" (the simulated reader passes them) read the certificate in one extended READ."""
    from kiosk.config import CardSection

    tray = SimulatedTray()
    sent: list[bytes] = []
    service, _, recorder = make_service(tray=tray, extended=CardSection(extended_apdus=setting).extended,
                                        transport_factory=lambda r: RecordingTransport(tray.connect(r), sent))
    tray.insert(adult())
    open_card(service, recorder)
    extended = [c for c in sent if len(c) >= 7 and c[4] == 0]
    assert bool(extended) is extended_expected, [c.hex() for c in sent]
