"""The renewal application made with an existing card: what the card signs, and the payload it covers.

A resident whose card certificate is in its renewal window applies at the kiosk with the card itself instead
of a paper form: the kiosk asks the central server for a single-use nonce (``POST /v1/renewals/nonces``), the
card signs with its user-authentication key (after the auth PIN), and the kiosk sends the nonce, the auth
certificate, the signature and the payload (``POST /v1/renewals``). The server accepts it only when the
signature verifies over exactly these bytes::

    renewal_message(nonce, payload) = RENEWAL_DOMAIN || nonce (32 bytes) || SHA-256(canonical_payload(payload))

* **Domain separation.** The auth key also signs logins (JPKI user authentication signs whatever challenge a
  relying party sends) and any other protocol a future kiosk feature may add. The fixed prefix — ASCII text
  ending in a NUL, so no printable challenge can start with it — makes a signature over a renewal worthless as
  anything else (it cannot be replayed as a login, or as a signature of another version of this protocol),
  and a signature made for anything else worthless as a renewal. The version is in the prefix: a v2 message
  can never verify as v1.
* **The nonce** binds the signature to one request the server issued to one kiosk, once: it is fixed-length
  (32 bytes), so the boundary between nonce and hash needs no length field.
* **The payload is hashed in canonical JSON** (``canonical_payload``: sorted keys, no spaces, UTF-8 without
  ``\\u`` escapes), so the server recomputes the same bytes from the JSON object it received, however the
  kiosk's HTTP library spaced or ordered it, and any change to any field (the photo, the contact, the options)
  breaks the signature.
* **What the card signs** is ``digest_info(message)``: the DER DigestInfo of SHA-256 over the message (the host
  hashes; the card adds PKCS#1 v1.5 type-1 padding and does RSA, card-protocol.md §2). The server verifies
  with ``cryptography``'s ``PKCS1v15()`` + ``SHA256()`` over ``message`` itself — the same signature.

``validate_renewal_payload`` checks the payload with the same field rules as the application
(``contract.payloads``: photo base64, contact, options, RFC 3339 times); the photo *content* rules are
``contract.photo``'s, applied by the server after the signature. Pure: no I/O, no framework.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

from contract.payloads import (
    Contact,
    Options,
    PayloadInvalid,
    _object,
    parse_timestamp,
    validate_contact,
    validate_options,
    validate_photo_field,
)

RENEWAL_DOMAIN = b"mynumber-kiosk/renewal/v1\x00"
NONCE_BYTES = 32
# base64url of the 32 nonce bytes, without padding: exactly 43 characters.
NONCE_PATTERN = r"^[A-Za-z0-9_-]{43}$"
# DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2 note 1): SEQUENCE { AlgorithmIdentifier sha256 NULL,
# OCTET STRING (32) }; the 32-byte hash follows.
SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
DIGEST_INFO_LENGTH = len(SHA256_DIGEST_INFO_PREFIX) + 32  # 51 bytes
# An RSA-2048 auth certificate is ~1.6 KB; the base64 limits leave room for larger keys, not for abuse.
MAX_CERTIFICATE_BASE64 = 8192
MAX_SIGNATURE_BASE64 = 1024

_NONCE = re.compile(NONCE_PATTERN)


class RenewalPayload(TypedDict):
    """What the resident applies for; the ``payload`` of ``POST /v1/renewals`` (covered by the signature)."""

    photo_jpeg_base64: str
    contact: NotRequired[Contact | None]
    options: Options
    submitted_at: str


class RenewalRequest(TypedDict):
    """The body of ``POST /v1/renewals`` and the kiosk outbox's ``renewal`` item."""

    nonce: str  # base64url, 43 characters (``encode_nonce``)
    auth_certificate: str  # standard base64 of the auth certificate's DER, as read from the card
    signature: str  # standard base64 of the card's signature over digest_info(renewal_message(...))
    payload: RenewalPayload


_PAYLOAD_FIELDS = frozenset(RenewalPayload.__annotations__)
_PAYLOAD_REQUIRED = _PAYLOAD_FIELDS - {"contact"}
_REQUEST_FIELDS = frozenset(RenewalRequest.__annotations__)


def canonical_payload(payload: Mapping[str, Any]) -> bytes:
    """The payload as the signature covers it: JSON, sorted keys, ``,``/``:`` separators, UTF-8 as is.

    Raises ``PayloadInvalid`` for something JSON cannot hold or UTF-8 cannot encode (a lone surrogate),
    so kiosk and server fail the same way instead of hashing different bytes.
    """
    try:
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return text.encode("utf-8")
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise PayloadInvalid("payload", "cannot be written as canonical UTF-8 JSON") from exc


def renewal_message(nonce: bytes, payload: Mapping[str, Any]) -> bytes:
    """``RENEWAL_DOMAIN || nonce || SHA-256(canonical_payload(payload))`` — what the signature is over."""
    if not isinstance(nonce, bytes | bytearray) or len(nonce) != NONCE_BYTES:
        raise ValueError(f"a renewal nonce is exactly {NONCE_BYTES} bytes")
    return RENEWAL_DOMAIN + bytes(nonce) + hashlib.sha256(canonical_payload(payload)).digest()


def digest_info(message: bytes) -> bytes:
    """The DER DigestInfo of SHA-256(``message``): the 51 bytes the card pads (PKCS#1 v1.5) and signs."""
    return SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(message).digest()


def encode_nonce(nonce: bytes) -> str:
    """The nonce as the API carries it: base64url without padding (43 characters)."""
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"a renewal nonce is exactly {NONCE_BYTES} bytes")
    return base64.urlsafe_b64encode(nonce).rstrip(b"=").decode("ascii")


def decode_nonce(text: object, field: str = "nonce") -> bytes:
    """The 32 nonce bytes from their base64url text; ``PayloadInvalid`` for anything else."""
    if not isinstance(text, str) or _NONCE.fullmatch(text) is None:
        raise PayloadInvalid(field, "must be the nonce the server issued (43 base64url characters)")
    raw = base64.urlsafe_b64decode(text + "=")
    if encode_nonce(raw) != text:  # the last character carries 2 unused bits: one spelling only
        raise PayloadInvalid(field, "is not canonical base64url")
    return raw


def decode_base64_field(text: object, field: str, *, maximum: int) -> bytes:
    """Strict standard base64 (no whitespace, no URL alphabet) of at most ``maximum`` characters."""
    if not isinstance(text, str) or not 4 <= len(text) <= maximum:
        raise PayloadInvalid(field, f"must be standard base64 of 4-{maximum} characters")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PayloadInvalid(field, "is not valid standard base64") from None


def validate_renewal_payload(payload: object) -> RenewalPayload:
    """The ``payload`` object: photo (as in an application), contact (optional), options, submitted_at."""
    body = _object(payload, "payload", _PAYLOAD_FIELDS, _PAYLOAD_REQUIRED)
    validate_photo_field(body["photo_jpeg_base64"], "payload.photo_jpeg_base64")
    validate_contact(body.get("contact"), "payload.contact")
    if body["options"] is None:
        raise PayloadInvalid("payload.options", "is required for a renewal")
    validate_options(body["options"], "payload.options")
    parse_timestamp(body["submitted_at"], "payload.submitted_at")
    return body  # type: ignore[return-value]


def validate_renewal_request(body: object) -> RenewalRequest:
    """The whole body (and outbox item): the nonce, certificate and signature encodings, then the payload.

    Only the form is checked: whether the certificate is trusted and the signature verifies is the
    server's decision (a city is the JPKI verifier; a kiosk is not).
    """
    request = _object(body, "renewal", _REQUEST_FIELDS, _REQUEST_FIELDS)
    decode_nonce(request["nonce"])
    decode_base64_field(request["auth_certificate"], "auth_certificate", maximum=MAX_CERTIFICATE_BASE64)
    decode_base64_field(request["signature"], "signature", maximum=MAX_SIGNATURE_BASE64)
    validate_renewal_payload(request["payload"])
    return request  # type: ignore[return-value]


__all__ = [
    "DIGEST_INFO_LENGTH",
    "MAX_CERTIFICATE_BASE64",
    "MAX_SIGNATURE_BASE64",
    "NONCE_BYTES",
    "NONCE_PATTERN",
    "RENEWAL_DOMAIN",
    "SHA256_DIGEST_INFO_PREFIX",
    "RenewalPayload",
    "RenewalRequest",
    "canonical_payload",
    "decode_base64_field",
    "decode_nonce",
    "digest_info",
    "encode_nonce",
    "renewal_message",
    "validate_renewal_payload",
    "validate_renewal_request",
]
