"""CardVerifier: every check with a passing and a failing simulated card."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers import errors
from drivers.mynumber.pinpolicy import ATTENDED
from drivers.mynumber.verifier import ALL_CHECKS, RevocationUnavailable
from drivers.sim.card import SimulatedCard
from drivers.sim.model import KeySpec
from drivers.sim.profile import build_card_image, profile_certificates
from tests.mynumber.verification_support import (
    crl_checker,
    image_of,
    profile,
    replace_profile,
    trust_store,
    verifier_for,
)
from tests.support.fuzzing import examples

EVERYTHING = frozenset(ALL_CHECKS)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return trust_store(tmp_path_factory.mktemp("trust"))


def full_verify(name: str, store, *, card: SimulatedCard | None = None, revocation=None, **kwargs):
    resident = profile(name)
    verifier = verifier_for(card or SimulatedCard(image_of(name)), store,
                            revocation=revocation if revocation is not None else crl_checker(), **kwargs)
    return verifier.verify(resident.pins.auth, card_info_pin=resident.pins.card_info, sign_pin=resident.pins.sign)


def statuses(verdict) -> dict[str, str]:
    return {check.name: check.status for check in verdict.checks}


def test_adult_card_passes_every_check(store) -> None:
    verdict = full_verify("adult", store, required=EVERYTHING)
    assert statuses(verdict) == dict.fromkeys(ALL_CHECKS, "passed")
    assert verdict.verified
    assert verdict.my_number == profile("adult").resident.my_number
    assert verdict.basic4.address == profile("adult").resident.address
    assert verdict.auth_validity.days_to_expiry > 365
    assert profile("adult").resident.my_number not in repr(verdict)
    verdict.wipe()
    assert verdict.my_number is None and verdict.basic4 is None


def test_tampered_digest_fails_basic4_check(store) -> None:
    verdict = full_verify("tampered", store, required=EVERYTHING)
    assert verdict.check("basic4_digest").status == "failed"
    assert verdict.check("basic4_digest").reason == "digest_mismatch"
    assert verdict.check("my_number_digest").status == "passed"
    assert not verdict.verified


def test_bad_card_info_signature(store) -> None:
    card = SimulatedCard(build_card_image(replace_profile("adult", tamper={"text_signature": True})))
    verdict = full_verify("adult", store, card=card)
    assert verdict.check("card_info_signature").reason == "bad_signature"


def pins_sent(card: SimulatedCard) -> dict[str, int]:
    """Tries left of the three PINs a full verify would send (each drops only if a VERIFY reached it)."""
    return {"auth": card.pin("jpki", 0x0018).remaining, "sign": card.pin("jpki", 0x001B).remaining,
            "card_info": card.pin("card_info", 0x0011).remaining}


def full_verify_wrong_pins(card: SimulatedCard, store):
    """Wrong PINs on purpose: if any of them reached the card, its counter would drop."""
    verifier = verifier_for(card, store, revocation=crl_checker())
    return verifier.verify("0000", card_info_pin="0000", sign_pin="WRONG0")


def test_unknown_ca_gets_no_pin_and_is_not_genuine(tmp_path) -> None:
    partial = trust_store(tmp_path, drop=("jpki-test-auth-ca-g2.pem",))
    card = SimulatedCard(image_of("adult"))
    verdict = full_verify_wrong_pins(card, partial)
    assert verdict.check("auth_chain").status == "failed"
    assert verdict.check("auth_chain").reason == "unknown_issuer"
    for name in ("possession", "my_number_digest", "basic4_digest", "card_info_signature", "sign_consistency"):
        assert (verdict.check(name).status, verdict.check(name).reason) == ("not_checked", "certificate_failed")
    assert pins_sent(card) == {"auth": 3, "sign": 5, "card_info": 3}
    assert not verdict.verified


def test_unknown_card_info_issuer(tmp_path) -> None:
    partial = trust_store(tmp_path, drop=("[0-9a-f]*.pem",))
    verdict = full_verify("adult", partial)
    assert verdict.check("auth_chain").status == "passed"
    assert verdict.check("card_info_certificate").reason == "unknown_card_info_issuer"
    assert not verdict.verified  # a failed check is never verified, even where it is not required


def test_tampered_card_is_not_verified_with_the_default_required_checks(store) -> None:
    """The defect a resident saw: a green "valid" above an altered name and address."""
    verdict = full_verify("tampered", store)
    assert "basic4_digest" not in verdict.required
    assert verdict.check("basic4_digest").status == "failed"
    assert not verdict.verified
    assert verdict.as_dict()["verified"] is False


def test_a_check_not_required_may_be_not_checked_but_never_failed(store) -> None:
    resident = profile("adult")
    verifier = verifier_for(SimulatedCard(image_of("adult")), store, revocation=crl_checker())
    assert verifier.verify(resident.pins.auth).verified  # card-info checks "not checked": acceptable


def test_an_expired_certificate_gets_no_pin(store) -> None:
    card = SimulatedCard(image_of("expired"))
    verdict = full_verify_wrong_pins(card, store)
    assert verdict.check("auth_validity").reason == "expired"
    assert verdict.check("possession").reason == "certificate_failed"
    assert pins_sent(card) == {"auth": 3, "sign": 5, "card_info": 3}


def with_auth_certificate(der: bytes) -> SimulatedCard:
    image = image_of("adult")
    jpki = image.application("jpki")
    ef = jpki.efs[0x000A]
    replaced = dataclasses.replace(jpki, efs={**jpki.efs, 0x000A: dataclasses.replace(ef, content=der)})
    return SimulatedCard(dataclasses.replace(image, applications=[replaced, *image.applications[1:]]))


RSA_ENCRYPTION_OID = bytes.fromhex("06092A864886F70D010101")


def test_a_certificate_whose_key_cannot_be_read_gets_no_pin_and_a_verdict(store) -> None:
    """An unknown key algorithm used to get the PIN and then crash with UnsupportedAlgorithm."""
    der = profile_certificates(profile("adult"))["auth"]
    assert der.count(RSA_ENCRYPTION_OID) == 1
    card = with_auth_certificate(der.replace(RSA_ENCRYPTION_OID, bytes.fromhex("06092A864886F70D0101FF")))
    verdict = full_verify_wrong_pins(card, store)
    assert verdict.check("auth_chain").reason == "malformed_certificate"
    assert verdict.check("possession").reason == "certificate_failed"
    assert pins_sent(card) == {"auth": 3, "sign": 5, "card_info": 3}
    assert not verdict.verified


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(0, 1600), value=st.integers(0, 255))
def test_a_mutated_auth_certificate_is_a_verdict_and_a_failed_one_gets_no_pin(store, position: int,
                                                                              value: int) -> None:
    """Any change to the certificate on the card ends in a verdict (never an untyped error); where a
    certificate check failed, no PIN reached the card."""
    der = profile_certificates(profile("adult"))["auth"]
    mutated = der if position >= len(der) else der[:position] + bytes((value,)) + der[position + 1 :]
    card = with_auth_certificate(mutated)
    try:
        verdict = full_verify_wrong_pins(card, store)
    except errors.WrongPin:
        assert mutated == der  # only the intact certificate passed its checks and got the (wrong) PIN
        return
    except errors.ProtocolError:
        return  # the certificate EF's own length header is broken: refused before any PIN
    failed = [c.name for c in verdict.checks[:3] if c.status == "failed"]
    assert failed, "a mutated certificate passed every certificate check"
    assert pins_sent(card) == {"auth": 3, "sign": 5, "card_info": 3}
    assert not verdict.verified


def test_expired_card(store) -> None:
    verdict = full_verify("expired", store)
    assert verdict.check("auth_validity").status == "failed"
    assert verdict.check("auth_validity").reason == "expired"
    assert not verdict.verified


def test_revoked_and_offline(store) -> None:
    verdict = full_verify("adult", store, revocation=crl_checker(("adult",)))
    assert verdict.check("revocation").status == "failed" and not verdict.verified

    class Offline:
        def check(self, certificate):
            raise RevocationUnavailable("server unreachable")

    offline = full_verify("adult", store, revocation=Offline())
    assert offline.check("revocation").status == "not_checked"
    assert offline.check("revocation").reason == "offline"
    assert not offline.verified  # offline is never "passed"
    stale = full_verify("adult", store, revocation=crl_checker(stale=True))
    assert stale.check("revocation").status == "not_checked"


def test_wrong_key_fails_possession(store) -> None:
    image = image_of("adult")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jpki = image.application("jpki")
    swapped = dataclasses.replace(jpki, keys={**jpki.keys, 0x0017: KeySpec(0x0017, other_key, 0x0018)})
    card = SimulatedCard(dataclasses.replace(image, applications=[swapped, *image.applications[1:]]))
    verdict = full_verify("adult", store, card=card)
    assert verdict.check("possession").status == "failed"
    assert not verdict.verified


def test_blocked_auth_pin_is_refused_before_any_verify(store) -> None:
    blocked = replace_profile("adult", pins={"remaining": (("auth", 0),)})
    card = SimulatedCard(build_card_image(blocked))
    with pytest.raises(errors.PinBlocked):
        verifier_for(card, store, policy=ATTENDED).verify("1234")
    assert card.pin("jpki", 0x0018).remaining == 0


def test_one_try_left_is_refused_at_an_unattended_kiosk(store) -> None:
    card = SimulatedCard(image_of("last-try"))
    with pytest.raises(errors.PinGuardRefused):
        verifier_for(card, store).verify(profile("last-try").pins.auth)
    assert card.pin("jpki", 0x0018).remaining == 1


def test_minor_without_signing_certificate_is_still_verified(store) -> None:
    resident = profile("minor")
    verifier = verifier_for(SimulatedCard(image_of("minor")), store, revocation=crl_checker())
    verdict = verifier.verify(resident.pins.auth, card_info_pin=resident.pins.card_info, sign_pin="ABCDEF1")
    assert verdict.check("sign_consistency").reason == "no_sign_certificate"
    assert verdict.verified


def test_sign_certificate_disagreeing_with_basic4(store) -> None:
    moved = replace_profile("adult", resident={"address": "東京都千代田区霞が関九丁目8番8号 転居先"})
    image = build_card_image(moved)
    adult = image_of("adult")
    # the card-info AP says one address, the signing certificate (from the adult image) another
    mixed = dataclasses.replace(adult, applications=[adult.application("jpki"), image.application("card_info"),
                                                     *adult.applications[2:]])
    verdict = full_verify("adult", store, card=SimulatedCard(mixed))
    assert verdict.check("sign_consistency").status == "failed"
    assert "address" in verdict.check("sign_consistency").reason


def test_prefetch_leaves_only_pin_work_for_after_the_pin(store) -> None:
    resident = profile("adult")
    verifier = verifier_for(SimulatedCard(image_of("adult")), store, revocation=crl_checker())
    checks = verifier.prefetch()
    assert [c.status for c in checks] == ["passed"] * 3
    assert verifier.card.apdu_count == 4  # SELECT AP + SELECT EF + header READ + READ of the rest
    verdict = verifier.verify(resident.pins.auth)
    # SELECT PIN EF + retry query + VERIFY + SELECT key EF + SIGN
    assert verdict.apdu_count - 4 == 5
    assert verdict.verified
