"""The PIN services' card operations on the simulated card (the real driver over the simulator's transport):
the tries of the four PINs without spending one, a change of each PIN confirmed by the card and by its
counter, every refusal before the card is touched, and a card pulled before, during or after the change
command — "not changed", "unknown", never a guess."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

from drivers import errors
from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.pinchange import ChangeOutcome
from drivers.mynumber.pinpolicy import UNATTENDED, PinPolicy
from drivers.mynumber.trust import TrustStore
from drivers.mynumber.verifier import CardVerifier
from drivers.sim.card import SimulatedCard
from drivers.sim.faults import CardPulled, FaultPlan, FaultyCard, Icc, IccWrapper
from drivers.sim.transport import SimTransport
from kiosk.core.flows.pin_services.operations import REFS, ChangePins, PinChangeReport, ReadPinStatuses
from tests.mynumber.verification_support import image_of, trust_store

# Synthetic PINs, chosen so that neither they nor their hex encoding occur in ordinary log or trace text.
CURRENT = {"auth": "7351", "sign": "QX7Z93KD", "card_info": "6294", "juki": "8517"}
NEW = {"auth": "4093", "sign": "ZK48MV2Q", "card_info": "3608", "juki": "5172"}
PINS = ("auth", "sign", "card_info", "juki")


class LoseAnswerAt(IccWrapper):
    """A card that applies the n-th command and then leaves before answering: the truly unknown case."""

    def __init__(self, card: Icc, at: int) -> None:
        super().__init__(card)
        self.at, self.count = at, 0

    def process(self, command: bytes) -> bytes:
        self.count += 1
        if self.count > self.at:
            raise CardPulled("gone")
        answer = self.card.process(command)
        if self.count == self.at:
            raise CardPulled("answer lost")
        return answer


@dataclass
class Bench:
    """A simulated card with our synthetic PINs, the driver over it, and the APDU trace."""

    simulated: SimulatedCard
    card: MyNumberCard
    trace: list[str] = field(default_factory=list)
    verifier: CardVerifier | None = None  # the certificate's expiry for the guidance (OpenCard shape)

    def pin(self, name: str):
        ref = REFS[name]
        return self.simulated.pin(ref.application.key, ref.fid)

    def accepts(self, name: str, value: str) -> bool:
        return self.pin(name).matches(value.encode("ascii"))

    def pin_commands(self) -> list[str]:
        """VERIFY commands that carried a PIN, and every CHANGE REFERENCE DATA."""
        return [line for line in self.trace if (line.startswith("00 20 ") and "redacted" in line)
                or line.startswith("00 24 ")]


def simulated_card(remaining: dict[str, int] | None = None) -> SimulatedCard:
    simulated = SimulatedCard(image_of("adult"))
    for name, value in CURRENT.items():
        ref = REFS[name]
        state = simulated.pin(ref.application.key, ref.fid)
        state.set_value(value.encode("ascii"), salt=b"s" * 16)
        if remaining and name in remaining:
            state.restore(remaining[name], None)
    return simulated


def bench(*, remaining: dict[str, int] | None = None, wrap: Callable[[Icc], Icc] | None = None,
          policy: PinPolicy = UNATTENDED, simulated: SimulatedCard | None = None) -> Bench:
    simulated = simulated or simulated_card(remaining)
    trace: list[str] = []
    icc = wrap(simulated) if wrap else simulated
    card = MyNumberCard(SimTransport(icc), policy, trace=lambda out, answer: trace.append(f"{out} -> {answer}"))
    return Bench(simulated, card, trace, CardVerifier(card, shared_trust()))


@cache
def shared_trust() -> TrustStore:
    return trust_store(Path(tempfile.mkdtemp(prefix="pin-services-trust-")))


def change(*names: str, new: str | None = None, current: dict[str, str] | None = None) -> ChangePins:
    current = current or CURRENT
    chosen = {name: NEW[name] if new is None else new for name in names}
    return ChangePins(tuple((name, bytearray(current[name].encode()), bytearray(chosen[name].encode()))
                            for name in names))


def command_numbers(names: tuple[str, ...], new: str | None = None) -> dict[str, list[int]]:
    """APDU numbers (from 1) of each PIN VERIFY and CHANGE in a clean run of ``change(*names)``."""
    probe = bench()
    change(*names, new=new).run(probe)
    seen = probe.trace
    return {"verify": [i + 1 for i, line in enumerate(seen) if line.startswith("00 20 ") and "redacted" in line],
            "change": [i + 1 for i, line in enumerate(seen) if line.startswith("00 24 ")]}


# --- the tries ----------------------------------------------------------------------------------------------


def test_the_four_pins_tries_are_read_without_spending_one() -> None:
    at = bench(remaining={"sign": 2})
    statuses = {s.name: s for s in ReadPinStatuses().run(at).pins}
    assert {name: (s.remaining, s.maximum, s.blocked) for name, s in statuses.items()} == {
        "auth": (3, 3, False), "sign": (2, 5, False), "card_info": (3, 3, False), "juki": (3, 3, False)}
    assert at.pin_commands() == []
    again = len(at.trace)
    ReadPinStatuses().run(at)
    assert len(at.trace) == again  # read once per card session, then known


# --- a change of each PIN -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PINS)
def test_each_pin_is_changed_confirmed_by_the_card_and_its_counter(name: str) -> None:
    at = bench()
    operation = change(name)
    report = operation.run(at)
    assert isinstance(report, PinChangeReport)
    (result,) = report.results
    assert result.outcome is ChangeOutcome.CHANGED and result.reason is None
    assert result.status is not None and result.status.remaining == result.status.maximum == REFS[name].maximum
    assert at.accepts(name, NEW[name]) and not at.accepts(name, CURRENT[name])
    assert [line.split(" -> ")[1] for line in at.pin_commands()] == ["0 bytes, SW=9000"] * 2  # VERIFY, CHANGE
    assert all(not any(current) and not any(new) for _, current, new in operation.changes)
    others = [other for other in PINS if other != name]
    assert all(at.accepts(other, CURRENT[other]) for other in others)


def test_one_new_pin_for_the_three_four_digit_pins() -> None:
    at = bench()
    report = change("auth", "card_info", "juki", new="2580").run(at)
    assert [(r.name, r.outcome) for r in report.results] == [
        ("auth", ChangeOutcome.CHANGED), ("card_info", ChangeOutcome.CHANGED), ("juki", ChangeOutcome.CHANGED)]
    assert all(at.accepts(name, "2580") for name in ("auth", "card_info", "juki"))
    assert at.accepts("sign", CURRENT["sign"])


@pytest.mark.parametrize(("name", "new"), [("auth", "123"), ("auth", "12a4"), ("sign", "ABCDEFGH"),
                                           ("sign", "12345678"), ("sign", "AB1"), ("card_info", "12345"),
                                           ("juki", "")])
def test_a_wrong_format_new_pin_never_reaches_the_card(name: str, new: str) -> None:
    at = bench()
    operation = change(name, new=new)
    with pytest.raises(errors.PinFormatInvalid):
        operation.run(at)
    assert at.trace == []  # not a single APDU
    assert all(not any(current) and not any(buffer) for _, current, buffer in operation.changes)


def test_a_wrong_current_pin_changes_nothing_and_says_how_many_tries_are_left() -> None:
    at = bench()
    report = change("card_info", current={"card_info": "0000"}).run(at)
    (result,) = report.results
    assert (result.outcome, result.reason, result.remaining) == (ChangeOutcome.NOT_CHANGED, "wrong_pin", 2)
    assert at.accepts("card_info", CURRENT["card_info"]) and at.pin("card_info").remaining == 2


@pytest.mark.parametrize("name", PINS)
def test_the_last_try_is_never_spent_on_an_unattended_kiosk(name: str) -> None:
    at = bench(remaining={name: 1})
    (result,) = change(name).run(at).results
    assert (result.outcome, result.reason) == (ChangeOutcome.NOT_CHANGED, errors.PinGuardRefused.code)
    assert at.pin_commands() == [] and at.pin(name).remaining == 1


def test_a_blocked_pin_is_not_sent() -> None:
    at = bench(remaining={"sign": 0})
    (result,) = change("sign").run(at).results
    assert result.outcome is ChangeOutcome.NOT_CHANGED and at.pin_commands() == []


# --- the card pulled ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", PINS)
def test_pulled_before_the_change_command_the_old_pin_stands(name: str) -> None:
    verify_at = command_numbers((name,))["verify"][0]
    at = bench(wrap=lambda icc: FaultyCard(icc, FaultPlan(remove_at=verify_at)))
    (result,) = change(name).run(at).results
    assert (result.outcome, result.reason) == (ChangeOutcome.NOT_CHANGED, "card_removed")
    assert at.accepts(name, CURRENT[name]) and not at.accepts(name, NEW[name])


@pytest.mark.parametrize("name", PINS)
def test_pulled_during_the_change_command_is_unknown_never_a_success(name: str) -> None:
    change_at = command_numbers((name,))["change"][0]
    at = bench(wrap=lambda icc: FaultyCard(icc, FaultPlan(remove_at=change_at)))
    (result,) = change(name).run(at).results
    assert (result.outcome, result.reason) == (ChangeOutcome.UNKNOWN, "card_removed")
    assert at.accepts(name, CURRENT[name])  # this card had not applied it …


@pytest.mark.parametrize("name", PINS)
def test_an_answer_lost_after_the_card_applied_the_change_is_unknown_too(name: str) -> None:
    change_at = command_numbers((name,))["change"][0]
    at = bench(wrap=lambda icc: LoseAnswerAt(icc, change_at))
    (result,) = change(name).run(at).results
    assert result.outcome is ChangeOutcome.UNKNOWN
    assert at.accepts(name, NEW[name])  # … and this one had: which is why neither is called "not changed"


def test_pulled_part_way_through_the_three_says_which_changed() -> None:
    numbers = command_numbers(("auth", "card_info", "juki"), new="2580")
    between = numbers["change"][0] + 2  # after auth's change and the counter read again: card_info's SELECT
    at = bench(wrap=lambda icc: FaultyCard(icc, FaultPlan(remove_at=between)))
    report = change("auth", "card_info", "juki", new="2580").run(at)
    assert [(r.name, r.outcome.value) for r in report.results] == [
        ("auth", "changed"), ("card_info", "not_changed"), ("juki", "not_attempted")]
    assert at.accepts("auth", "2580") and at.accepts("card_info", CURRENT["card_info"])

    during = numbers["change"][1]
    at = bench(wrap=lambda icc: FaultyCard(icc, FaultPlan(remove_at=during)))
    report = change("auth", "card_info", "juki", new="2580").run(at)
    assert [(r.name, r.outcome.value) for r in report.results] == [
        ("auth", "changed"), ("card_info", "unknown"), ("juki", "not_attempted")]


def test_pulled_while_the_counter_is_read_again_is_still_a_change() -> None:
    after = command_numbers(("juki",))["change"][0] + 1
    at = bench(wrap=lambda icc: FaultyCard(icc, FaultPlan(remove_at=after)))
    (result,) = change("juki").run(at).results
    assert result.outcome is ChangeOutcome.CHANGED and result.status is None
    assert at.accepts("juki", NEW["juki"])


# --- no PIN anywhere ------------------------------------------------------------------------------------------


def secrets() -> set[str]:
    values = {*CURRENT.values(), *NEW.values(), "2580"}
    return values | {value.encode().hex(" ").upper() for value in values} | {value.encode().hex() for value in values}


def test_no_pin_in_logs_traces_reprs_or_results(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    at = bench()
    operations = [change(name) for name in PINS]
    texts = [repr(op) for op in operations]
    for op in operations:
        texts.append(repr(op.run(at)))
    wrong = change("auth", current={"auth": "9999"})
    texts.append(repr(wrong.run(at)))
    try:
        change("sign", new="ZZZZZZZZ").run(at)
    except errors.PinFormatInvalid as exc:
        texts.append(str(exc))
    everything = "\n".join([caplog.text, *at.trace, *texts])
    assert not [secret for secret in secrets() if secret in everything]
