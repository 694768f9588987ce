"""Card-info integrity parsing: each refusal in words, the key-size limits, and "not read" rows.

Found untested by the mutation run (docs/mutation.md); comments name the mutmut 3.8 mutants of
``drivers.mynumber.integrity`` each test kills.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from drivers.errors import ProtocolError
from drivers.mynumber import integrity
from drivers.mynumber.integrity import check_card_info, parse_cv_public_key
from drivers.tlv import encode

ODD_1024_BITS = (1 << 1023) | 1


def key_tlvs(exponent: bytes, modulus: int) -> bytes:
    return encode(0x90, exponent) + encode(0x91, modulus.to_bytes((modulus.bit_length() + 7) // 8, "big"))


@pytest.mark.parametrize(
    ("parse", "data", "message"),
    [
        (lambda d: integrity.outer_children(d, 0xFF20), encode(0x30, b""), "expected tag FF20, found 30"),
        (integrity.my_number_digest, bytes(16), "My Number EF must be 17 bytes, got 16"),
        (integrity.basic4_digest, encode(0xFF20, encode(0xDF21, b"\x00")), "basic 4 EF has no name field (DF22)"),
        (integrity.parse_text_signature, encode(0xFF30, encode(0xFF31, bytes(32))),
         "EF 0003 must hold FF31, FF32 and FF33 in this order"),
        (integrity.parse_text_signature,
         encode(0xFF30, encode(0xFF31, bytes(31)) + encode(0xFF32, bytes(32)) + encode(0xFF33, b"s")),
         "EF 0003 digests must be 32-byte SHA-256 values"),
        (integrity.parse_text_signature,
         encode(0xFF30, encode(0xFF31, bytes(32)) + encode(0xFF32, bytes(32)) + encode(0xFF33, b"")),
         "EF 0003 signature is empty"),
        (integrity.parse_cv_certificate, encode(0x7F21, encode(0x5F37, b"")),
         "CV certificate must hold 5F4E then 5F37"),
        (parse_cv_public_key, encode(0x90, b"\x03"),
         "public key must be an exponent (tag 16) followed by a modulus (tag 17)"),
        (parse_cv_public_key, key_tlvs(b"", ODD_1024_BITS), "public key exponent has an unusable length"),
        (parse_cv_public_key, key_tlvs(b"\x01" * 9, ODD_1024_BITS), "public key exponent has an unusable length"),
        (parse_cv_public_key, key_tlvs(b"\x03", (1 << 1022) | 1), "public key modulus of 1023 bits is out of range"),
        (parse_cv_public_key, key_tlvs(b"\x03", (1 << 4096) | 1), "public key modulus of 4097 bits is out of range"),
        (parse_cv_public_key, key_tlvs(b"\x02", ODD_1024_BITS), "public key numbers are not a valid RSA key"),
    ],
)
def test_malformed_card_info_is_refused_in_words(parse: Callable[[bytes], object], data: bytes, message: str) -> None:
    """Kills the message mutants of x_outer_children 4, x_my_number_digest 2, x_basic4_digest 8–11,
    x_parse_text_signature 7–10/15/17–20, x_parse_cv_certificate 7–10 and x_parse_cv_public_key 11–13,
    21–23, 34, 45–48; the empty exponent also kills x_parse_cv_public_key 19 (``0 <=``)."""
    with pytest.raises(ProtocolError) as caught:
        parse(data)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("exponent", "modulus"),
    [(b"\x03", ODD_1024_BITS), ((1 << 63 | 1).to_bytes(8, "big"), ODD_1024_BITS), (b"\x01\x00\x01", (1 << 4095) | 1)],
    ids=["1-byte-exponent", "8-byte-exponent", "4096-bit-modulus"],
)
def test_keys_at_the_limits_are_accepted(exponent: bytes, modulus: int) -> None:
    """Kills x_parse_cv_public_key 18 (1-byte exponent), 20 (8-byte exponent), 32 (1024 bits) and 33 (4096)."""
    key = parse_cv_public_key(key_tlvs(exponent, modulus))
    assert key.public_numbers().n == modulus
    assert key.public_numbers().e == int.from_bytes(exponent, "big")


def test_digests_are_not_checked_when_ef_0003_was_not_read() -> None:
    """Kills x__digest_check 16: an EF 0003 that was not read leaves the digests "not checked", not failed."""
    results = check_card_info(bytes(17), encode(0xFF20, encode(0xDF22, b"x")), None, None, {})
    assert [(r.name, r.status, r.reason) for r in results] == [
        ("my_number_digest", "not_checked", "not_read"),
        ("basic4_digest", "not_checked", "not_read"),
        ("card_info_signature", "not_checked", "not_read"),
        ("card_info_certificate", "not_checked", "not_read"),
    ]
