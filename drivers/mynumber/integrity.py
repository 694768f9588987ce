"""Card-info integrity data (text AP EF 0003/0004, card-protocol.md §4.3/§4.4): the one definition.

The simulator signs with these definitions and the verifier recomputes them, so both sides must share a
single source of truth: if the digest coverage were defined twice, a simulator and a verifier could agree
with each other while both disagreeing with a real card. Everything here is a pure function over bytes
(the server uses it too). Card data is hostile: parsers raise only ``ProtocolError``/``TlvError``, and
``check_card_info`` turns even those into failed checks so one bad EF never hides the other results.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from drivers.errors import ProtocolError, TlvError
from drivers.tlv import Tlv, encode, parse_all, parse_one

# --- tags and sizes (§4) -----------------------------------------------------------------------------
TAG_MY_NUMBER = 0xFF10
TAG_BASIC4 = 0xFF20
TAG_OFFSETS = 0xDF21
TAG_NAME, TAG_ADDRESS, TAG_BIRTH, TAG_SEX = 0xDF22, 0xDF23, 0xDF24, 0xDF25
TAG_TEXT_SIGNATURE = 0xFF30
TAG_MY_NUMBER_DIGEST, TAG_BASIC4_DIGEST, TAG_SIGNATURE = 0xFF31, 0xFF32, 0xFF33
TAG_CV_CERTIFICATE, TAG_CV_BODY, TAG_CV_SIGNATURE = 0x7F21, 0x5F4E, 0x5F37
# UNCONFIRMED: the sources agree on tag numbers 16 and 17 but not on the class byte. We write the context
# class (0x90/0x91) and also accept the private class (0xD0/0xD1) when parsing: the bytes are covered by
# the certificate signature, so leniency about the class cannot let a forged key through.
TAG_EXPONENT, TAG_MODULUS = 0x90, 0x91
_EXPONENT_TAGS, _MODULUS_TAGS = (0x90, 0xD0), (0x91, 0xD1)

MY_NUMBER_EF_SIZE = 17
DIGEST_SIZE = 32
TEXT_SIGNATURE_SIZE = 336
CV_CERTIFICATE_SIZE = 568
CV_ID_SIZE = 16
CV_BODY_SIZE = 297
CV_PUBLIC_KEY_SIZE = 265
RSA_SIGNATURE_SIZE = 256
# Bounds on keys read from a card: a hostile card must not make us run a 16 MiB modexp.
_MIN_MODULUS_BITS, _MAX_MODULUS_BITS, _MAX_EXPONENT_BYTES = 1024, 4096, 8


def outer_children(data: bytes, tag: int) -> tuple[Tlv, list[Tlv]]:
    """The outer TLV of an EF (trailing padding ignored) and its parsed children; wrong tag = malformed."""
    outer = parse_one(data)
    if outer.tag != tag:
        raise ProtocolError(f"expected tag {tag:X}, found {outer.tag:X}")
    return outer, outer.children()


# --- digests (what FF31 and FF32 cover) ----------------------------------------------------------------


def my_number_digest(ef17: bytes) -> bytes:
    """FF31: SHA-256 over the 17 bytes of the My Number EF, padding included (§4.1).

    Takes the raw EF as read, not the parsed number: the card hashes bytes, and re-encoding would hide a
    card whose padding differs.
    """
    if len(ef17) < MY_NUMBER_EF_SIZE:
        raise ProtocolError(f"My Number EF must be {MY_NUMBER_EF_SIZE} bytes, got {len(ef17)}")
    return hashlib.sha256(ef17[:MY_NUMBER_EF_SIZE]).digest()


def basic4_digest(basic4_ef: bytes) -> bytes:
    """FF32: SHA-256 over the bytes from the DF22 tag to the end of the FF20 value (padding excluded).

    The DF21 offset header is deliberately outside the digest (§4.3); EF padding after FF20 is outside too.
    """
    outer, children = outer_children(basic4_ef, TAG_BASIC4)
    for child in children:
        if child.tag == TAG_NAME:
            return hashlib.sha256(outer.value[child.offset :]).digest()
    raise TlvError("basic 4 EF has no name field (DF22)")


def text_signed_data(my_number_hash: bytes, basic4_hash: bytes) -> bytes:
    """What FF33 signs: the complete FF31 TLV followed by the complete FF32 TLV (70 bytes)."""
    return encode(TAG_MY_NUMBER_DIGEST, my_number_hash) + encode(TAG_BASIC4_DIGEST, basic4_hash)


# --- EF 0003 -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextSignature:
    """EF 0003 split up; ``signed_data`` is the exact stored bytes FF33 covers (not a re-encoding)."""

    my_number_hash: bytes
    basic4_hash: bytes
    signature: bytes
    signed_data: bytes


def parse_text_signature(ef0003: bytes) -> TextSignature:
    """Split EF 0003 into its digests, signature and signed bytes. Structure only, no verification."""
    outer, children = outer_children(ef0003, TAG_TEXT_SIGNATURE)
    if [c.tag for c in children] != [TAG_MY_NUMBER_DIGEST, TAG_BASIC4_DIGEST, TAG_SIGNATURE]:
        raise ProtocolError("EF 0003 must hold FF31, FF32 and FF33 in this order")
    first, second, signature = children
    if len(first.value) != DIGEST_SIZE or len(second.value) != DIGEST_SIZE:
        raise ProtocolError(f"EF 0003 digests must be {DIGEST_SIZE}-byte SHA-256 values")
    if not signature.value:
        raise ProtocolError("EF 0003 signature is empty")
    return TextSignature(first.value, second.value, signature.value, outer.value[: second.end])


# --- EF 0004: card-verifiable certificate -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CvCertificate:
    """EF 0004: ``signature`` covers ``body`` = issuer id | subject id | public key."""

    issuer_id: bytes
    subject_id: bytes
    public_key: rsa.RSAPublicKey
    body: bytes
    signature: bytes


def parse_cv_public_key(data: bytes) -> rsa.RSAPublicKey:
    """The e/n TLV pair (tag numbers 16 then 17) as an RSA key; ProtocolError if malformed or unusable."""
    items = parse_all(data)
    if len(items) != 2 or items[0].tag not in _EXPONENT_TAGS or items[1].tag not in _MODULUS_TAGS:
        raise ProtocolError("public key must be an exponent (tag 16) followed by a modulus (tag 17)")
    exponent_bytes, modulus_bytes = items[0].value, items[1].value
    if not 0 < len(exponent_bytes) <= _MAX_EXPONENT_BYTES:
        raise ProtocolError("public key exponent has an unusable length")
    modulus = int.from_bytes(modulus_bytes, "big")
    if not _MIN_MODULUS_BITS <= modulus.bit_length() <= _MAX_MODULUS_BITS:
        raise ProtocolError(f"public key modulus of {modulus.bit_length()} bits is out of range")
    try:
        return rsa.RSAPublicNumbers(int.from_bytes(exponent_bytes, "big"), modulus).public_key()
    except (ValueError, TypeError) as exc:
        raise ProtocolError("public key numbers are not a valid RSA key") from exc


def parse_cv_certificate(ef0004: bytes) -> CvCertificate:
    """Parse EF 0004 (trailing FF padding allowed). Structure only; ``check_card_info`` verifies."""
    _, children = outer_children(ef0004, TAG_CV_CERTIFICATE)
    if [c.tag for c in children] != [TAG_CV_BODY, TAG_CV_SIGNATURE]:
        raise ProtocolError("CV certificate must hold 5F4E then 5F37")
    body, signature = children[0].value, children[1].value
    if len(body) != CV_BODY_SIZE:
        raise ProtocolError(f"CV certificate body must be {CV_BODY_SIZE} bytes, got {len(body)}")
    if len(signature) != RSA_SIGNATURE_SIZE:
        raise ProtocolError(f"CV certificate signature must be {RSA_SIGNATURE_SIZE} bytes")
    return CvCertificate(
        issuer_id=body[:CV_ID_SIZE],
        subject_id=body[CV_ID_SIZE : 2 * CV_ID_SIZE],
        public_key=parse_cv_public_key(body[2 * CV_ID_SIZE :]),
        body=body,
        signature=signature,
    )


def verify_pkcs1_sha256(public_key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    """RSASSA-PKCS1-v1_5 / SHA-256, the scheme of every card-info signature; False instead of raising."""
    try:
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


# --- the checks -------------------------------------------------------------------------------------------

CheckStatus = Literal["passed", "failed", "not_checked"]

CHECK_MY_NUMBER_DIGEST = "my_number_digest"
CHECK_BASIC4_DIGEST = "basic4_digest"
CHECK_TEXT_SIGNATURE = "card_info_signature"
CHECK_CV_CERTIFICATE = "card_info_certificate"

# Machine-readable reasons (the UI and the server map them; never free text with card data in it).
REASON_DIGEST_MISMATCH = "digest_mismatch"
REASON_BAD_SIGNATURE = "bad_signature"
REASON_UNKNOWN_ISSUER = "unknown_card_info_issuer"
REASON_NOT_READ = "not_read"
REASON_MALFORMED_MY_NUMBER = "malformed_my_number_ef"
REASON_MALFORMED_BASIC4 = "malformed_basic4_ef"
REASON_MALFORMED_SIGNATURE_EF = "malformed_ef0003"
REASON_MALFORMED_CV_CERTIFICATE = "malformed_ef0004"


_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One verification step: ``reason`` is None when passed, else a machine-readable string."""

    name: str
    status: CheckStatus
    reason: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def _parsed(data: bytes | None, parser: Callable[[bytes], _T], malformed: str) -> _T | str:
    """Parse or return the reason why not, so every check can still be reported."""
    if data is None:
        return REASON_NOT_READ
    try:
        return parser(data)
    except ProtocolError:  # TlvError is a ProtocolError
        return malformed


def _status_for(reason: str) -> CheckStatus:
    return "not_checked" if reason == REASON_NOT_READ else "failed"


def _digest_check(
    name: str, ef: bytes | None, digest: Callable[[bytes], bytes], malformed: str, expected: bytes | str
) -> CheckResult:
    if ef is None:
        return CheckResult(name, "not_checked", REASON_NOT_READ)
    if isinstance(expected, str):
        return CheckResult(name, _status_for(expected), expected)
    computed = _parsed(ef, digest, malformed)
    if isinstance(computed, str):
        return CheckResult(name, _status_for(computed), computed)
    if computed != expected:
        return CheckResult(name, "failed", REASON_DIGEST_MISMATCH)
    return CheckResult(name, "passed")


def check_card_info(
    my_number_ef: bytes | None,
    basic4_ef: bytes | None,
    ef0003: bytes | None,
    ef0004: bytes | None,
    cv_roots: Mapping[bytes, rsa.RSAPublicKey],
) -> list[CheckResult]:
    """The four steps of §4.3, each reported separately and always in this order.

    An EF passed as None was not read (for example EF 0001 when only PIN B was entered): the checks that
    need it are ``not_checked``. Malformed data fails the checks that need it, never raises: a verdict
    must say *which* step broke. A passed digest means nothing unless the signature and the certificate
    pass too — combining them is the verifier's job, not this function's.
    """
    signature_ef = _parsed(ef0003, parse_text_signature, REASON_MALFORMED_SIGNATURE_EF)
    certificate = _parsed(ef0004, parse_cv_certificate, REASON_MALFORMED_CV_CERTIFICATE)

    results = [
        _digest_check(
            CHECK_MY_NUMBER_DIGEST,
            my_number_ef,
            my_number_digest,
            REASON_MALFORMED_MY_NUMBER,
            signature_ef if isinstance(signature_ef, str) else signature_ef.my_number_hash,
        ),
        _digest_check(
            CHECK_BASIC4_DIGEST,
            basic4_ef,
            basic4_digest,
            REASON_MALFORMED_BASIC4,
            signature_ef if isinstance(signature_ef, str) else signature_ef.basic4_hash,
        ),
    ]

    if isinstance(signature_ef, str):
        results.append(CheckResult(CHECK_TEXT_SIGNATURE, _status_for(signature_ef), signature_ef))
    elif isinstance(certificate, str):
        results.append(CheckResult(CHECK_TEXT_SIGNATURE, _status_for(certificate), certificate))
    elif verify_pkcs1_sha256(certificate.public_key, signature_ef.signature, signature_ef.signed_data):
        results.append(CheckResult(CHECK_TEXT_SIGNATURE, "passed"))
    else:
        results.append(CheckResult(CHECK_TEXT_SIGNATURE, "failed", REASON_BAD_SIGNATURE))

    if isinstance(certificate, str):
        results.append(CheckResult(CHECK_CV_CERTIFICATE, _status_for(certificate), certificate))
    else:
        root = cv_roots.get(certificate.issuer_id)
        if root is None:
            results.append(CheckResult(CHECK_CV_CERTIFICATE, "failed", REASON_UNKNOWN_ISSUER))
        elif verify_pkcs1_sha256(root, certificate.signature, certificate.body):
            results.append(CheckResult(CHECK_CV_CERTIFICATE, "passed"))
        else:
            results.append(CheckResult(CHECK_CV_CERTIFICATE, "failed", REASON_BAD_SIGNATURE))
    return results
