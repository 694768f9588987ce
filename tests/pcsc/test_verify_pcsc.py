"""The whole verification through the real stack: pyscard → pcscd → vpcd → the simulated card."""

from __future__ import annotations

import pytest

from drivers import errors, pcsc
from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.verifier import ALL_CHECKS, CardVerifier, VerifierConfig
from drivers.sim.card import SimulatedCard
from drivers.sim.faults import FaultPlan, FaultyCard
from tests.mynumber.verification_support import crl_checker, image_of, profile, trust_store

pytestmark = pytest.mark.pcsc


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return trust_store(tmp_path_factory.mktemp("trust"))


def verify_in(reader: str, store):
    resident = profile("adult")
    with pcsc.connect(reader) as transport:
        verifier = CardVerifier(MyNumberCard(transport), store, revocation=crl_checker(),
                                config=VerifierConfig(required=frozenset(ALL_CHECKS)))
        verifier.prefetch()
        return verifier.verify(resident.pins.auth, card_info_pin=resident.pins.card_info,
                               sign_pin=resident.pins.sign)


def test_full_verification_through_pcscd(served_card, vpcd_readers, store) -> None:
    with served_card(SimulatedCard(image_of("adult")), 0):
        verdict = verify_in(vpcd_readers[0], store)
    assert verdict.verified, verdict
    assert verdict.basic4.name == profile("adult").resident.name


def test_card_pulled_mid_verify_through_pcscd(served_card, vpcd_readers, store) -> None:
    card = SimulatedCard(image_of("adult"))
    with served_card(FaultyCard(card, FaultPlan(remove_at=9)), 0, wait_present=True), pytest.raises(
            errors.CardRemoved):
        verify_in(vpcd_readers[0], store)
    assert card.pin("jpki", 0x0018).remaining == 3
    with served_card(card, 0):
        assert verify_in(vpcd_readers[0], store).verified
