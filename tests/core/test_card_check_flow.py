"""The resident card-check flow, driven like a script: SyncDispatcher, FakeClock and a fake card service.

Every transition, every time-out, card removal in every screen, PIN trouble of every kind, the reader going
away and coming back, preferences on every screen, and the promise that personal data is gone — from the
next view state AND from everything the flow object can reach — once the session ends or details are hidden.
"""

from __future__ import annotations

import itertools
import types
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum

import pytest

from drivers import errors
from drivers.mynumber.basic4 import Basic4
from drivers.mynumber.certificates import ValidityReport
from drivers.mynumber.integrity import CheckResult
from drivers.mynumber.session import PinStatus
from drivers.mynumber.verifier import CARD_INFO_CHECKS, DEFAULT_REQUIRED, Verdict
from kiosk.config import KioskConfig, KioskSection
from kiosk.core.dispatch import FakeClock, SyncDispatcher
from kiosk.core.events import (
    CallStaff,
    Cancel,
    CancelStaffCall,
    CardFailed,
    CardInserted,
    CardRemoved,
    CardResult,
    Event,
    Finish,
    HideDetails,
    LanguageChosen,
    MoreTime,
    PinBackspace,
    PinClear,
    PinDigit,
    PinSubmit,
    ReaderChanged,
    ServiceChanged,
    ShowDetails,
    StaffCallUpdated,
    Start,
    Tick,
    ToggleHighContrast,
    ToggleLargeText,
    ToggleShowPin,
    ToggleSpeech,
    Touched,
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
from kiosk.core.messages import ALL_MESSAGE_KEYS, OUT_OF_SERVICE
from kiosk.core.shell import Shell
from kiosk.core.view import ReaderState, Screen, ViewState

READER = "Test reader 0"
# The synthetic resident of config/cards/adult.toml (not a real person, address or number).
NAME = "試験 太郎"
ADDRESS = "東京都千代田区霞が関九丁目9番9号 テスト合同住宅101号室"
MY_NUMBER = "123456789018"
PERSONAL = (NAME, ADDRESS, MY_NUMBER)
CONFIG = KioskConfig()  # idle 90 s, warning 20 s, PIN entry 60 s, card operation 30 s, unattended
NOT_AFTER = datetime(2029, 3, 31, 16, 0, tzinfo=UTC)  # 2029-04-01 01:00 JST


# --- fakes and helpers --------------------------------------------------------------------------------------------


KINDS = {Recognise: "card", Prefetch: "prefetch", VerifyWithPin: "verify", ReadDetails: "details"}


class FakeCardJobs:
    """Records submitted operations; the test answers them through the dispatcher, in any order it likes."""

    def __init__(self, dispatcher: SyncDispatcher) -> None:
        self.dispatcher = dispatcher
        self.requests: list[tuple[str, int]] = []
        self.insertions: list[int] = []
        self.pins: list[bytes] = []
        self.answer_now: Callable[[str, int], Event | None] | None = None
        self._ids = itertools.count(100)

    def submit(self, operation: object, *, insertion: int) -> int:
        ticket = next(self._ids)
        kind = KINDS[type(operation)]
        self.requests.append((kind, ticket))
        self.insertions.append(insertion)
        pin = getattr(operation, "pin", None)
        if pin is not None:
            self.pins.append(bytes(pin))
            operation.wipe()  # the worker owns the buffer and zeroes it
        if self.answer_now is not None:
            event = self.answer_now(kind, ticket)
            if event is not None:
                self.dispatcher.post(event)  # posted from inside handle: must be queued, not nested
        return ticket

    def last(self, kind: str) -> int:
        return next(ticket for k, ticket in reversed(self.requests) if k == kind)

    def pin_requests(self) -> list[str]:
        """The operations that carried a PIN to the card (what the tests mostly care about)."""
        return [k for k, _ in self.requests if k in ("verify", "details")]


def statuses(auth: int = 3, card_info: int = 3) -> tuple[PinStatus, ...]:
    return (PinStatus("auth", auth, 3, blocked=auth == 0), PinStatus("sign", 5, 5),
            PinStatus("card_info", card_info, 3, blocked=card_info == 0), PinStatus("juki", 3, 3))


def make_verdict(*, revocation: str = "passed", validity: ValidityReport | None = None,
                 card_info: int = 3) -> Verdict:
    checks = [CheckResult(name, "passed") for name in ("auth_chain", "auth_validity", "auth_key_usage", "possession")]
    checks += [CheckResult(name, "not_checked", "no_card_info_pin") for name in CARD_INFO_CHECKS]
    checks += [CheckResult("sign_consistency", "not_checked", "no_sign_pin"),
               CheckResult("revocation", revocation, None if revocation == "passed" else "offline")]
    validity = validity or ValidityReport("valid", 1500, False, datetime(2028, 12, 31, tzinfo=UTC))
    verdict = Verdict(checks, DEFAULT_REQUIRED, 12, auth_validity=validity,
                      auth_certificate=types.SimpleNamespace(not_after=NOT_AFTER),  # type: ignore[arg-type]
                      pin_statuses=list(statuses(card_info=card_info)))
    verdict.my_number = MY_NUMBER  # the verify job reads none, but the flow must wipe whatever it gets
    return verdict


def make_details(*, basic4_digest: str = "passed", card_info: int = 3) -> CardDetails:
    checks = tuple(CheckResult(name, "passed") for name in CARD_INFO_CHECKS if name != "basic4_digest")
    checks += (CheckResult("basic4_digest", basic4_digest, None if basic4_digest == "passed" else "digest_mismatch"),)
    return CardDetails(MY_NUMBER, Basic4(NAME, ADDRESS, date(1985, 4, 1), "1"), checks, statuses(card_info=card_info))


def emitted_keys(state: ViewState) -> set[str]:
    keys = {state.message_key} if state.message_key else set()
    if state.pin is not None and state.pin.error_key:
        keys.add(state.pin.error_key)
    if state.result is not None:
        keys |= {line.message_key for line in state.result.checks}
        if state.result.renewal_key:
            keys.add(state.result.renewal_key)
        for label, value in state.result.details or ():
            keys.add(label)
            if label == "details.sex":
                keys.add(value)
    return keys


def reachable_strings(root: object, skip: tuple[type, ...] = ()) -> Iterator[str]:
    """Every str/bytes reachable from ``root`` through attributes, slots and containers (not code).

    ``skip``: types not to look inside (a simulated card legitimately holds its resident's data).
    """
    seen: set[int] = set()
    stack: list[object] = [root]
    while stack:
        item = stack.pop()
        if id(item) in seen or isinstance(item, skip):
            continue
        seen.add(id(item))
        if isinstance(item, str):
            yield item
        elif isinstance(item, bytes | bytearray):
            yield bytes(item).decode("utf-8", "replace")
        elif isinstance(item, int | float | Enum | type(None) | type | types.ModuleType | types.FunctionType
                                | types.MethodType | types.BuiltinFunctionType):
            continue
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            stack.extend(item)
        else:
            if hasattr(item, "__dict__"):
                stack.extend(vars(item).values())
            for cls in type(item).__mro__:
                slots = getattr(cls, "__slots__", ())
                for slot in (slots,) if isinstance(slots, str) else slots:
                    if hasattr(item, slot):
                        stack.append(getattr(item, slot))
            if isinstance(item, Collection) and not hasattr(item, "__dict__"):
                stack.extend(list(item))  # deque and friends (never iterators: itertools.count is endless)


def personal_data_in(root: object, skip: tuple[type, ...] = ()) -> set[str]:
    return {value for text in reachable_strings(root, skip) for value in PERSONAL if value in text}


@dataclass
class Kiosk:
    """The shell with the card check, wired like the app, with helpers that read like what a resident does."""

    config: KioskConfig = CONFIG
    staff_caller: Callable[[bool], None] | None = None

    def __post_init__(self) -> None:
        self.clock = FakeClock()
        self.dispatcher = SyncDispatcher()
        self.jobs = FakeCardJobs(self.dispatcher)
        self.flow = Shell(self.dispatcher, self.jobs, self.clock, self.config, flows={CARD_CHECK: CardCheckFlow},
                          staff_caller=self.staff_caller)
        self.states: list[ViewState] = []
        self.flow.subscribe(self._seen)

    def _seen(self, state: ViewState) -> None:
        unknown = emitted_keys(state) - ALL_MESSAGE_KEYS
        assert not unknown, f"keys missing from ALL_MESSAGE_KEYS: {unknown}"
        self.states.append(state)

    @property
    def state(self) -> ViewState:
        return self.flow.state

    @property
    def screen(self) -> Screen:
        return self.flow.state.screen

    def post(self, *events: Event) -> Kiosk:
        for event in events:
            self.dispatcher.post(event)
        return self

    def tick(self, seconds: float) -> Kiosk:
        self.clock.advance(seconds)
        return self.post(Tick(self.clock.now()))

    def type(self, digits: str) -> Kiosk:
        return self.post(*(PinDigit(d) for d in digits))

    def answer(self, kind: str, result: object) -> Kiosk:
        return self.post(CardResult(self.jobs.last(kind), result))

    def fail(self, kind: str, error: BaseException) -> Kiosk:
        return self.post(CardFailed(self.jobs.last(kind), error))

    # --- getting somewhere ---

    def ready(self) -> Kiosk:
        return self.post(ReaderChanged("ready", READER))

    def insert(self, insertion: int = 1) -> Kiosk:
        return self.post(CardInserted(READER, b"\x3b", insertion))

    def card_ready(self, remaining: int = 3, **flags: bool) -> Kiosk:
        return self.answer("card", CardReady(PinStatus("auth", remaining, 3, **flags)))

    def prefetched(self, *, card_info: int = 3, failed: bool = False) -> Kiosk:
        checks = (CheckResult("auth_chain", "failed" if failed else "passed", "unknown_issuer" if failed else None),
                  CheckResult("auth_validity", "passed"), CheckResult("auth_key_usage", "passed"))
        return self.answer("prefetch", Prefetched(checks, statuses(card_info=card_info), certificate_failed=failed))

    def to_pin_entry(self, *, card_info: int = 3) -> Kiosk:
        return self.ready().insert().card_ready().prefetched(card_info=card_info)

    def to_verifying(self) -> Kiosk:
        return self.to_pin_entry().type("1234").post(PinSubmit())

    def verified(self, verdict: Verdict | None = None) -> Kiosk:
        return self.answer("verify", verdict or make_verdict())

    def to_result(self, *, card_info: int = 3) -> Kiosk:
        pad = self.to_pin_entry(card_info=card_info).type("1234").post(PinSubmit())
        return pad.verified(make_verdict(card_info=card_info))

    def to_card_info_pin(self) -> Kiosk:
        return self.to_result().post(ShowDetails())

    def to_details_verifying(self) -> Kiosk:
        return self.to_card_info_pin().type("5678").post(PinSubmit())

    def details(self, details: CardDetails | None = None) -> Kiosk:
        return self.answer("details", details or make_details())

    def to_details_shown(self) -> Kiosk:
        return self.to_details_verifying().details()

    def to_go_to_counter(self) -> Kiosk:
        return self.ready().insert().card_ready(1)

    def to_error(self) -> Kiosk:
        return self.ready().insert().fail("card", errors.NotAMyNumberCard("no JPKI"))


def assert_nothing_personal(kiosk: Kiosk) -> None:
    assert not any(value in repr(kiosk.state) for value in PERSONAL), repr(kiosk.state)
    assert personal_data_in(kiosk.flow) == set()
    assert not kiosk.flow.session.entry.holds_anything()


# --- start and reading --------------------------------------------------------------------------------------------


def test_initial_state() -> None:
    state = Kiosk().state
    assert (state.screen, state.language, state.reader, state.session_id) == (Screen.ATTRACT, "ja",
                                                                              ReaderState.NO_READER, 1)
    assert (state.large_text, state.high_contrast, state.speech, state.busy, state.staff_called) == (
        False, False, True, False, False)


@pytest.mark.parametrize("event", [Start(), Touched()])
def test_start_or_touch_leaves_attract(event: Event) -> None:
    kiosk = Kiosk().ready().post(event)
    assert kiosk.screen is Screen.INSERT_CARD
    assert kiosk.state.reader is ReaderState.READY


def test_start_without_a_reader_says_so_and_recovers() -> None:
    kiosk = Kiosk().post(Start())
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.ERROR, "error.reader")
    kiosk.ready()
    assert kiosk.screen is Screen.INSERT_CARD


@pytest.mark.parametrize("prior", [[], [Start()]], ids=["from_attract", "from_insert_card"])
def test_card_inserted_starts_reading(prior: list[Event]) -> None:
    kiosk = Kiosk().ready().post(*prior).insert()
    state = kiosk.state
    assert (state.screen, state.busy, state.message_key) == (Screen.READING, True, "card.keep_still")
    assert state.reader is ReaderState.CARD_PRESENT
    # recognition first (the pad can appear), the slow PIN-free prefetch right behind it, for this insertion
    assert [kind for kind, _ in kiosk.jobs.requests] == ["card", "prefetch"]
    assert kiosk.jobs.insertions == [1, 1]


def test_card_ready_shows_the_pad_with_tries_left() -> None:
    kiosk = Kiosk().ready().insert().card_ready(3)
    state = kiosk.state
    assert (state.screen, state.message_key, state.busy) == (Screen.PIN_ENTRY, "pin.auth", False)
    assert state.pin is not None
    # 3 on the card, but an unattended kiosk keeps the last one back: 2 usable, and the rule said up front
    assert (state.pin.entered, state.pin.length, state.pin.shown, state.pin.remaining_tries) == (0, 4, None, 2)
    assert (state.pin.note_key, state.pin.note_args) == ("pin.tries_rule", {"usable": 2, "pin": "auth"})
    assert state.pin.error_key is None


def test_a_clerk_counter_shows_every_try() -> None:
    attended = KioskConfig(kiosk=KioskSection(mode="attended"))
    state = Kiosk(config=attended).ready().insert().card_ready(3).state
    assert state.pin is not None and (state.pin.remaining_tries, state.pin.note_key) == (3, None)


def test_the_tries_rule_is_said_once_not_after_each_error() -> None:
    kiosk = Kiosk().to_pin_entry().type("1234").post(PinSubmit())
    kiosk.fail("verify", errors.WrongPin(0x63C2, 2, "auth"))
    state = kiosk.state
    assert state.pin is not None and (state.pin.error_key, state.pin.remaining_tries) == ("pin.wrong", 1)
    assert state.pin.error_args == {"remaining": 1, "pin": "auth"}  # usable tries, not the card's 2
    assert state.pin.note_key is None  # the rule was said before the first try, not again


def test_prefetch_arriving_while_typing_changes_nothing_on_screen() -> None:
    kiosk = Kiosk().ready().insert().card_ready().type("12")
    before = kiosk.state
    kiosk.prefetched()
    assert kiosk.state == before


def test_prefetch_failure_while_typing_is_an_error() -> None:
    kiosk = Kiosk().ready().insert().card_ready().type("12")
    kiosk.post(CardFailed(kiosk.jobs.last("prefetch"), errors.ProtocolError("bad certificate")))
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.ERROR, "error.card_generic")
    assert_nothing_personal(kiosk)


def test_not_a_my_number_card() -> None:
    kiosk = Kiosk().to_error()
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.ERROR, "error.not_my_number")
    assert kiosk.state.reader is ReaderState.NOT_MY_NUMBER
    kiosk.post(CardRemoved(READER))
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.INSERT_CARD, None)
    assert kiosk.state.reader is ReaderState.READY
    kiosk.insert(insertion=2).card_ready()
    assert kiosk.screen is Screen.PIN_ENTRY and kiosk.jobs.insertions[-1] == 2


@pytest.mark.parametrize(("error", "key"), [(errors.ReaderTimeout("slow"), "error.timeout"),
                                            (errors.ServiceUnavailable("down"), "error.reader"),
                                            (errors.ProtocolError("odd"), "error.card_generic")])
def test_reading_failures(error: Exception, key: str) -> None:
    kiosk = Kiosk().ready().insert().fail("card", error)
    assert (kiosk.screen, kiosk.state.message_key, kiosk.state.busy) == (Screen.ERROR, key, False)
    kiosk.post(Finish())
    assert kiosk.screen is Screen.TAKE_CARD


# --- the PIN pad --------------------------------------------------------------------------------------------------


def test_pad_shows_only_the_count_unless_asked() -> None:
    kiosk = Kiosk().to_pin_entry().type("1234")
    assert kiosk.state.pin is not None and (kiosk.state.pin.entered, kiosk.state.pin.shown) == (4, None)
    assert "1234" not in repr(kiosk.state)
    kiosk.post(ToggleShowPin())
    assert kiosk.state.pin is not None and kiosk.state.pin.shown == "1234"
    kiosk.post(PinBackspace())
    assert kiosk.state.pin is not None and (kiosk.state.pin.entered, kiosk.state.pin.shown) == (3, "123")
    kiosk.post(PinClear())
    assert kiosk.state.pin is not None and (kiosk.state.pin.entered, kiosk.state.pin.shown) == (0, "")
    kiosk.post(ToggleShowPin()).type("9x99995")
    assert kiosk.state.pin is not None and (kiosk.state.pin.entered, kiosk.state.pin.shown) == (4, None)


def test_short_pin_is_refused_without_touching_the_card() -> None:
    kiosk = Kiosk().to_pin_entry().type("123").post(PinSubmit())
    assert kiosk.screen is Screen.PIN_ENTRY
    assert kiosk.state.pin is not None and kiosk.state.pin.error_key == "pin.format"
    assert kiosk.jobs.pin_requests() == []
    kiosk.type("4")
    assert kiosk.state.pin is not None and kiosk.state.pin.error_key is None


def test_submit_hands_the_pin_over_and_zeroes_the_flows_copy() -> None:
    kiosk = Kiosk().to_pin_entry().type("1234").post(ToggleShowPin(), PinSubmit())
    state = kiosk.state
    assert (state.screen, state.busy, state.pin, state.message_key) == (Screen.VERIFYING, True, None,
                                                                        "card.keep_still")
    assert kiosk.jobs.pins == [b"1234"]
    assert not kiosk.flow.session.entry.holds_anything()


def test_pin_digits_outside_the_pad_are_ignored() -> None:
    kiosk = Kiosk().ready().post(Start()).type("12")
    assert kiosk.flow.session.entry.count == 0 and kiosk.state.pin is None


# --- verification result ------------------------------------------------------------------------------------------


def test_verified_result_in_plain_words() -> None:
    verdict = make_verdict()
    kiosk = Kiosk().to_pin_entry().type("1234").post(PinSubmit()).verified(verdict)
    state = kiosk.state
    assert (state.screen, state.busy, state.message_key) == (Screen.RESULT, False, None)
    result = state.result
    assert result is not None and result.verified
    lines = {line.name: (line.status, line.message_key) for line in result.checks}
    assert lines["auth_chain"] == ("passed", "check.auth_chain.passed")
    assert lines["my_number_digest"] == ("not_checked", "check.my_number_digest.not_checked")
    assert (result.certificate_expiry, result.days_to_expiry, result.renewal_key) == ("2029-04-01", 1500, None)
    assert [(p.pin, p.remaining, p.maximum) for p in result.pins] == [
        ("auth", 3, 3), ("sign", 5, 5), ("card_info", 3, 3), ("juki", 3, 3)]
    assert result.details is None
    assert verdict.my_number is None  # wiped by the flow


def test_not_verified_when_revocation_could_not_be_checked() -> None:
    kiosk = Kiosk().to_pin_entry().type("1234").post(PinSubmit()).verified(make_verdict(revocation="not_checked"))
    result = kiosk.state.result
    assert result is not None and not result.verified
    assert ("revocation", "check.revocation.not_checked") in {(c.name, c.message_key) for c in result.checks}


@pytest.mark.parametrize(("validity", "key"), [
    (ValidityReport("valid", 40, True, datetime(2029, 1, 1, tzinfo=UTC)), "renewal.soon"),
    (ValidityReport("expired", -2, False, datetime(2029, 1, 1, tzinfo=UTC)), "renewal.expired"),
])
def test_renewal_advice(validity: ValidityReport, key: str) -> None:
    kiosk = Kiosk().to_pin_entry().type("1234").post(PinSubmit()).verified(make_verdict(validity=validity))
    assert kiosk.state.result is not None and kiosk.state.result.renewal_key == key


def test_wrong_pin_then_right_pin() -> None:
    kiosk = Kiosk().to_verifying()
    kiosk.post(CardFailed(kiosk.jobs.last("verify"), errors.WrongPin(0x63C2, 2, "auth")))
    state = kiosk.state
    assert (state.screen, state.message_key) == (Screen.PIN_ENTRY, "pin.auth")
    assert state.pin is not None
    assert (state.pin.error_key, state.pin.error_args, state.pin.remaining_tries, state.pin.entered) == (
        "pin.wrong", {"remaining": 1, "pin": "auth"}, 1, 0)  # the tries usable here: the last one is kept back
    assert kiosk.jobs.pin_requests() == ["verify"]  # never an automatic retry
    kiosk.type("4321").post(PinSubmit()).verified()
    assert kiosk.screen is Screen.RESULT
    assert kiosk.jobs.pins == [b"1234", b"4321"]


def test_wrong_pin_leaving_the_last_try_sends_to_the_counter() -> None:
    kiosk = Kiosk().to_verifying()
    kiosk.post(CardFailed(kiosk.jobs.last("verify"), errors.WrongPin(0x63C1, 1, "auth")))
    assert (kiosk.screen, kiosk.state.message_key, kiosk.state.message_args) == (
        Screen.GO_TO_COUNTER, "counter.last_try", {"pin": "auth", "remaining": 1})


def test_last_try_refused_before_the_pad_appears() -> None:
    kiosk = Kiosk().to_go_to_counter()
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.GO_TO_COUNTER, "counter.last_try")
    assert kiosk.jobs.pin_requests() == []
    kiosk.post(Finish())
    assert kiosk.screen is Screen.TAKE_CARD


def test_attended_mode_also_refuses_the_last_try_without_a_confirmation() -> None:
    kiosk = Kiosk(KioskConfig(kiosk=KioskSection(mode="attended"))).to_go_to_counter()
    assert kiosk.state.message_key == "counter.last_try"


def test_guard_refusal_from_the_card_service() -> None:
    kiosk = Kiosk().to_verifying()
    kiosk.post(CardFailed(kiosk.jobs.last("verify"), errors.PinGuardRefused("auth", 1, "unattended")))
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.GO_TO_COUNTER, "counter.last_try")


@pytest.mark.parametrize("where", ["counter", "card"])
def test_blocked_pin(where: str) -> None:
    if where == "counter":
        kiosk = Kiosk().ready().insert().card_ready(0, blocked=True)
    else:
        kiosk = Kiosk().to_verifying()
        kiosk.post(CardFailed(kiosk.jobs.last("verify"), errors.PinBlocked(0x6984)))
    assert (kiosk.screen, kiosk.state.message_key, kiosk.state.message_args) == (
        Screen.GO_TO_COUNTER, "counter.blocked", {"pin": "auth"})


def test_pin_never_set() -> None:
    kiosk = Kiosk().ready().insert().card_ready(0, not_set=True)
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.GO_TO_COUNTER, "counter.pin_not_set")


def test_verify_failing_otherwise_is_an_error() -> None:
    kiosk = Kiosk().to_verifying()
    kiosk.post(CardFailed(kiosk.jobs.last("verify"), errors.ProtocolError("odd answer")))
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.ERROR, "error.card_generic")


def test_card_service_answering_inside_the_call_is_queued_not_nested() -> None:
    kiosk = Kiosk().to_pin_entry()
    kiosk.jobs.answer_now = lambda kind, ticket: CardResult(ticket, make_verdict()) if kind == "verify" else None
    kiosk.type("1234").post(PinSubmit())
    assert [s.screen for s in kiosk.states[-2:]] == [Screen.VERIFYING, Screen.RESULT]


def test_finish_ends_the_session() -> None:
    kiosk = Kiosk().to_result()
    old = kiosk.state.session_id
    kiosk.post(CardRemoved(READER))
    assert (kiosk.screen, kiosk.state.session_id) == (Screen.ATTRACT, old + 1)


def test_a_card_left_on_the_reader_is_not_the_next_persons() -> None:
    """Finish, cancel or idle with the card still in: "take your card" until it is removed, and nothing a
    touch or a task button does can reach that card; a new session needs a fresh insertion."""
    kiosk = Kiosk().to_result()
    old = kiosk.state.session_id
    kiosk.post(Finish())
    state = kiosk.state
    assert (state.screen, state.message_key, state.session_id) == (Screen.TAKE_CARD, "take_card.title", old + 1)
    assert state.result is None and state.reader is ReaderState.CARD_PRESENT
    asked = len(kiosk.jobs.requests)
    kiosk.post(Touched(), Start(), PinDigit("1"), ShowDetails())
    assert kiosk.screen is Screen.TAKE_CARD and len(kiosk.jobs.requests) == asked  # nothing touched the card
    kiosk.tick(10)
    assert kiosk.state.reminder == 1  # said again, so the guidance is spoken again
    kiosk.tick(10)
    assert kiosk.state.reminder == 2
    kiosk.tick(600)
    assert kiosk.screen is Screen.TAKE_CARD  # no idle time-out brings the card back into play
    kiosk.post(CardRemoved(READER))
    assert (kiosk.screen, kiosk.state.reader) == (Screen.ATTRACT, ReaderState.READY)
    kiosk.insert(insertion=2)
    assert kiosk.screen is Screen.READING and kiosk.jobs.insertions[-1] == 2


@pytest.mark.parametrize("end", ["cancel", "idle", "go_to_counter", "error"])
def test_every_way_a_session_ends_with_the_card_in_asks_to_take_it(end: str) -> None:
    kiosk = {"cancel": lambda: Kiosk().to_pin_entry().post(Cancel()),
             "idle": lambda: Kiosk().to_result().tick(90),
             "go_to_counter": lambda: Kiosk().to_go_to_counter().post(Finish()),
             "error": lambda: Kiosk().to_error().post(Finish())}[end]()
    assert kiosk.screen is Screen.TAKE_CARD
    assert_nothing_personal(kiosk)


def test_finish_elsewhere_is_only_activity() -> None:
    kiosk = Kiosk().to_pin_entry().post(Finish())
    assert kiosk.screen is Screen.PIN_ENTRY


# --- details and the card-info PIN --------------------------------------------------------------------------------


def test_details_need_the_card_info_pin_and_are_masked() -> None:
    kiosk = Kiosk().to_result()
    assert personal_data_in(kiosk.flow) == set()
    kiosk.post(ShowDetails())
    state = kiosk.state
    assert (state.screen, state.message_key) == (Screen.PIN_ENTRY, "pin.card_info")
    assert state.pin is not None and state.pin.remaining_tries == 2  # 3 on the card, the last kept back
    kiosk.type("5678").post(PinSubmit())
    assert kiosk.screen is Screen.VERIFYING and kiosk.jobs.requests[-1][0] == "details"
    assert kiosk.jobs.pins[-1] == b"5678"  # its own PIN, never the auth PIN again
    details = make_details()
    kiosk.details(details)
    result = kiosk.state.result
    assert kiosk.screen is Screen.RESULT and result is not None and result.verified
    assert dict(result.details or ()) == {
        "details.name": NAME, "details.address": ADDRESS, "details.birth_date": "1985-04-01",
        "details.sex": "sex.male", "details.my_number": "**** **** 9018"}
    assert MY_NUMBER not in repr(kiosk.state)
    assert {c.name: c.status for c in result.checks}["card_info_signature"] == "passed"
    assert details.my_number is None and details.basic4 is None  # the result object was wiped at once
    assert personal_data_in(kiosk.flow) == {NAME, ADDRESS}  # positive control: the walker sees them


def test_details_with_a_failed_integrity_check_say_so() -> None:
    details = make_details(basic4_digest="failed")
    kiosk = Kiosk().to_details_verifying().details(details)
    result = kiosk.state.result
    line = next(c for c in result.checks if c.name == "basic4_digest")
    assert (line.status, line.message_key) == ("failed", "check.basic4_digest.failed")
    assert result.verified is False  # a failed check is never "valid", required or not
    assert result.headline is not None and (result.headline.key, result.headline.tone) == (
        "result.headline.tampered", "bad")  # the failure first, in plain words
    # the altered name and address are not shown at all, and not kept
    assert result.details is None and result.details_withheld and not result.details_offered
    assert kiosk.state.message_key == "result.details_withheld"
    assert details.my_number is None and personal_data_in(kiosk.flow) == set()


def test_hide_details_drops_them() -> None:
    kiosk = Kiosk().to_details_shown()
    old = kiosk.state.session_id
    kiosk.post(HideDetails())
    assert kiosk.screen is Screen.RESULT and kiosk.state.result is not None
    assert kiosk.state.result.details is None and kiosk.state.session_id == old
    assert_nothing_personal(kiosk)
    kiosk.post(ShowDetails())
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.PIN_ENTRY, "pin.card_info")  # the PIN again


@pytest.mark.parametrize("end", [Finish(), Cancel(), CardRemoved(READER), ReaderChanged("service_down")],
                         ids=lambda e: type(e).__name__ + getattr(e, "state", ""))
def test_details_wiped_when_the_session_ends(end: Event) -> None:
    kiosk = Kiosk().to_details_shown()
    assert personal_data_in(kiosk.flow)
    kiosk.post(end)
    card_still_in = isinstance(end, Finish | Cancel)
    assert kiosk.screen is (Screen.TAKE_CARD if card_still_in else Screen.ATTRACT)
    assert_nothing_personal(kiosk)


def test_details_wiped_after_the_idle_timeout() -> None:
    kiosk = Kiosk().to_details_shown().tick(90)
    assert kiosk.screen is Screen.TAKE_CARD
    assert_nothing_personal(kiosk)


def test_wrong_card_info_pin_then_never_mind() -> None:
    kiosk = Kiosk().to_details_verifying()
    kiosk.post(CardFailed(kiosk.jobs.last("details"), errors.WrongPin(0x63C2, 2, "card_info")))
    state = kiosk.state
    assert (state.screen, state.message_key) == (Screen.PIN_ENTRY, "pin.card_info")
    assert state.pin is not None and (state.pin.error_key, state.pin.remaining_tries) == ("pin.wrong", 1)
    kiosk.type("12").post(HideDetails())
    assert kiosk.screen is Screen.RESULT and kiosk.flow.session.entry.count == 0
    kiosk.post(ShowDetails())
    assert kiosk.state.pin is not None and kiosk.state.pin.remaining_tries == 1


def test_details_refused_at_the_last_card_info_try_keep_the_result() -> None:
    kiosk = Kiosk().to_result(card_info=1).post(ShowDetails())
    assert (kiosk.screen, kiosk.state.message_key, kiosk.state.message_args) == (
        Screen.RESULT, "counter.last_try", {"pin": "card_info", "remaining": 1})
    assert kiosk.state.result is not None and not kiosk.state.result.details_offered
    assert kiosk.jobs.pin_requests() == ["verify"]


@pytest.mark.parametrize(("error", "key"), [
    (errors.PinBlocked(0x6984), "counter.blocked"),
    (errors.PinGuardRefused("card_info", 1, "unattended"), "counter.last_try"),
    (errors.WrongPin(0x63C1, 1, "card_info"), "counter.last_try"),
    (errors.ProtocolError("odd"), "error.card_generic"),
])
def test_details_failures_keep_the_result(error: Exception, key: str) -> None:
    kiosk = Kiosk().to_details_verifying()
    kiosk.post(CardFailed(kiosk.jobs.last("details"), error))
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.RESULT, key)
    assert kiosk.state.result is not None and kiosk.state.result.details is None
    if key.startswith("counter."):
        assert kiosk.state.message_args["pin"] == "card_info"


def test_show_details_twice_is_harmless() -> None:
    kiosk = Kiosk().to_details_shown().post(ShowDetails())
    assert kiosk.screen is Screen.RESULT and kiosk.state.result is not None and kiosk.state.result.details


# --- card removal in every screen ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Where:
    screen: Screen
    get_there: Callable[[Kiosk], Kiosk]
    after_removal: Screen
    message: str | None = None
    new_session: bool = True
    keeps_language: bool = False
    card_in: bool = True  # a card is on the reader there (ending the session then asks to take it)


WHERE = {
    # Nothing of a card is on ATTRACT / INSERT_CARD: a removal there wipes, but leaves the next person's
    # language alone (e.g. the previous resident coming back for a card they left in).
    "attract": Where(Screen.ATTRACT, lambda k: k.ready(), Screen.ATTRACT, new_session=False, keeps_language=True,
                     card_in=False),
    "take_card": Where(Screen.TAKE_CARD, lambda k: k.to_result().post(Finish()), Screen.ATTRACT,
                       new_session=False, keeps_language=True),
    "insert_card": Where(Screen.INSERT_CARD, lambda k: k.ready().post(Start()), Screen.INSERT_CARD,
                         new_session=False, keeps_language=True, card_in=False),
    "reading": Where(Screen.READING, lambda k: k.ready().insert(), Screen.INSERT_CARD, "error.card_removed",
                     keeps_language=True),
    "pin_entry": Where(Screen.PIN_ENTRY, lambda k: k.to_pin_entry().type("12"), Screen.INSERT_CARD,
                       "error.card_removed", keeps_language=True),
    "verifying": Where(Screen.VERIFYING, lambda k: k.to_verifying(), Screen.INSERT_CARD, "error.card_removed",
                       keeps_language=True),
    "result": Where(Screen.RESULT, lambda k: k.to_result(), Screen.ATTRACT),
    "card_info_pin": Where(Screen.PIN_ENTRY, lambda k: k.to_card_info_pin().type("56"), Screen.INSERT_CARD,
                           "error.card_removed", keeps_language=True),
    "details_verifying": Where(Screen.VERIFYING, lambda k: k.to_details_verifying(), Screen.INSERT_CARD,
                               "error.card_removed", keeps_language=True),
    "details_shown": Where(Screen.RESULT, lambda k: k.to_details_shown(), Screen.ATTRACT),
    "go_to_counter": Where(Screen.GO_TO_COUNTER, lambda k: k.to_go_to_counter(), Screen.ATTRACT),
    "error": Where(Screen.ERROR, lambda k: k.to_error(), Screen.INSERT_CARD, keeps_language=True),
}


def test_every_card_check_screen_is_covered() -> None:
    """The card check's screens (the application's have their own tests, tests/core/test_application_flow.py)."""
    card_check = {Screen.ATTRACT, Screen.TAKE_CARD, Screen.INSERT_CARD, Screen.READING, Screen.PIN_ENTRY,
                  Screen.VERIFYING, Screen.RESULT, Screen.GO_TO_COUNTER, Screen.ERROR}
    assert {where.screen for where in WHERE.values()} == card_check


@pytest.mark.parametrize("name", WHERE)
def test_card_removal_in_every_screen(name: str) -> None:
    where = WHERE[name]
    kiosk = where.get_there(Kiosk())
    assert kiosk.screen is where.screen
    kiosk.post(LanguageChosen("en"))
    old = kiosk.state.session_id
    kiosk.post(CardRemoved(READER))
    state = kiosk.state
    assert (state.screen, state.message_key) == (where.after_removal, where.message)
    assert state.session_id == (old + 1 if where.new_session else old)
    assert state.language == ("en" if where.keeps_language else "ja")
    assert state.busy is False and state.pin is None and state.result is None
    assert state.reader is ReaderState.READY
    assert_nothing_personal(kiosk)


def test_an_abandoned_put_it_back_screen_times_out_to_the_defaults() -> None:
    kiosk = Kiosk().to_pin_entry().post(LanguageChosen("es"), CardRemoved(READER))
    assert (kiosk.screen, kiosk.state.language) == (Screen.INSERT_CARD, "es")
    kiosk.tick(90)
    assert (kiosk.screen, kiosk.state.language, kiosk.state.message_key) == (Screen.ATTRACT, "ja", None)


def test_cancel_on_an_idle_attract_screen_changes_nothing() -> None:
    kiosk = Kiosk().ready()
    before = kiosk.state
    kiosk.post(Cancel())
    assert kiosk.state is before


@pytest.mark.parametrize("name", ["reading", "pin_entry", "verifying", "details_verifying"])
def test_an_operation_finding_the_card_gone_ends_the_session(name: str) -> None:
    get_there = {"pin_entry": lambda k: k.ready().insert().card_ready().type("12")}.get(name, WHERE[name].get_there)
    kiosk = get_there(Kiosk())
    kind = {"reading": "card", "pin_entry": "prefetch", "verifying": "verify"}.get(name, "details")
    kiosk.fail(kind, errors.CardRemoved("pulled"))
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.INSERT_CARD, "error.card_removed")
    kiosk.post(CardRemoved(READER))  # the watcher's word arrives after: nothing changes
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.INSERT_CARD, "error.card_removed")
    assert_nothing_personal(kiosk)


def test_results_of_a_removed_card_are_dropped_and_wiped() -> None:
    kiosk = Kiosk().to_details_verifying()
    details_job = kiosk.jobs.last("details")
    old_card_job = kiosk.jobs.last("card")
    kiosk.post(CardRemoved(READER)).insert(insertion=2)
    late = make_details()
    kiosk.post(CardResult(details_job, late), CardFailed(old_card_job, errors.CardRemoved("old")))
    assert kiosk.screen is Screen.READING
    assert late.my_number is None and late.basic4 is None
    kiosk.card_ready()
    assert kiosk.screen is Screen.PIN_ENTRY
    assert_nothing_personal(kiosk)


def test_verdict_arriving_after_cancel_is_wiped() -> None:
    kiosk = Kiosk().to_verifying()
    ticket = kiosk.jobs.last("verify")
    kiosk.post(Cancel())
    verdict = make_verdict()
    kiosk.post(CardResult(ticket, verdict))
    assert kiosk.screen is Screen.TAKE_CARD and verdict.my_number is None


def test_results_for_tickets_nobody_waits_for_are_ignored() -> None:
    kiosk = Kiosk().ready().insert()
    kiosk.post(CardResult(kiosk.jobs.last("card") - 1, CardReady(PinStatus("auth", 3, 3))))
    assert kiosk.screen is Screen.READING


# --- cancel -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", WHERE)
def test_cancel_from_every_screen(name: str) -> None:
    where = WHERE[name]
    kiosk = where.get_there(Kiosk())
    if where.screen is Screen.TAKE_CARD:
        before = kiosk.state.session_id
        kiosk.post(Cancel())
        assert (kiosk.screen, kiosk.state.session_id) == (Screen.TAKE_CARD, before)  # already over
        return
    kiosk.post(LanguageChosen("en"), ToggleLargeText(), CallStaff(), Cancel())
    state = kiosk.state
    assert (state.screen, state.language, state.large_text, state.staff_called, state.idle_warning) == (
        Screen.TAKE_CARD if where.card_in else Screen.ATTRACT, "ja", False, False, None)
    assert_nothing_personal(kiosk)


# --- time ---------------------------------------------------------------------------------------------------------


def test_idle_warning_more_time_and_extension() -> None:
    kiosk = Kiosk().to_result().tick(69)
    assert kiosk.state.idle_warning is None
    kiosk.tick(1)
    assert kiosk.state.idle_warning == 20
    kiosk.tick(5)
    assert kiosk.state.idle_warning == 15
    kiosk.post(MoreTime())
    assert kiosk.state.idle_warning is None
    kiosk.tick(69)
    assert kiosk.screen is Screen.RESULT and kiosk.state.idle_warning is None  # extended: a full period again
    kiosk.tick(20)
    assert kiosk.screen is Screen.RESULT and kiosk.state.idle_warning == 1
    kiosk.tick(1)
    assert kiosk.screen is Screen.TAKE_CARD and kiosk.state.idle_warning is None  # the card is still in


def test_any_activity_also_postpones_the_end() -> None:
    kiosk = Kiosk().to_pin_entry().tick(75)
    assert kiosk.state.idle_warning == 15
    kiosk.type("1")
    assert kiosk.state.idle_warning is None


def test_idle_timeout_wipes_and_resets() -> None:
    kiosk = Kiosk().to_pin_entry().post(LanguageChosen("ko"), ToggleHighContrast()).type("12")
    old = kiosk.state.session_id
    kiosk.tick(59).post(Touched()).tick(90)  # a touch restarted the idle period; the PIN timer ran out already
    state = kiosk.state
    assert (state.screen, state.language, state.high_contrast, state.session_id) == (
        Screen.TAKE_CARD, "ja", False, old + 1)
    assert_nothing_personal(kiosk)


def test_no_idle_timer_on_an_untouched_attract_screen() -> None:
    kiosk = Kiosk().ready().tick(10_000)
    assert kiosk.screen is Screen.ATTRACT and kiosk.state.idle_warning is None and kiosk.state.session_id == 1


def test_a_language_chosen_on_attract_times_out_too() -> None:
    kiosk = Kiosk().ready().post(LanguageChosen("pt-BR")).tick(70)
    assert (kiosk.screen, kiosk.state.idle_warning) == (Screen.ATTRACT, 20)
    kiosk.tick(20)
    assert (kiosk.state.language, kiosk.state.idle_warning, kiosk.state.session_id) == ("ja", None, 2)


def test_idle_timer_paused_while_the_card_works() -> None:
    kiosk = Kiosk().ready().insert().tick(29)
    assert (kiosk.screen, kiosk.state.idle_warning) == (Screen.READING, None)
    kiosk.card_ready().tick(69)
    assert (kiosk.screen, kiosk.state.idle_warning) == (Screen.PIN_ENTRY, None)  # the full period after the job


def test_pin_entry_timeout_clears_the_digits_but_keeps_the_session() -> None:
    kiosk = Kiosk().to_pin_entry().type("12").post(ToggleShowPin()).tick(59)
    assert kiosk.state.pin is not None and kiosk.state.pin.entered == 2
    kiosk.tick(1)
    state = kiosk.state
    assert state.screen is Screen.PIN_ENTRY and state.pin is not None
    assert (state.pin.entered, state.pin.shown, state.pin.error_key) == (0, None, "pin.timeout")
    assert not kiosk.flow.session.entry.holds_anything()
    kiosk.type("1")
    assert kiosk.state.pin is not None and kiosk.state.pin.error_key is None


@pytest.mark.parametrize("name", ["reading", "verifying"])
def test_card_operation_timeout(name: str) -> None:
    kiosk = WHERE[name].get_there(Kiosk())
    verify_job = kiosk.jobs.last("verify") if name == "verifying" else None
    kiosk.tick(29.9)
    assert kiosk.screen is WHERE[name].screen
    kiosk.tick(0.1)
    assert (kiosk.screen, kiosk.state.message_key, kiosk.state.busy) == (Screen.ERROR, "error.timeout", False)
    kiosk.card_ready()
    if verify_job is not None:
        late = make_verdict()
        kiosk.post(CardResult(verify_job, late))
        assert late.my_number is None  # dropped and wiped
    assert kiosk.screen is Screen.ERROR  # late answers are stale


def test_details_timeout_keeps_the_result() -> None:
    kiosk = Kiosk().to_details_verifying().tick(30)
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.RESULT, "error.timeout")
    late = make_details()
    kiosk.details(late)
    assert kiosk.state.result is not None and kiosk.state.result.details is None
    assert late.my_number is None


# --- the reader ---------------------------------------------------------------------------------------------------


def test_reader_lost_and_recovered_mid_check() -> None:
    kiosk = Kiosk().to_pin_entry().type("12").post(LanguageChosen("en"))
    old = kiosk.state.session_id
    kiosk.post(ReaderChanged("reader_lost", READER))
    state = kiosk.state
    assert (state.screen, state.message_key, state.reader) == (Screen.ERROR, "error.reader", ReaderState.READER_LOST)
    assert state.session_id == old + 1 and state.language == "en"
    assert_nothing_personal(kiosk)
    kiosk.ready()
    assert (kiosk.screen, kiosk.state.reader) == (Screen.INSERT_CARD, ReaderState.READY)
    kiosk.insert(insertion=2).card_ready()
    assert kiosk.screen is Screen.PIN_ENTRY


def test_reader_lost_while_reading() -> None:
    kiosk = Kiosk().ready().insert().post(ReaderChanged("service_down"))
    assert (kiosk.screen, kiosk.state.busy, kiosk.state.reader) == (Screen.ERROR, False, ReaderState.SERVICE_DOWN)
    kiosk.card_ready()  # the read that was running: stale
    assert kiosk.screen is Screen.ERROR


def test_reader_lost_on_attract_only_shows_in_the_reader_state() -> None:
    kiosk = Kiosk().ready().post(ReaderChanged("no_reader"))
    assert (kiosk.screen, kiosk.state.reader) == (Screen.ATTRACT, ReaderState.NO_READER)
    kiosk.post(Start())
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.ERROR, "error.reader")
    kiosk.ready()
    assert kiosk.screen is Screen.INSERT_CARD


def test_reader_lost_on_insert_card() -> None:
    kiosk = Kiosk().ready().post(Start(), ReaderChanged("reader_lost"))
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.ERROR, "error.reader")


def test_unknown_reader_state_is_ignored() -> None:
    kiosk = Kiosk().ready().post(ReaderChanged("on_fire"))
    assert kiosk.state.reader is ReaderState.READY


def test_a_recovered_reader_does_not_leave_other_errors() -> None:
    kiosk = Kiosk().to_error().ready()
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.ERROR, "error.not_my_number")


# --- preferences, staff, subscribers ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", WHERE)
def test_language_and_display_toggles_on_every_screen(name: str) -> None:
    kiosk = WHERE[name].get_there(Kiosk())
    screen = kiosk.screen
    kiosk.post(LanguageChosen("en"), ToggleLargeText(), ToggleHighContrast(), ToggleSpeech())
    state = kiosk.state
    assert (state.screen, state.language, state.large_text, state.high_contrast, state.speech) == (
        screen, "en", True, True, False)
    kiosk.post(LanguageChosen("klingon"))
    assert kiosk.state.language == "en"


def test_preferences_survive_the_whole_session_and_reset_at_its_end() -> None:
    kiosk = Kiosk().ready().post(LanguageChosen("vi"), ToggleLargeText(), Start()).insert()
    kiosk.card_ready().type("1234").post(PinSubmit()).verified()
    assert (kiosk.screen, kiosk.state.language, kiosk.state.large_text) == (Screen.RESULT, "vi", True)
    kiosk.post(Finish())
    assert (kiosk.state.language, kiosk.state.large_text, kiosk.state.speech) == ("ja", False, True)


def test_default_language_comes_from_the_configuration() -> None:
    kiosk = Kiosk(KioskConfig(kiosk=KioskSection(languages=("en", "ja"))))
    assert kiosk.state.language == "en"
    kiosk.ready().post(LanguageChosen("ja"), Cancel())
    assert kiosk.state.language == "en"


def test_call_staff() -> None:
    calls: list[bool] = []
    kiosk = Kiosk(staff_caller=calls.append).to_pin_entry().post(CallStaff())
    assert (kiosk.state.staff_called, kiosk.state.staff_call, calls) == (True, "sending", [True])
    kiosk.post(StaffCallUpdated("sent"))
    assert kiosk.state.staff_call == "sent"
    kiosk.type("1234").post(PinSubmit()).verified()
    assert kiosk.state.staff_called  # stays up for the session
    kiosk.post(Finish())
    assert not kiosk.state.staff_called and kiosk.state.staff_call is None


def test_the_resident_can_take_a_staff_call_back() -> None:
    calls: list[bool] = []
    kiosk = Kiosk(staff_caller=calls.append).to_pin_entry().post(CallStaff(), StaffCallUpdated("sent"))
    kiosk.post(CancelStaffCall())
    assert (kiosk.state.staff_called, kiosk.state.staff_call, calls) == (False, None, [True, False])
    kiosk.post(StaffCallUpdated("sent"))  # a late answer for the call taken back changes nothing
    assert kiosk.state.staff_call is None


def test_a_staff_call_that_fails_says_so_and_can_be_tried_again() -> None:
    calls: list[bool] = []
    kiosk = Kiosk(staff_caller=calls.append).ready().post(Start(), CallStaff(), StaffCallUpdated("failed"))
    assert (kiosk.state.staff_call, kiosk.state.staff_called) == ("failed", False)
    kiosk.post(CallStaff())
    assert kiosk.state.staff_call == "sending" and calls == [True, True]


def test_a_failing_staff_call_does_not_break_the_kiosk(caplog: pytest.LogCaptureFixture) -> None:
    def broken(_call: bool) -> None:
        raise OSError("no light")

    kiosk = Kiosk(staff_caller=broken).ready().post(Start(), CallStaff())
    assert kiosk.state.staff_call == "failed" and kiosk.screen is Screen.INSERT_CARD
    assert "calling staff failed" in caplog.text


def test_subscribers_get_each_new_state_once_and_can_leave() -> None:
    kiosk = Kiosk().ready()
    seen: list[Screen] = []
    unsubscribe = kiosk.flow.subscribe(lambda state: seen.append(state.screen))
    kiosk.post(Start(), Start(), MoreTime())  # the second Start and MoreTime change nothing
    assert seen == [Screen.INSERT_CARD]
    unsubscribe()
    kiosk.post(Cancel())
    assert seen == [Screen.INSERT_CARD]


def test_a_failing_subscriber_does_not_stop_the_others() -> None:
    kiosk = Kiosk().ready()

    def broken(_state: ViewState) -> None:
        raise RuntimeError("ui bug")

    kiosk.flow.subscribe(broken)
    kiosk.post(Start())
    assert kiosk.states[-1].screen is Screen.INSERT_CARD and kiosk.screen is Screen.INSERT_CARD


def test_events_of_other_flows_are_ignored() -> None:
    kiosk = Kiosk().ready()
    before = kiosk.state
    kiosk.post(Event())
    assert kiosk.state is before


def test_view_states_are_immutable() -> None:
    state = Kiosk().state
    with pytest.raises(AttributeError):
        state.screen = Screen.RESULT  # type: ignore[misc]


def test_a_card_job_that_cannot_start_is_an_error() -> None:
    kiosk = Kiosk().to_pin_entry().type("1234")

    def refuse(operation: object, *, insertion: int) -> int:
        raise RuntimeError("the card service is stopped")

    kiosk.jobs.submit = refuse  # type: ignore[method-assign]
    kiosk.post(PinSubmit())
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.ERROR, "error.card_generic")
    assert not kiosk.flow.session.entry.holds_anything()


def test_works_with_a_dispatcher_built_around_the_flow() -> None:
    """The UI's dispatcher has only ``post`` and is made from ``flow.handle`` after the flow exists."""

    class PostOnly:
        def __init__(self) -> None:
            self.target: Callable[[Event], None] | None = None

        def post(self, event: Event) -> None:
            assert self.target is not None
            self.target(event)

    dispatcher = PostOnly()
    flow = Shell(dispatcher, FakeCardJobs(SyncDispatcher()), FakeClock(), CONFIG, flows={CARD_CHECK: CardCheckFlow})
    dispatcher.target = flow.handle
    dispatcher.post(ReaderChanged("ready", READER))
    dispatcher.post(Start())
    assert flow.state.screen is Screen.INSERT_CARD


def test_connecting_the_flow_again_does_not_double_events() -> None:
    kiosk = Kiosk().ready()
    kiosk.dispatcher.connect(kiosk.flow.handle)
    kiosk.post(ToggleLargeText())
    assert kiosk.state.large_text


# --- a card whose certificate failed never gets a PIN -----------------------------------------------------------------


def test_a_failed_certificate_closes_the_pad_and_no_pin_is_sent() -> None:
    kiosk = Kiosk().ready().insert().card_ready().type("12").prefetched(failed=True)
    result = kiosk.state.result
    assert kiosk.screen is Screen.RESULT and result is not None and not result.verified
    assert result.headline is not None and result.headline.key == "result.headline.issuer_unknown"
    assert not result.details_offered
    kiosk.post(ShowDetails())
    assert kiosk.screen is Screen.RESULT and kiosk.jobs.pin_requests() == []
    assert not kiosk.flow.session.entry.holds_anything()  # the half-typed PIN is gone too


def test_a_failed_certificate_found_before_recognition_finished_goes_straight_to_the_result() -> None:
    kiosk = Kiosk().ready().insert().prefetched(failed=True)
    assert kiosk.screen is Screen.READING
    kiosk.card_ready()
    assert kiosk.screen is Screen.RESULT and kiosk.state.pin is None
    assert kiosk.jobs.pin_requests() == []


def test_the_result_gives_the_certificates_expiry_and_after_the_details_the_cards_own() -> None:
    """Expiry guidance after a card read: the auth certificate's last day and its renewal date always; the
    card's own expiry once the details opened the card face."""
    kiosk = Kiosk().to_result()
    result = kiosk.state.result
    assert result is not None
    assert [(line.item, line.expires, line.state, line.renewal_from) for line in result.expiries] == [
        ("auth_certificate", "2029-04-01", "valid", "2028-12-31")]  # NOT_AFTER is 1 April in Japan
    details = make_details()
    details.card_expiry = date(2035, 5, 31)
    kiosk.post(ShowDetails()).type("5678").post(PinSubmit()).details(details)
    shown = kiosk.state.result
    assert shown is not None
    assert [(line.item, line.expires, line.state) for line in shown.expiries][1] == ("card", "2035-05-31", "valid")
    assert shown.expiries[1].renewal_from == "2035-02-28"  # three calendar months before, clamped to February


# --- out of service (an operator disabled the kiosk) ----------------------------------------------------------


def test_out_of_service_the_attract_screen_says_so_and_nothing_starts() -> None:
    kiosk = Kiosk().ready().post(ServiceChanged(False))
    assert (kiosk.screen, kiosk.state.message_key, kiosk.state.tasks) == (Screen.ATTRACT, OUT_OF_SERVICE, ())
    kiosk.post(Touched(), Start()).insert()
    assert kiosk.screen is Screen.ATTRACT and kiosk.jobs.requests == []  # no card work, no session
    assert kiosk.state.reader is ReaderState.CARD_PRESENT
    kiosk.post(CallStaff())
    assert kiosk.state.staff_called  # a resident can still get help
    kiosk.post(ServiceChanged(True))
    assert (kiosk.state.message_key, kiosk.state.tasks) == (None, (CARD_CHECK,))
    kiosk.post(Start())
    assert kiosk.screen is not Screen.ATTRACT


def test_a_session_under_way_finishes_and_the_next_one_is_refused() -> None:
    kiosk = Kiosk().to_pin_entry().post(ServiceChanged(False))
    assert kiosk.screen is Screen.PIN_ENTRY  # the resident is not cut off
    kiosk.type("1234").post(PinSubmit()).verified()
    assert kiosk.screen is Screen.RESULT
    kiosk.post(CardRemoved(READER))
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.ATTRACT, OUT_OF_SERVICE)
