"""BER-TLV: the card's layouts parse, hostile input raises only TlvError."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers import tlv
from drivers.errors import TlvError


def test_two_byte_private_tags_and_long_form() -> None:
    inner = tlv.encode(0xDF22, "試験 太郎".encode()) + tlv.encode(0xDF25, b"1")
    outer = tlv.encode(0xFF20, inner, long_form=True)
    assert outer[:5] == b"\xff\x20\x82" + len(inner).to_bytes(2, "big")
    parsed = tlv.parse_one(outer + b"\xff" * 20)
    assert parsed.tag == 0xFF20 and parsed.constructed and parsed.header_length == 5
    fields = parsed.children()
    assert [f.tag for f in fields] == [0xDF22, 0xDF25]
    assert fields[0].value.decode() == "試験 太郎"


def test_header_gives_size_from_prefix() -> None:
    assert tlv.total_length(bytes.fromhex("3082062B")) == 1583
    assert tlv.read_header(bytes.fromhex("FF100C"))[:2] == (0xFF10, 12)


def test_padding_stops_iteration() -> None:
    data = tlv.encode(0xFF10, b"123456789018") + b"\xff\xff"
    assert [t.tag for t in tlv.parse_all(data)] == [0xFF10]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("30", "length expected"),
        ("3080", "indefinite"),
        ("3084FFFFFFFF", "not supported"),
        ("3082FF", "truncated"),
        ("30820100AA", "claims 256 bytes"),
        ("1F", "truncated"),
        ("1FFFFFFF01", "longer than 3 bytes"),
        ("", "data ends"),
    ],
)
def test_hostile_lengths(raw: str, reason: str) -> None:
    with pytest.raises(TlvError, match=reason):
        tlv.parse_one(bytes.fromhex(raw))


@given(st.binary(max_size=300))
def test_random_bytes_raise_only_tlv_error(data: bytes) -> None:
    try:
        for item in tlv.parse_all(data):
            assert item.end <= len(data)
            if item.constructed:
                item.children()
    except TlvError:
        pass


def test_find_missing_tag() -> None:
    with pytest.raises(TlvError, match="DF99"):
        tlv.find(tlv.parse_all(tlv.encode(0xDF22, b"x")), 0xDF99)
