"""The last try of every PIN, under both policies, with and without the clerk's confirmation.

A card reaches a resident's hands again after the kiosk: a PIN locked by the kiosk means a trip to the
counter. Each PIN is driven through the verb a caller really uses for it, and the APDU trace is read to
show that where the policy refuses, no VERIFY carrying a PIN was sent at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import pytest

from drivers import errors
from drivers.mynumber import aids
from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.pinpolicy import ATTENDED, UNATTENDED, PinPolicy
from drivers.sim.card import SimulatedCard
from drivers.sim.model import CardImage
from drivers.sim.profile import load_card_image
from drivers.sim.transport import SimTransport
from tests.conftest import REPO

DIGEST_INFO = bytes.fromhex("3031300D060960864801650304020105000420") + bytes(32)


@cache
def adult_image() -> CardImage:
    return load_card_image(REPO / "config" / "cards" / "adult.toml")


def right_pin(ref: aids.PinRef) -> str:
    """The simulated card's own value for this PIN (synthetic resident)."""
    app = next(a for a in adult_image().applications if a.name == ref.application.key)
    value = app.pins[ref.fid].value
    assert value is not None
    return value.decode("ascii")


def wrong_pin(ref: aids.PinRef) -> str:
    value = right_pin(ref)
    replacement = "0" if value[-1] != "0" else "1"
    return value[:-1] + replacement


# The verb each caller uses for a PIN; every one of them must go through the guard.
Operation = Callable[[MyNumberCard, str, bool], object]
OPERATIONS: dict[str, tuple[aids.PinRef, Operation]] = {
    "auth/sign_with_auth_key": (aids.AUTH_PIN, lambda card, pin, confirm: card.jpki.sign_with_auth_key(
        DIGEST_INFO, pin, confirm_last_try=confirm)),
    "sign/read_sign_certificate": (aids.SIGN_PIN, lambda card, pin, confirm: card.jpki.read_sign_certificate(
        pin, confirm_last_try=confirm)),
    "sign/sign_with_sign_key": (aids.SIGN_PIN, lambda card, pin, confirm: card.jpki.sign_with_sign_key(
        DIGEST_INFO, pin, confirm_last_try=confirm)),
    "card_info/read": (aids.CARD_INFO_PIN, lambda card, pin, confirm: card.card_info.read(
        pin, confirm_last_try=confirm)),
    "card_info_pin_a/read": (aids.CARD_INFO_PIN_A, lambda card, pin, confirm: card.card_info.read(
        pin_a=pin, confirm_last_try=confirm)),
    "card_info_pin_b/read": (aids.CARD_INFO_PIN_B, lambda card, pin, confirm: card.card_info.read(
        pin_b=pin, confirm_last_try=confirm)),
    "surface_pin_a/read_entries": (aids.SURFACE_PIN_A, lambda card, pin, confirm: card.surface.read_entries(
        pin_a=pin, confirm_last_try=confirm)),
    "surface_pin_b/read_entries": (aids.SURFACE_PIN_B, lambda card, pin, confirm: card.surface.read_entries(
        pin_b=pin, confirm_last_try=confirm)),
    "juki/verify": (aids.JUKI_PIN, lambda card, pin, confirm: card.juki.verify(
        aids.JUKI_PIN, pin, confirm_last_try=confirm)),
}


@dataclass
class Bench:
    simulated: SimulatedCard
    card: MyNumberCard
    trace: list[str]

    def remaining(self, ref: aids.PinRef) -> int:
        return self.simulated.pin(ref.application.key, ref.fid).remaining

    def pin_verifies_sent(self) -> list[str]:
        """VERIFY commands that carried a PIN (the retry-counter query carries none)."""
        return [line for line in self.trace if line.startswith("00 20 ") and "redacted" in line]


def bench(policy: PinPolicy, ref: aids.PinRef, remaining: int) -> Bench:
    simulated = SimulatedCard(adult_image())
    simulated.pin(ref.application.key, ref.fid).restore(remaining, None)
    trace: list[str] = []
    card = MyNumberCard(SimTransport(simulated), policy, trace=lambda out, _in: trace.append(out))
    return Bench(simulated, card, trace)


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(("policy", "confirm"), [(UNATTENDED, False), (UNATTENDED, True), (ATTENDED, False)],
                         ids=["unattended", "unattended-with-confirm-flag", "attended-without-confirm"])
def test_the_last_try_is_never_spent_without_a_clerk(operation: str, policy: PinPolicy, confirm: bool) -> None:
    ref, run = OPERATIONS[operation]
    at = bench(policy, ref, remaining=1)
    with pytest.raises(errors.PinGuardRefused) as refused:
        run(at.card, right_pin(ref), confirm)  # even the right PIN: the guard decides before the card sees it
    assert refused.value.remaining == 1
    assert at.pin_verifies_sent() == []
    assert at.remaining(ref) == 1


@pytest.mark.parametrize("operation", OPERATIONS)
def test_a_clerk_may_spend_the_last_try_with_confirmation(operation: str) -> None:
    ref, run = OPERATIONS[operation]
    right = bench(ATTENDED, ref, remaining=1)
    run(right.card, right_pin(ref), True)
    assert len(right.pin_verifies_sent()) == 1
    assert right.remaining(ref) == ref.maximum  # the right PIN restores the counter

    wrong = bench(ATTENDED, ref, remaining=1)
    with pytest.raises(errors.WrongPin) as caught:
        run(wrong.card, wrong_pin(ref), True)
    assert caught.value.remaining == 0 and wrong.remaining(ref) == 0  # confirmed means really spent
    with pytest.raises(errors.PinBlocked):
        run(wrong.card, right_pin(ref), True)
    assert len(wrong.pin_verifies_sent()) == 1


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("policy", [UNATTENDED, ATTENDED], ids=["unattended", "attended"])
def test_two_tries_left_allow_one_wrong_pin_then_the_guard_closes(operation: str, policy: PinPolicy) -> None:
    ref, run = OPERATIONS[operation]
    at = bench(policy, ref, remaining=2)
    with pytest.raises(errors.WrongPin) as caught:
        run(at.card, wrong_pin(ref), False)
    assert caught.value.remaining == 1
    with pytest.raises(errors.PinGuardRefused):
        run(at.card, right_pin(ref), False)
    assert len(at.pin_verifies_sent()) == 1 and at.remaining(ref) == 1


@pytest.mark.parametrize("ref", aids.ALL_PINS, ids=lambda ref: ref.key)
def test_every_pin_is_covered_by_an_operation(ref: aids.PinRef) -> None:
    """A PIN added to the card model without a guarded operation here fails this test."""
    assert any(covered is ref for covered, _ in OPERATIONS.values())


# --- zeroing: the buffer a caller hands over is all zero afterwards, whatever happened -------------


def caller_buffer(value: str) -> bytearray:
    return bytearray(value.encode("ascii"))


def assert_wiped(buffer: bytearray) -> None:
    assert len(buffer) > 0 and buffer == bytearray(len(buffer)), "the PIN buffer still holds the PIN"


@pytest.mark.parametrize("operation", OPERATIONS)
def test_the_callers_pin_buffer_is_zeroed_after_success_wrong_pin_refusal_and_bad_format(operation: str) -> None:
    ref, run = OPERATIONS[operation]
    outcomes = {
        "success": (3, right_pin(ref), None),
        "wrong pin": (3, wrong_pin(ref), errors.WrongPin),
        "guard refusal": (1, right_pin(ref), errors.PinGuardRefused),
        "wrong format": (3, "1!", errors.PinFormatInvalid),
        "blocked": (0, right_pin(ref), errors.PinBlocked),
    }
    for outcome, (remaining, value, expected) in outcomes.items():
        at = bench(UNATTENDED, ref, remaining=min(remaining, ref.maximum))
        buffer = caller_buffer(value)
        if expected is None:
            run(at.card, buffer, False)
        else:
            with pytest.raises(expected):
                run(at.card, buffer, False)
        assert_wiped(buffer), outcome


def test_an_already_verified_pin_is_not_sent_again_and_the_buffer_is_still_zeroed() -> None:
    at = bench(UNATTENDED, aids.CARD_INFO_PIN, remaining=3)
    first, second = caller_buffer(right_pin(aids.CARD_INFO_PIN)), caller_buffer(right_pin(aids.CARD_INFO_PIN))
    at.card.card_info.verify(aids.CARD_INFO_PIN, first)
    at.card.card_info.verify(aids.CARD_INFO_PIN, second)
    assert len(at.pin_verifies_sent()) == 1
    assert_wiped(first)
    assert_wiped(second)


@pytest.mark.parametrize("operation", ["auth/sign_with_auth_key", "sign/read_sign_certificate", "card_info/read",
                                       "juki/verify"])
def test_the_buffer_is_zeroed_when_the_card_is_pulled_at_any_apdu(operation: str) -> None:
    from drivers.sim.faults import FaultPlan, FaultyCard

    ref, run = OPERATIONS[operation]
    total = bench(UNATTENDED, ref, remaining=3)
    run(total.card, right_pin(ref), False)
    for position in range(1, total.card.apdu_count + 1):
        simulated = SimulatedCard(adult_image())
        card = MyNumberCard(SimTransport(FaultyCard(simulated, FaultPlan(remove_at=position))), UNATTENDED)
        buffer = caller_buffer(right_pin(ref))
        with pytest.raises(errors.CardRemoved):
            run(card, buffer, False)
        assert_wiped(buffer), position


@pytest.mark.parametrize("ref", aids.RESIDENT_PINS, ids=lambda ref: ref.key)
def test_pin_change_zeroes_both_buffers_on_success_and_on_failure(ref: aids.PinRef) -> None:
    new_value = "NEWPIN42" if ref.format.value == "sign" else "4826"
    at = bench(UNATTENDED, ref, remaining=3)
    application = {"jpki": at.card.jpki, "card_info": at.card.card_info, "juki": at.card.juki}[ref.application.key]
    old, new = caller_buffer(right_pin(ref)), caller_buffer(new_value)
    application.change_pin(ref, old, new)
    assert_wiped(old)
    assert_wiped(new)
    old, new = caller_buffer(right_pin(ref)), caller_buffer(new_value)  # the old PIN no longer works
    with pytest.raises(errors.WrongPin):
        application.change_pin(ref, old, new)
    assert_wiped(old)
    assert_wiped(new)
    bad_new = caller_buffer("12")  # refused before the card: the old PIN's buffer is wiped as well
    old = caller_buffer(new_value)
    with pytest.raises(errors.PinFormatInvalid):
        application.change_pin(ref, old, bad_new)
    assert_wiped(old)
    assert_wiped(bad_new)


@pytest.mark.parametrize("outcome", ["right", "wrong", "pulled"])
def test_the_session_zeroes_what_it_sends_even_without_an_application(outcome: str) -> None:
    """``CardSession`` is public too (the CLI and benchmarks use it): its VERIFY and CHANGE REFERENCE DATA
    wipe their buffer themselves, so no caller can forget to."""
    from drivers.mynumber.session import CardSession
    from drivers.sim.faults import FaultPlan, FaultyCard

    value = right_pin(aids.AUTH_PIN) if outcome != "wrong" else wrong_pin(aids.AUTH_PIN)
    card: SimulatedCard | FaultyCard = SimulatedCard(adult_image())
    if outcome == "pulled":
        card = FaultyCard(card, FaultPlan(remove_at=3))  # SELECT AP, SELECT PIN EF, then the VERIFY
    session = CardSession(SimTransport(card))
    session.select_df(aids.JPKI.aid)
    # after a wrong VERIFY the card refuses the change (69 82): both paths still wipe
    expected_verify = {"right": None, "wrong": errors.WrongPin, "pulled": errors.CardRemoved}[outcome]
    expected_change = {"right": None, "wrong": errors.SecurityStatusNotSatisfied, "pulled": None}[outcome]
    for send, expected in ((lambda buffer: session.verify_pin(aids.AUTH_PIN.fid, buffer), expected_verify),
                           (lambda buffer: session.change_reference_data(aids.AUTH_PIN.fid, buffer),
                            expected_change)):
        buffer = caller_buffer(value)
        if expected is None:
            send(buffer)
        else:
            with pytest.raises(expected):
                send(buffer)
        assert_wiped(buffer)
        if outcome == "pulled":
            break
