"""Robustness: a card pulled at every APDU of the verify flow, and hostile card answers."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers import errors, tlv
from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.certificates import parse_certificate
from drivers.mynumber.verifier import CardVerifier
from drivers.sim.card import SimulatedCard
from drivers.sim.faults import FaultPlan, FaultyCard
from drivers.sim.profile import profile_certificates
from drivers.sim.transport import SimTransport
from tests.mynumber.verification_support import crl_checker, image_of, profile, trust_store, verifier_for
from tests.support.fuzzing import examples


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return trust_store(tmp_path_factory.mktemp("trust"))


def run_full_verify(card, store, *, extended: bool = True):
    resident = profile("adult")
    verifier = verifier_for(card, store, revocation=crl_checker(), extended=extended)
    verifier.prefetch()
    return verifier.verify(resident.pins.auth, card_info_pin=resident.pins.card_info, sign_pin=resident.pins.sign)


@pytest.mark.parametrize("extended", [True, False], ids=["extended", "short"])
def test_card_pulled_at_every_apdu_position(store, extended: bool) -> None:
    card = SimulatedCard(image_of("adult"))
    total = run_full_verify(card, store, extended=extended).apdu_count
    assert total > 10
    for position in range(1, total + 1):
        faulty = FaultyCard(card, FaultPlan(remove_at=position))
        with pytest.raises(errors.CardRemoved):
            run_full_verify(faulty, store, extended=extended)
        # no try was lost that the resident did not spend: the counters are where the right PINs left them
        assert card.pin("jpki", 0x0018).remaining == 3, position
        assert card.pin("jpki", 0x001B).remaining == 5, position
        assert card.pin("card_info", 0x0011).remaining == 3, position
    # and the next card (the same one, re-inserted) verifies
    assert run_full_verify(card, store, extended=extended).verified


class HostileReads(SimTransport):
    """A transport whose READ BINARY answers are replaced by attacker-chosen bytes.

    It remembers whether any replaced answer carried data that differs from what the honest card would
    have answered with success: only then did forged bytes reach the driver. A hostile ``6C xx`` or
    ``61 xx`` makes the channel ask again, and the honest card's answer to that is not forged.
    """

    def __init__(self, card, answers: list[bytes], extended: bool) -> None:
        super().__init__(card, extended=extended)
        self._answers = answers
        self.forged_data_delivered = False

    def transmit(self, command: bytes) -> bytes:
        honest = super().transmit(command)
        if command[1] == 0xB0 and self._answers:
            hostile = self._answers.pop(0)
            if hostile[-2:] == b"\x90\x00" and hostile != honest:
                self.forged_data_delivered = True
            return hostile
        return honest


hostile_answer = st.one_of(
    st.binary(max_size=600).map(lambda b: b + b"\x90\x00"),
    st.builds(lambda tag, body: tlv.encode(tag, body) + b"\x90\x00",
              st.sampled_from([0x30, 0xFF20, 0x7F21, 0xDF22]), st.binary(max_size=300)),
    st.builds(lambda n: b"\x30\x82" + n.to_bytes(2, "big") + b"\x00" * 10 + b"\x90\x00", st.integers(0, 65535)),
    st.binary(max_size=3),
    st.sampled_from([b"\x6c\x00", b"\x6c\x10", b"\x61\x00", b"\x62\x82", b"\x6b\x00"]),
)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answers=st.lists(hostile_answer, min_size=1, max_size=8), extended=st.booleans())
def test_hostile_answers_never_verify_forged_data(store, answers: list[bytes], extended: bool) -> None:
    """Hostile READ answers end in a typed error or a verdict; "verified" only on honest data."""
    resident = profile("adult")
    transport = HostileReads(SimulatedCard(image_of("adult")), list(answers), extended)
    verifier = CardVerifier(MyNumberCard(transport), store, revocation=crl_checker())
    try:
        verdict = verifier.verify(resident.pins.auth, card_info_pin=resident.pins.card_info)
    except errors.CardError:
        return  # anything that is not the project's typed error escapes and fails the test
    if transport.forged_data_delivered:
        assert not verdict.verified, [(c.name, c.status, c.reason) for c in verdict.checks]


@pytest.mark.parametrize("extended", [True, False], ids=["extended", "short"])
def test_a_wrong_length_answer_alone_is_not_an_attack(store, extended: bool) -> None:
    """A card may answer ``6C 00`` (wrong Le); the channel asks again and the honest answer verifies."""
    resident = profile("adult")
    transport = HostileReads(SimulatedCard(image_of("adult")), [b"\x6c\x00"], extended=extended)
    verifier = CardVerifier(MyNumberCard(transport), store, revocation=crl_checker())
    verdict = verifier.verify(resident.pins.auth, card_info_pin=resident.pins.card_info)
    assert verdict.verified and not transport.forged_data_delivered


def test_forged_certificate_bytes_are_never_verified(store) -> None:
    """The first READ (the auth certificate) answered with a well-formed but foreign DER."""
    other = profile_certificates(profile("foreign-resident"))["auth"]
    resident = profile("adult")
    transport = HostileReads(SimulatedCard(image_of("adult")), [other + b"\x90\x00"], extended=True)
    verifier = CardVerifier(MyNumberCard(transport), store, revocation=crl_checker())
    verdict = verifier.verify(resident.pins.auth, card_info_pin=resident.pins.card_info)
    assert not verdict.verified
    assert verdict.check("possession").status == "failed"


@settings(max_examples=examples(200), deadline=None)
@given(st.binary(max_size=2000))
def test_random_certificates_raise_only_typed_errors(data: bytes) -> None:
    with contextlib.suppress(errors.CardError):  # anything else escapes and fails the test
        parse_certificate(data)
