"""Byte layouts of every EF the simulated card holds, as card-protocol.md §4 documents them.

Pure functions (bytes and keys in, bytes out). The card-info digests and parsers the verifier recomputes
are defined once in drivers.mynumber.integrity and used from there, so the simulator signs exactly what
the verifier checks (a ``tampered`` profile deliberately feeds them different bytes). Where the public
sources leave a detail open the choice made here is marked UNCONFIRMED.
"""

from __future__ import annotations

from datetime import date

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from drivers.errors import ProtocolError, TlvError

# The tags, sizes, digests and parsers of the card-info integrity data have ONE definition, in
# drivers.mynumber.integrity (the verifier's side); they are re-exported here (see __all__) so the
# encoders below and their callers use the very same definitions.
from drivers.mynumber.integrity import (
    CV_BODY_SIZE,
    CV_CERTIFICATE_SIZE,
    CV_ID_SIZE,
    CV_PUBLIC_KEY_SIZE,
    MY_NUMBER_EF_SIZE,
    RSA_SIGNATURE_SIZE,
    TAG_ADDRESS,
    TAG_BASIC4,
    TAG_BASIC4_DIGEST,
    TAG_BIRTH,
    TAG_CV_BODY,
    TAG_CV_CERTIFICATE,
    TAG_CV_SIGNATURE,
    TAG_EXPONENT,
    TAG_MODULUS,
    TAG_MY_NUMBER,
    TAG_MY_NUMBER_DIGEST,
    TAG_NAME,
    TAG_OFFSETS,
    TAG_SEX,
    TAG_SIGNATURE,
    TAG_TEXT_SIGNATURE,
    TEXT_SIGNATURE_SIZE,
    CvCertificate,
    TextSignature,
    basic4_digest,
    my_number_digest,
    outer_children,
    parse_cv_certificate,
    parse_cv_public_key,
    parse_text_signature,
    text_signed_data,
)
from drivers.tlv import encode

__all__ = [
    "CV_BODY_SIZE",
    "CV_CERTIFICATE_SIZE",
    "CV_ID_SIZE",
    "CV_PUBLIC_KEY_SIZE",
    "JPKI_TOKEN",
    "JPKI_TOKEN_SIZE",
    "MY_NUMBER_EF_SIZE",
    "RSA_SIGNATURE_SIZE",
    "TAG_ADDRESS",
    "TAG_BASIC4",
    "TAG_BASIC4_DIGEST",
    "TAG_BIRTH",
    "TAG_CV_BODY",
    "TAG_CV_CERTIFICATE",
    "TAG_CV_SIGNATURE",
    "TAG_EXPONENT",
    "TAG_MODULUS",
    "TAG_MY_NUMBER",
    "TAG_MY_NUMBER_DIGEST",
    "TAG_NAME",
    "TAG_OFFSETS",
    "TAG_SEX",
    "TAG_SIGNATURE",
    "TAG_SURFACE",
    "TAG_SURFACE_ADDRESS_PNG",
    "TAG_SURFACE_BIRTH",
    "TAG_SURFACE_CODE_PNG",
    "TAG_SURFACE_EXPIRY",
    "TAG_SURFACE_FACE",
    "TAG_SURFACE_NAME_PNG",
    "TAG_SURFACE_PUBLIC_KEY",
    "TAG_SURFACE_SEX",
    "TAG_SURFACE_SIGNATURE",
    "TAG_TEXT_SIGNATURE",
    "TEXT_SIGNATURE_SIZE",
    "CvCertificate",
    "TextSignature",
    "basic4_digest",
    "basic4_ef",
    "cv_certificate",
    "cv_public_key",
    "jpki_token",
    "juki_record",
    "my_number_digest",
    "my_number_ef",
    "parse_cv_certificate",
    "parse_cv_public_key",
    "parse_text_signature",
    "surface_ap_basic_info",
    "surface_birth_ef",
    "surface_entries_ef",
    "surface_my_number_ef",
    "surface_signed_data",
    "text_ap_basic_info",
    "text_auth_key_ef",
    "text_signature_ef",
    "text_signed_data",
    "yyyymmdd",
]

# --- tags of the visual AP ---------------------------------------------------------------------------
TAG_SURFACE = 0xFF20
(
    TAG_SURFACE_BIRTH,
    TAG_SURFACE_SEX,
    TAG_SURFACE_PUBLIC_KEY,
    TAG_SURFACE_NAME_PNG,
    TAG_SURFACE_ADDRESS_PNG,
    TAG_SURFACE_FACE,
    TAG_SURFACE_SIGNATURE,
    TAG_SURFACE_EXPIRY,
    TAG_SURFACE_CODE_PNG,
) = range(0xDF22, 0xDF2B)

JPKI_TOKEN = b"JPKIAPICCTOKEN2"
JPKI_TOKEN_SIZE = 32


# --- small helpers -----------------------------------------------------------------------------------


def yyyymmdd(value: date) -> bytes:
    return value.strftime("%Y%m%d").encode("ascii")


def _sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _offset_container(outer_tag: int, fields: list[bytes]) -> bytes:
    """``outer 82 LL LL { DF21 <16-bit EF offsets of each field> , fields… }`` as basic 4 and surface use.

    Offsets count from the start of the EF (i.e. of the outer tag) to each field's tag (MNB indexes the
    raw EF with them; derived).
    """
    outer_header = 2 + 3  # two-byte tag + 82 LL LL
    header_tlv = 3 + 2 * len(fields)  # DF 21 <len> <offsets>
    position = outer_header + header_tlv
    offsets = bytearray()
    for field in fields:
        offsets += position.to_bytes(2, "big")
        position += len(field)
    if position > 0xFFFF:
        raise ValueError("EF content exceeds the 16-bit offset range")
    return encode(outer_tag, encode(TAG_OFFSETS, bytes(offsets)) + b"".join(fields), long_form=True)


# --- JPKI AP -----------------------------------------------------------------------------------------


def jpki_token() -> bytes:
    """EF 0006: the token string of a My Number card, space padded to 32 bytes."""
    return JPKI_TOKEN.ljust(JPKI_TOKEN_SIZE, b" ")


# --- text AP (券面事項入力補助AP) ---------------------------------------------------------------------


def my_number_ef(my_number: str) -> bytes:
    """EF 0001 content (15 bytes): ``FF 10 0C`` + 12 ASCII digits; the EF itself is 17 bytes."""
    if len(my_number) != 12 or not my_number.isascii() or not my_number.isdigit():
        raise ValueError("a My Number is 12 ASCII digits")
    return encode(TAG_MY_NUMBER, my_number.encode("ascii"))


def basic4_ef(name: str, address: str, birth_date: date, sex: str) -> bytes:
    """EF 0002 content: ``FF20 82 LL LL {DF21 offsets, DF22 name, DF23 address, DF24 birth, DF25 sex}``."""
    if sex not in ("1", "2", "9"):
        raise ValueError("sex is an ISO 5218 digit: 1, 2 or 9")
    fields = [
        encode(TAG_NAME, name.encode("utf-8")),
        encode(TAG_ADDRESS, address.encode("utf-8")),
        encode(TAG_BIRTH, yyyymmdd(birth_date)),
        encode(TAG_SEX, sex.encode("ascii")),
    ]
    return _offset_container(TAG_BASIC4, fields)


def text_signature_ef(my_number_hash: bytes, basic4_hash: bytes, signer: rsa.RSAPrivateKey) -> bytes:
    """EF 0003 (336 bytes): ``FF30 82 01 4B {FF31 20 …, FF32 20 …, FF33 82 01 00 <signature>}``."""
    if len(my_number_hash) != 32 or len(basic4_hash) != 32:
        raise ValueError("digests are 32-byte SHA-256 values")
    signed = text_signed_data(my_number_hash, basic4_hash)
    signature = encode(TAG_SIGNATURE, _sign(signer, signed), long_form=True)
    return encode(TAG_TEXT_SIGNATURE, signed + signature, long_form=True)


def text_ap_basic_info(ap_info: bytes, key_id: bytes) -> bytes:
    """EF 0005: ``FF40 {FF41 AP info (4 bytes), FF42 key id (16 bytes)}``."""
    if len(ap_info) != 4 or len(key_id) != 16:
        raise ValueError("AP info is 4 bytes and the key id 16 bytes")
    return encode(0xFF40, encode(0xFF41, ap_info) + encode(0xFF42, key_id))


def text_auth_key_ef(public_key: rsa.RSAPublicKey, signer: rsa.RSAPrivateKey) -> bytes:
    """EF 0007: ``FF50 {FF51 public key, FF52 signature}``.

    UNCONFIRMED: what FF52 signs and with which key; here the complete FF51 TLV, signed with the
    card-info signing key (the one certified in EF 0004), PKCS#1 v1.5 SHA-256.
    """
    key_tlv = encode(0xFF51, cv_public_key(public_key))
    return encode(0xFF50, key_tlv + encode(0xFF52, _sign(signer, key_tlv)))


# --- card-verifiable certificates (text and visual AP EF 0004) ---------------------------------------


def cv_public_key(public_key: rsa.RSAPublicKey) -> bytes:
    """The e/n pair: ``90 03 <e>`` ``91 82 01 00 <n>`` — 265 bytes for RSA-2048, e=65537."""
    numbers = public_key.public_numbers()
    exponent = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    modulus = numbers.n.to_bytes((public_key.key_size + 7) // 8, "big")
    return encode(TAG_EXPONENT, exponent) + encode(TAG_MODULUS, modulus)


def cv_certificate(
    issuer_id: bytes, subject_id: bytes, subject_key: rsa.RSAPublicKey, issuer_key: rsa.RSAPrivateKey
) -> bytes:
    """EF 0004 (568 bytes): ``7F21 82 02 33 {5F4E 82 01 29 <body 297>, 5F37 82 01 00 <signature>}``.

    Body = issuer id (16) | subject id (16) | public key (265); the signature is PKCS#1 v1.5 SHA-256 over
    the body with the issuer's key.
    """
    if len(issuer_id) != CV_ID_SIZE or len(subject_id) != CV_ID_SIZE:
        raise ValueError("CV certificate ids are 16 bytes")
    body = issuer_id + subject_id + cv_public_key(subject_key)
    if len(body) != CV_BODY_SIZE:
        raise ValueError("CV certificates carry an RSA-2048 key with e=65537")
    content = encode(TAG_CV_BODY, body, long_form=True) + encode(
        TAG_CV_SIGNATURE, _sign(issuer_key, body), long_form=True
    )
    return encode(TAG_CV_CERTIFICATE, content, long_form=True)


# --- visual AP (券面事項確認AP) -------------------------------------------------------------------------


def surface_entries_ef(
    *,
    birth_date: date,
    sex: str,
    public_key: rsa.RSAPublicKey,
    name_png: bytes,
    address_png: bytes,
    face_jp2: bytes,
    expiry: date,
    security_code_png: bytes,
    signer: rsa.RSAPrivateKey,
) -> bytes:
    """EF 0002: ``FF20 82 LL LL {DF21 offsets, DF22 … DF2A}`` (§4.5).

    UNCONFIRMED choices: birth and expiry as ASCII YYYYMMDD, sex as the ISO 5218 digit, DF24 = the
    signer's public key, and DF28 = PKCS#1 v1.5 SHA-256 over the DF22..DF27 TLVs as stored
    (``surface_signed_data``), signed with the visual AP's CV key.
    """
    signed_fields = [
        encode(TAG_SURFACE_BIRTH, yyyymmdd(birth_date)),
        encode(TAG_SURFACE_SEX, sex.encode("ascii")),
        encode(TAG_SURFACE_PUBLIC_KEY, cv_public_key(public_key)),
        encode(TAG_SURFACE_NAME_PNG, name_png),
        encode(TAG_SURFACE_ADDRESS_PNG, address_png),
        encode(TAG_SURFACE_FACE, face_jp2),
    ]
    signature = encode(TAG_SURFACE_SIGNATURE, _sign(signer, b"".join(signed_fields)))
    trailing = [encode(TAG_SURFACE_EXPIRY, yyyymmdd(expiry)), encode(TAG_SURFACE_CODE_PNG, security_code_png)]
    return _offset_container(TAG_SURFACE, [*signed_fields, signature, *trailing])


def surface_signed_data(ef: bytes) -> bytes:
    """What DF28 signs: the stored bytes from the DF22 tag to the end of DF27 (see ``surface_entries_ef``)."""
    outer, children = outer_children(ef, TAG_SURFACE)
    by_tag = {child.tag: child for child in children}
    try:
        first, last = by_tag[TAG_SURFACE_BIRTH], by_tag[TAG_SURFACE_FACE]
    except KeyError as exc:
        raise TlvError("surface EF lacks DF22 or DF27") from exc
    if last.end <= first.offset:
        raise ProtocolError("surface EF fields out of order")
    return outer.value[first.offset : last.end]


def surface_birth_ef(birth_date: date, public_key: rsa.RSAPublicKey, signer: rsa.RSAPrivateKey) -> bytes:
    """EF 0001: ``FF10 {FF11 YYYYMMDD, FF12 public key, FF13 signature over the FF11 and FF12 TLVs}``.

    UNCONFIRMED: birth format and signature coverage (only the tag structure is public).
    """
    signed = encode(0xFF11, yyyymmdd(birth_date)) + encode(0xFF12, cv_public_key(public_key))
    return encode(0xFF10, signed + encode(0xFF13, _sign(signer, signed)))


def surface_ap_basic_info(ap_info: bytes, key_id: bytes, version: int, municipality: str) -> bytes:
    """EF 0003: ``FF40 {FF41 AP info 4, FF42 key id 16, FF43 version 1, FF44 municipality UTF-8}``.

    UNCONFIRMED: MYNA-RS reads "AP id (4), one skipped item, version (1), city text"; the tags are ours.
    """
    if len(ap_info) != 4 or len(key_id) != 16 or not 0 <= version <= 255:
        raise ValueError("AP info is 4 bytes, key id 16 bytes, version one byte")
    value = (
        encode(0xFF41, ap_info)
        + encode(0xFF42, key_id)
        + encode(0xFF43, bytes((version,)))
        + encode(0xFF44, municipality.encode("utf-8"))
    )
    return encode(0xFF40, value)


def surface_my_number_ef(png: bytes, public_key: rsa.RSAPublicKey, signer: rsa.RSAPrivateKey) -> bytes:
    """EF 0005: ``FF40 {FF41 PNG, FF42 public key, FF43 signature over the FF41+FF42 TLVs}`` (UNCONFIRMED)."""
    signed = encode(0xFF41, png) + encode(0xFF42, cv_public_key(public_key))
    return encode(0xFF40, signed + encode(0xFF43, _sign(signer, signed)))


# --- 住基 AP -------------------------------------------------------------------------------------------


def juki_record(manufacture_number: str) -> bytes:
    """READ RECORD (SFI 1, record 1): a TLV whose value characters [2:15] are a manufacture number.

    UNCONFIRMED meaning and framing: MYNA-RS prints ``&s[2..15]`` of the value and calls it 製造番号;
    here the value is "TS" + the 13-character number + "0" (16 bytes) under tag 04.
    """
    if len(manufacture_number) != 13 or not manufacture_number.isascii():
        raise ValueError("manufacture number is 13 ASCII characters")
    return encode(0x04, b"TS" + manufacture_number.encode("ascii") + b"0")
