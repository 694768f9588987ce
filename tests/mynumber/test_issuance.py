"""A new card's first PINs through the driver (drivers/mynumber/issuance.py) over the simulated card.

What a resident at the pickup counter can observe: which PINs are still to choose, each PIN set or not
after a pulled card, a refusal before anything is sent, and that no PIN outlives the operation (buffers,
traces, logs).
"""

from __future__ import annotations

import logging
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from drivers import errors
from drivers.mynumber import aids
from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.issuance import InitialPins, Outcome, issuance_status, set_initial_pins
from drivers.mynumber.pinpolicy import ATTENDED, UNATTENDED
from drivers.mynumber.verifier import CardVerifier
from drivers.sim.card import SimulatedCard
from drivers.sim.faults import FaultPlan, FaultyCard
from drivers.sim.profile import load_card_image
from drivers.sim.transport import SimTransport
from tests.conftest import REPO
from tests.mynumber.verification_support import trust_store

CARDS = REPO / "config" / "cards"
CHOSEN = {"auth": "8642", "card_info": "3197", "juki": "5028", "sign": "PICKUP2025"}
DIGEST_INFO = bytes.fromhex("3031300D060960864801650304020105000420") + bytes(32)
REFS = {ref.key: ref for ref in aids.RESIDENT_PINS}


@cache
def image(name: str):
    return load_card_image(CARDS / f"{name}.toml")


@dataclass
class Bench:
    simulated: SimulatedCard
    card: MyNumberCard
    trace: list[str] = field(default_factory=list)

    def is_set(self, name: str) -> bool:
        ref = REFS[name]
        return self.simulated.pin(ref.application.key, ref.fid).is_set

    def counters(self) -> dict[str, int]:
        return {name: self.simulated.pin(ref.application.key, ref.fid).remaining for name, ref in REFS.items()}


def bench(name: str = "new-card", *, simulated: SimulatedCard | None = None, plan: FaultPlan | None = None) -> Bench:
    simulated = simulated or SimulatedCard(image(name))
    icc = FaultyCard(simulated, plan) if plan is not None else simulated
    trace: list[str] = []
    card = MyNumberCard(SimTransport(icc), trace=lambda out, _in: trace.append(out))
    return Bench(simulated, card, trace)


def buffers(names: tuple[str, ...] = ("auth", "card_info", "juki", "sign")) -> dict[str, bytearray]:
    return {name: bytearray(CHOSEN[name].encode()) for name in names}


def wiped(buffer: bytearray) -> bool:
    return len(buffer) > 0 and buffer == bytearray(len(buffer))


def pin_commands(trace: list[str]) -> list[str]:
    """VERIFY with data or CHANGE REFERENCE DATA: the commands that carry a PIN."""
    return [line for line in trace if line.startswith("00 24") or (line.startswith("00 20") and len(line) > 11)]


def right_pin_works(card: MyNumberCard, name: str, value: str) -> None:
    if name == "auth":
        card.jpki.sign_with_auth_key(DIGEST_INFO, value)
    elif name == "sign":
        card.jpki.read_sign_certificate(value)
    elif name == "card_info":
        card.card_info.read(value, integrity=False)
    else:
        card.juki.verify(aids.JUKI_PIN, value)


# --- what is still to set ------------------------------------------------------------------------------


def test_a_new_card_reports_every_pin_unset_without_spending_a_try() -> None:
    at = bench()
    status = issuance_status(at.card)
    assert status.new_card
    assert set(status.unset) == {"auth", "sign", "card_info", "juki"} and status.already_set == ()
    assert [ref.key for ref in status.to_set] == ["sign", "auth", "juki", "card_info"]  # the counter's order
    assert pin_commands(at.trace) == []
    assert at.counters() == {"auth": 3, "sign": 5, "card_info": 3, "juki": 3}
    assert at.card.apdu_count == 10


def test_a_childs_new_card_asks_for_three_pins() -> None:
    status = issuance_status(bench("new-card-child").card)
    assert [ref.key for ref in status.to_set] == ["auth", "juki", "card_info"]
    assert status.new_card and status.status("sign").not_set and not status.status("sign").settable


def test_a_card_in_use_is_not_a_new_card() -> None:
    status = issuance_status(bench("adult").card)
    assert not status.new_card and status.to_set == () and len(status.already_set) == 4


# --- setting them --------------------------------------------------------------------------------------


def test_all_four_are_set_and_each_then_opens_its_application() -> None:
    at = bench()
    given = buffers()
    result = set_initial_pins(at.card, InitialPins(**given))
    assert result.complete and not result.card_removed
    assert [(pin.name, pin.outcome) for pin in result.pins] == [
        ("sign", Outcome.SET), ("auth", Outcome.SET), ("juki", Outcome.SET), ("card_info", Outcome.SET)]
    assert all(wiped(buffer) for buffer in given.values())
    assert result.apdu_count == 21  # 10 retry queries (with SELECTs), then SELECT(s) + CHANGE per PIN
    assert len([line for line in at.trace if line.startswith("00 24 01 80")]) == 4
    after = bench(simulated=at.simulated)
    assert issuance_status(after.card).unset == ()
    for name, value in CHOSEN.items():
        right_pin_works(after.card, name, value)
    assert after.counters() == {"auth": 3, "sign": 5, "card_info": 3, "juki": 3}


def test_a_child_gets_three_pins_and_no_sign_password() -> None:
    at = bench("new-card-child")
    result = set_initial_pins(at.card, InitialPins(**buffers(("auth", "card_info", "juki"))))
    assert result.complete and result.set_pins == ("auth", "juki", "card_info")
    assert not at.is_set("sign")
    assert issuance_status(bench(simulated=at.simulated).card).unset == ()


def test_a_sign_password_for_a_child_is_refused_before_any_pin_is_sent() -> None:
    at = bench("new-card-child")
    given = buffers()
    with pytest.raises(errors.IssuanceRefused) as refused:
        set_initial_pins(at.card, InitialPins(**given))
    assert (refused.value.reason, refused.value.pin_name) == ("no_sign_pin_on_card", "sign")
    assert pin_commands(at.trace) == []
    assert not any(at.is_set(name) for name in REFS)
    assert all(wiped(buffer) for buffer in given.values())


def test_an_adult_may_leave_the_sign_password_for_later() -> None:
    at = bench()
    result = set_initial_pins(at.card, InitialPins(**buffers(("auth", "card_info", "juki"))))
    assert result.complete and not at.is_set("sign")
    assert issuance_status(bench(simulated=at.simulated).card).unset == ("sign",)


def test_one_pin_for_the_three_four_digit_pins() -> None:
    at = bench()
    four = bytearray(b"7410")
    result = set_initial_pins(at.card, InitialPins.one_for_three(four, sign="ONEPIN4U"))
    assert wiped(four) and result.complete
    after = bench(simulated=at.simulated)
    for name in ("auth", "card_info", "juki"):
        right_pin_works(after.card, name, "7410")
    right_pin_works(after.card, "sign", "ONEPIN4U")


def test_the_same_buffer_given_for_several_pins_sets_each_of_them() -> None:
    at = bench()
    shared = bytearray(b"7410")
    result = set_initial_pins(at.card, InitialPins(auth=shared, card_info=shared, juki=shared))
    assert result.complete and wiped(shared)
    right_pin_works(bench(simulated=at.simulated).card, "juki", "7410")


def test_the_sign_password_is_upper_cased_as_every_tool_does() -> None:
    at = bench()
    assert set_initial_pins(at.card, InitialPins(sign="pickup2025")).complete
    right_pin_works(bench(simulated=at.simulated).card, "sign", "PICKUP2025")


# --- refusals before the card -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "bad"), [
    ("auth", "864"), ("auth", "86421"), ("card_info", "31a7"), ("juki", " "),
    ("sign", "PICKUP"),  # no digit
    ("sign", "20252025"),  # no letter
    ("sign", "AB12"),  # too short
    ("sign", "A1" * 9),  # too long
    ("sign", "PICK-UP25"),
])
def test_a_malformed_pin_never_reaches_the_card(name: str, bad: str) -> None:
    at = bench()
    given = buffers()
    given[name] = bytearray(bad.encode())
    with pytest.raises(errors.PinFormatInvalid) as refused:
        set_initial_pins(at.card, InitialPins(**given))
    assert refused.value.pin_name == name
    assert at.trace == [] and at.card.apdu_count == 0
    assert all(wiped(buffer) for buffer in given.values())


def test_a_card_in_use_is_refused_with_no_apdu_carrying_a_pin() -> None:
    at = bench("adult")
    before = at.counters()
    given = buffers()
    with pytest.raises(errors.IssuanceRefused) as refused:
        set_initial_pins(at.card, InitialPins(**given))
    assert refused.value.reason == "already_set"
    assert pin_commands(at.trace) == []
    assert at.counters() == before
    assert all(wiped(buffer) for buffer in given.values())


def test_one_pin_set_before_refuses_the_whole_request_and_the_rest_can_follow() -> None:
    at = bench()
    assert set_initial_pins(at.card, InitialPins(auth="1470")).complete
    again = bench(simulated=at.simulated)
    with pytest.raises(errors.IssuanceRefused) as refused:
        set_initial_pins(again.card, InitialPins(**buffers()))
    assert (refused.value.reason, refused.value.pin_name) == ("already_set", "auth")
    assert pin_commands(again.trace) == []
    assert not any(again.is_set(name) for name in ("sign", "card_info", "juki"))
    rest = issuance_status(again.card).to_set
    result = set_initial_pins(again.card, InitialPins(**buffers(tuple(ref.key for ref in rest))))
    assert result.complete
    right_pin_works(bench(simulated=at.simulated).card, "auth", "1470")  # untouched by the second request


def test_nothing_to_set_is_a_caller_error() -> None:
    with pytest.raises(ValueError, match="no PIN to set"):
        set_initial_pins(bench().card, InitialPins())


# --- a card pulled mid-way ----------------------------------------------------------------------------


@cache
def full_run_trace() -> tuple[str, ...]:
    at = bench()
    set_initial_pins(at.card, InitialPins(**buffers()))
    return tuple(at.trace)


@pytest.mark.parametrize("position", range(1, 22))
def test_a_card_pulled_at_any_apdu_reports_exactly_what_was_set(position: int) -> None:
    assert len(full_run_trace()) == 21  # the parameter range covers every APDU of the run
    at = bench(plan=FaultPlan(remove_at=position))
    given = buffers()
    result = set_initial_pins(at.card, InitialPins(**given))
    assert result.card_removed and not result.complete
    assert all(wiped(buffer) for buffer in given.values())
    for pin in result.pins:
        if pin.outcome is Outcome.SET:
            assert at.is_set(pin.name), (position, pin)
        elif pin.outcome is Outcome.NOT_SET:
            assert not at.is_set(pin.name) and pin.reason == "card_removed", (position, pin)
        else:  # its command was on the way: unknown to the driver; here the card never got it
            assert pin.reason == "card_removed" and not at.is_set(pin.name), (position, pin)
    # "failed" exactly when the pulled APDU was a PIN's CHANGE REFERENCE DATA (its fate is unknown)
    in_flight = full_run_trace()[position - 1].startswith("00 24")
    assert len([pin for pin in result.pins if pin.outcome is Outcome.FAILED]) == int(in_flight), position
    set_on_card = {name for name in REFS if at.is_set(name)}
    assert set(result.set_pins) == set_on_card, position
    # re-inserted, the card tells the same story and takes the rest
    again = bench(simulated=at.simulated)
    status = issuance_status(again.card)
    assert set(status.already_set) == set_on_card
    rest = tuple(ref.key for ref in status.to_set)
    assert set_initial_pins(again.card, InitialPins(**buffers(rest))).complete
    assert all(again.is_set(name) for name in REFS)


class TimesOutOnce(SimTransport):
    """A reader that loses one answer (the card stays in): the driver must stop there, not carry on."""

    def __init__(self, card: SimulatedCard, at: int) -> None:
        super().__init__(card)
        self.count, self.at = 0, at

    def transmit(self, command: bytes) -> bytes:
        self.count += 1
        if self.count == self.at:
            raise errors.ReaderTimeout("no answer in time")
        return super().transmit(command)


@pytest.mark.parametrize(("position", "first"), [(11, Outcome.NOT_SET), (13, Outcome.FAILED)],
                         ids=["at-select", "at-change"])
def test_after_a_reader_timeout_nothing_more_is_sent(position: int, first: Outcome) -> None:
    simulated = SimulatedCard(image("new-card"))
    trace: list[str] = []
    card = MyNumberCard(TimesOutOnce(simulated, position), trace=lambda out, _in: trace.append(out))
    result = set_initial_pins(card, InitialPins(**buffers()))
    assert [(pin.outcome, pin.reason) for pin in result.pins] == [(first, "reader_timeout")] + [
        (Outcome.NOT_SET, "reader_timeout")] * 3
    assert len(trace) == position - 1  # not one APDU after the lost answer
    assert not any(simulated.pin(ref.application.key, ref.fid).is_set for ref in REFS.values())


# --- no PIN outlives the operation ------------------------------------------------------------------


def test_no_pin_in_traces_logs_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    at = bench()
    pins = InitialPins(**{name: value for name, value in CHOSEN.items()})
    shown = repr(pins)
    result = set_initial_pins(at.card, pins)
    assert result.complete
    text = "\n".join(at.trace) + caplog.text + shown + repr(result)
    for value in CHOSEN.values():
        assert value not in text
        assert value.encode().hex(" ").upper() not in text
    assert "<4 bytes redacted>" in "\n".join(at.trace)


# --- the rest of the driver with an unset PIN --------------------------------------------------------


@pytest.mark.parametrize("policy", [UNATTENDED, ATTENDED], ids=lambda p: p.name)
def test_pin_statuses_show_not_set_and_nothing_usable(policy) -> None:
    at = bench()
    for status in at.card.pin_statuses():
        assert status.not_set and status.settable and not status.blocked
        assert policy.usable_tries(status) == 0


def test_the_verifier_checks_a_new_card_and_refuses_to_send_a_pin(tmp_path: Path) -> None:
    at = bench()
    verifier = CardVerifier(at.card, trust_store(tmp_path))
    assert not verifier.certificate_failed  # a genuine new card: chain, validity and key usage pass
    with pytest.raises(errors.PinNotSet) as refused:
        verifier.verify("1234")
    assert refused.value.pin_name == "auth"
    with pytest.raises(errors.PinNotSet):
        at.card.card_info.read("1234")
    with pytest.raises(errors.PinNotSet):  # not "no signing certificate": the card has one
        at.card.jpki.read_sign_certificate("SIGN1234")
    assert pin_commands(at.trace) == [] and not any(line.startswith("80 2A") for line in at.trace)
    assert at.counters() == {"auth": 3, "sign": 5, "card_info": 3, "juki": 3}


def test_kiosk_card_pins_says_not_set() -> None:
    kiosk = Path(sys.executable).with_name("kiosk")
    shown = subprocess.run([str(kiosk), "card", "pins", "--sim", str(CARDS / "new-card-child.toml")],
                           capture_output=True, text=True, timeout=120, check=True, stdin=subprocess.DEVNULL)
    lines = dict(line.strip().split(": ", 1) for line in shown.stdout.splitlines())
    assert lines == {"auth": "not set (new card)", "sign": "never set", "card_info": "not set (new card)",
                     "juki": "not set (new card)"}
