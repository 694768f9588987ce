"""The renewal contract (contract/renewal.py): the exact bytes the card signs, and the payload rules."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from hypothesis import given, settings
from hypothesis import strategies as st

from contract import payloads
from contract.payloads import PayloadInvalid, validate_application, validate_options
from contract.renewal import (
    DIGEST_INFO_LENGTH,
    NONCE_BYTES,
    RENEWAL_DOMAIN,
    SHA256_DIGEST_INFO_PREFIX,
    canonical_payload,
    decode_nonce,
    digest_info,
    encode_nonce,
    renewal_message,
    validate_renewal_payload,
    validate_renewal_request,
)
from tests.support.fuzzing import examples

PHOTO = base64.b64encode(b"\xff\xd8\xff" + bytes(range(256)) * 8).decode("ascii")
NONCE = bytes(range(32))


def payload(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "photo_jpeg_base64": PHOTO,
        "contact": {"email": "yoteiko.test@example.invalid"},
        "options": {"electronic_certificates": True, "braille_name": "コウシンヨテイコ"},
        "submitted_at": "2026-12-14T10:00:00+09:00",
    }
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return body


def request(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "nonce": encode_nonce(NONCE),
        "auth_certificate": base64.b64encode(b"\x30\x82" + b"\x00" * 100).decode(),
        "signature": base64.b64encode(b"\x01" * 256).decode(),
        "payload": payload(),
    }
    body.update(changes)
    return body


# --- the bytes ------------------------------------------------------------------------------------------


def test_canonical_payload_is_sorted_compact_utf8() -> None:
    body = {"b": 1, "a": {"z": None, "y": True}, "名": "コウシン"}
    assert canonical_payload(body) == '{"a":{"y":true,"z":null},"b":1,"名":"コウシン"}'.encode()


def test_canonical_payload_is_stable_across_order_and_spacing() -> None:
    body = payload()
    reordered = dict(reversed(list(body.items())))
    round_trip = json.loads(json.dumps(body, indent=4, ensure_ascii=True))  # what a server parses from the wire
    assert canonical_payload(body) == canonical_payload(reordered) == canonical_payload(round_trip)


def test_canonical_payload_refuses_what_utf8_or_json_cannot_hold() -> None:
    with pytest.raises(PayloadInvalid):
        canonical_payload({"name": "\ud800"})  # a lone surrogate: no UTF-8 bytes exist for it
    with pytest.raises(PayloadInvalid):
        canonical_payload({"x": float("nan")})
    with pytest.raises(PayloadInvalid):
        canonical_payload({"x": b"bytes"})


def test_the_message_is_domain_nonce_and_payload_hash() -> None:
    body = payload()
    message = renewal_message(NONCE, body)
    assert RENEWAL_DOMAIN == b"mynumber-kiosk/renewal/v1\x00"
    assert message == RENEWAL_DOMAIN + NONCE + hashlib.sha256(canonical_payload(body)).digest()
    assert len(message) == len(RENEWAL_DOMAIN) + NONCE_BYTES + 32
    # A printable challenge (a login's) can never start with the domain: it ends in a NUL byte.
    assert not message.decode("latin-1").isprintable()


def test_every_change_to_the_payload_or_nonce_changes_the_message() -> None:
    base = renewal_message(NONCE, payload())
    assert renewal_message(bytes(32), payload()) != base
    assert renewal_message(NONCE, payload(submitted_at="2026-12-14T10:00:01+09:00")) != base
    assert renewal_message(NONCE, payload(options={"electronic_certificates": False, "braille_name": None})) != base
    assert renewal_message(NONCE, payload(contact=None)) != base


def test_the_nonce_must_be_32_bytes() -> None:
    for bad in (b"", bytes(31), bytes(33)):
        with pytest.raises(ValueError, match="32 bytes"):
            renewal_message(bad, payload())


def test_digest_info_is_the_der_of_sha256() -> None:
    message = renewal_message(NONCE, payload())
    info = digest_info(message)
    assert len(info) == DIGEST_INFO_LENGTH == 51
    assert info[:19] == SHA256_DIGEST_INFO_PREFIX == bytes.fromhex("3031300d060960864801650304020105000420")
    assert info[19:] == hashlib.sha256(message).digest()
    # Known answer: the DigestInfo of SHA-256("abc").
    assert digest_info(b"abc").hex() == (
        "3031300d060960864801650304020105000420"
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_a_card_style_signature_over_the_digest_info_verifies_as_pkcs1v15_sha256() -> None:
    """What the card does (pad the host's DigestInfo, RSA) is what the server checks with cryptography."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    message = renewal_message(NONCE, payload())
    info = digest_info(message)
    # The card pads the 51 bytes it gets (type 1) and signs them: the same as signing a prehashed SHA-256.
    signature = key.sign(info[19:], padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    key.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    # And the padded block, opened with the public key, ends in exactly that DigestInfo.
    numbers = key.public_key().public_numbers()
    block = pow(int.from_bytes(signature, "big"), numbers.e, numbers.n).to_bytes(256, "big")
    assert block[:2] == b"\x00\x01" and block.endswith(b"\x00" + info)


def test_nonce_text_is_base64url_without_padding() -> None:
    text = encode_nonce(NONCE)
    assert len(text) == 43 and "=" not in text
    assert decode_nonce(text) == NONCE
    for bad in (text + "=", text[:-1], text.replace("A", "+", 1) if "A" in text else "+" + text[1:], 7, None):
        with pytest.raises(PayloadInvalid):
            decode_nonce(bad)
    # The last character carries two unused bits: only the canonical spelling is accepted.
    last = text[-1]
    other = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    sibling = other[(other.index(last) ^ 1)]
    with pytest.raises(PayloadInvalid, match="canonical"):
        decode_nonce(text[:-1] + sibling)


@settings(max_examples=examples(200), deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_nonces_round_trip(nonce: bytes) -> None:
    assert decode_nonce(encode_nonce(nonce)) == nonce


# --- the payload ---------------------------------------------------------------------------------------


def test_a_complete_payload_and_request_pass() -> None:
    assert validate_renewal_payload(payload()) == payload()
    assert validate_renewal_payload(payload(contact=...)) == payload(contact=...)
    assert validate_renewal_payload(payload(options={"electronic_certificates": False}))
    assert validate_renewal_request(request()) == request()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"photo_jpeg_base64": "abc"}, "payload.photo_jpeg_base64"),
        ({"photo_jpeg_base64": "AA-_"}, "payload.photo_jpeg_base64"),
        ({"photo_jpeg_base64": "A" * (payloads.PHOTO_BASE64_MAX + 4)}, "payload.photo_jpeg_base64"),
        ({"contact": {"email": "no-at-sign"}}, "payload.contact.email"),
        ({"options": ...}, "payload"),
        ({"options": None}, "payload.options"),
        ({"options": {"braille_name": "ア"}}, "payload.options"),
        ({"options": {"electronic_certificates": "true"}}, "payload.options.electronic_certificates"),
        ({"options": {"electronic_certificates": 1}}, "payload.options.electronic_certificates"),
        ({"options": {"electronic_certificates": True, "braille_name": "ア" * 12}}, "payload.options.braille_name"),
        ({"options": {"electronic_certificates": True, "braille_name": "あいう"}}, "payload.options.braille_name"),
        ({"options": {"electronic_certificates": True, "braille_name": ""}}, "payload.options.braille_name"),
        ({"options": {"electronic_certificates": True, "colour": "red"}}, "payload.options"),
        ({"submitted_at": "2026-12-14T10:00:00"}, "payload.submitted_at"),
        ({"my_number": "123456789018"}, "payload"),
        ({"application_id": "98760000000000000000001"}, "payload"),
    ],
)
def test_each_payload_rule(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        validate_renewal_payload(payload(**changes))
    assert caught.value.field == field
    assert "123456789018" not in str(caught.value)  # never the value


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"nonce": "short"}, "nonce"),
        ({"auth_certificate": "not base64!"}, "auth_certificate"),
        ({"auth_certificate": "A" * 9000}, "auth_certificate"),
        ({"signature": ""}, "signature"),
        ({"payload": None}, "payload"),
        ({"extra": 1}, "renewal"),
    ],
)
def test_each_request_rule(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        validate_renewal_request(request(**changes))
    assert caught.value.field == field


def test_the_application_takes_the_same_options_and_they_stay_optional() -> None:
    base = {
        "application_id": "98760000000000000000001",
        "photo_jpeg_base64": PHOTO,
        "submitted_at": "2026-11-26T10:00:00+09:00",
    }
    assert validate_application(base) == base  # a kiosk from before options existed
    assert validate_application({**base, "options": None})
    assert validate_application({**base, "options": {"electronic_certificates": False, "braille_name": "ミホン"}})
    with pytest.raises(PayloadInvalid) as caught:
        validate_application({**base, "options": {"electronic_certificates": True, "braille_name": "ミ" * 12}})
    assert caught.value.field == "options.braille_name"
    assert payloads.effective_options(None) == {"electronic_certificates": True, "braille_name": None}
    assert payloads.effective_options({"electronic_certificates": False}) == {
        "electronic_certificates": False,
        "braille_name": None,
    }
    assert validate_options(None) is None


def test_the_braille_alphabet_is_the_kiosk_pads() -> None:
    """Whatever the kiosk's braille pad lets a resident type, the contract accepts (kiosk/core/input.py)."""
    from kiosk.core.input import BRAILLE_NAME, KATAKANA

    assert payloads.is_braille_name(KATAKANA[: BRAILLE_NAME.max_length])
    assert all(payloads.is_braille_name(ch) for ch in KATAKANA)
    assert not payloads.is_braille_name("ア" * (BRAILLE_NAME.max_length + 1))
