"""The counter's card operations on the simulated new card (the real driver over the simulator's transport):
the first look needs no PIN, the resident's PINs are set and then prove the card, the card's face photo
and basic 4 come back for the clerk and the server, and a card pulled part-way says what was set."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from PIL import Image

from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.certificates import parse_certificate
from drivers.mynumber.issuance import InitialPins
from drivers.mynumber.trust import TrustStore
from drivers.mynumber.verifier import CardVerifier
from drivers.sim.card import SimulatedCard
from drivers.sim.faults import FaultPlan, FaultyCard
from drivers.sim.profile import profile_certificates
from kiosk.core.flows.pickup.operations import IssuedCard, IssuePins, NewCardFacts, ReadNewCard
from tests.mynumber.verification_support import crl_checker, image_of, profile, trust_store, verifier_for


@dataclass(frozen=True)
class Opened:
    card: MyNumberCard
    verifier: CardVerifier


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> TrustStore:
    return trust_store(tmp_path_factory.mktemp("trust"))


def opened(store: TrustStore, name: str = "new-card", *, remove_at: int | None = None) -> Opened:
    card = SimulatedCard(image_of(name))
    wrap = (lambda icc: FaultyCard(icc, FaultPlan(remove_at=remove_at))) if remove_at else None
    verifier = verifier_for(card, store, wrap=wrap, revocation=crl_checker())
    return Opened(verifier.card, verifier)


def pins(*, sign: bool = True) -> InitialPins:
    return InitialPins(auth=bytearray(b"1357"), card_info=bytearray(b"2468"), juki=bytearray(b"9753"),
                       sign=bytearray(b"KIOSK2026") if sign else None)


def test_the_first_look_needs_no_pin_and_names_the_card_and_its_unset_pins(store: TrustStore) -> None:
    facts = ReadNewCard().run(opened(store))
    assert isinstance(facts, NewCardFacts)
    assert not facts.certificate_failed and all(c.status == "passed" for c in facts.checks)
    expected = parse_certificate(profile_certificates(profile("new-card"))["auth"]).serial
    assert int(facts.serial or "0", 16) == expected
    assert sorted(facts.unset) == ["auth", "card_info", "juki", "sign"] and facts.already_set == ()


def test_a_childs_new_card_has_no_sign_password_to_set(store: TrustStore) -> None:
    facts = ReadNewCard().run(opened(store, "new-card-child"))
    assert "sign" not in facts.unset and "auth" in facts.unset


def test_the_resident_pins_are_set_and_then_prove_the_card(store: TrustStore) -> None:
    card = opened(store)
    chosen = pins()
    buffers = [chosen.auth, chosen.card_info, chosen.juki, chosen.sign]
    issued = IssuePins(chosen).run(card)
    assert isinstance(issued, IssuedCard)
    assert issued.pins.complete and sorted(issued.pins.set_pins) == ["auth", "card_info", "juki", "sign"]
    assert issued.verified, issued.checks
    resident = profile("new-card").resident
    assert issued.basic4 is not None and issued.basic4.name.replace(" ", "") == resident.name.replace(" ", "")
    assert issued.face_png is not None and issued.face_error is None
    assert Image.open(io.BytesIO(issued.face_png)).format == "PNG"
    assert all(buffer is not None and not any(buffer) for buffer in buffers)  # every PIN buffer zeroed
    assert ReadNewCard().run(card).unset == ()  # nothing left to set
    issued.wipe()
    assert issued.basic4 is None and issued.face_png is None


@pytest.mark.parametrize("remove_at", [4, 8, 12])
def test_a_card_pulled_part_way_reports_what_was_set(store: TrustStore, remove_at: int) -> None:
    chosen = pins()
    issued = IssuePins(chosen).run(opened(store, remove_at=remove_at))
    assert not issued.pins.complete and issued.pins.card_removed
    assert not issued.verified and issued.basic4 is None and issued.face_png is None
    outcomes = [p.outcome.value for p in issued.pins.pins]
    assert outcomes.count("set") < 4
    assert outcomes == sorted(outcomes, key=lambda o: {"set": 0, "failed": 1, "not_set": 2}[o])  # set, then not
    assert not any(chosen.auth or b"") and not any(chosen.sign or b"")
