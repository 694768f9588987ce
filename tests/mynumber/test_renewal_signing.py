"""The verifier's renewal signature: made by the card's auth key over the request's DigestInfo, checkable
with the auth certificate — and never asked of a card whose certificate already failed."""

from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from contract.renewal import digest_info, renewal_message
from drivers import errors
from drivers.sim.card import SimulatedCard
from tests.mynumber.verification_support import image_of, profile, trust_store, verifier_for

PAYLOAD = {"photo_jpeg_base64": "AAAA", "contact": None, "submitted_at": "2026-12-01T10:00:00+09:00",
           "options": {"electronic_certificates": True, "braille_name": None}}
NONCE = bytes(range(32))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    return trust_store(tmp_path_factory.mktemp("trust"))


def test_the_card_signs_the_request_and_the_certificate_verifies_it(store) -> None:
    verifier = verifier_for(SimulatedCard(image_of("renewal-due")), store)
    pin = bytearray(profile("renewal-due").pins.auth.encode())
    message = renewal_message(NONCE, PAYLOAD)
    signature = verifier.sign_with_auth_key(digest_info(message), pin)
    assert pin == bytearray(len(pin))  # the caller's buffer is zeroed
    certificate = verifier.auth_certificate
    validity = verifier.auth_validity
    assert certificate is not None and validity is not None and validity.in_renewal_window
    certificate.public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    other = renewal_message(NONCE, {**PAYLOAD, "contact": {"email": "x@example.invalid"}})
    with pytest.raises(InvalidSignature):
        certificate.public_key.verify(signature, other, padding.PKCS1v15(), hashes.SHA256())


def test_a_card_whose_certificate_failed_gets_no_pin(store) -> None:
    card = SimulatedCard(image_of("expired"))
    pin = bytearray(profile("expired").pins.auth.encode())
    with pytest.raises(errors.CertificateRefused):
        verifier_for(card, store).sign_with_auth_key(digest_info(renewal_message(NONCE, PAYLOAD)), pin)
    assert pin == bytearray(len(pin))
    assert card.pin("jpki", 0x0018).remaining == 3  # no VERIFY reached the card
