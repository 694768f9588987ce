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


# --- properties: well-formed input round-trips, malformed input raises TlvError ------------------------------

# Tags as the card uses them: one byte (primitive / constructed), two-byte private (DF22, FF20), 5F4E-style.
tags = st.one_of(st.sampled_from([0x04, 0x30, 0x5F37, 0x5F4E, 0x7F21, 0xDF21, 0xDF22, 0xFF10, 0xFF20]),
                 st.integers(0x01, 0x1E).map(lambda n: n | 0x80))
primitive = st.tuples(tags, st.binary(max_size=300), st.booleans())  # (tag, value, long-form length)


def encode_items(items: list[tuple[int, bytes, bool]]) -> bytes:
    return b"".join(tlv.encode(tag, value, long_form) for tag, value, long_form in items)


@given(st.lists(primitive, min_size=1, max_size=6), st.sampled_from([b"", b"\xff" * 7, b"\x00" * 3]))
def test_well_formed_tlvs_parse_to_what_was_encoded(items: list[tuple[int, bytes, bool]], padding: bytes) -> None:
    parsed = tlv.parse_all(encode_items(items) + padding)
    assert [(t.tag, t.value) for t in parsed] == [(tag, value) for tag, value, _ in items]
    outer = tlv.parse_one(tlv.encode(0xFF20, encode_items(items)) + padding)
    assert [(t.tag, t.value) for t in outer.children()] == [(tag, value) for tag, value, _ in items]


@given(st.lists(primitive, min_size=1, max_size=4), st.data())
def test_a_tlv_cut_inside_its_length_or_value_raises(items: list[tuple[int, bytes, bool]], data: st.DataObject) -> None:
    encoded = encode_items(items)
    last = tlv.parse_all(encoded)[-1]
    tag_size = len(tlv.encode_tag(last.tag))
    cut = data.draw(st.integers(last.offset + tag_size, last.end - 1), label="cut")
    with pytest.raises(TlvError):
        tlv.parse_all(encoded[:cut])


@given(st.binary(max_size=300))
def test_random_bytes_parse_consistently_or_raise_tlv_error(data: bytes) -> None:
    """Whatever parses is exactly the bytes it came from; anything else is a TlvError, never another error."""
    try:
        items = tlv.parse_all(data)
    except TlvError:
        return
    position = 0
    for item in items:
        assert item.offset == position and item.end <= len(data)
        assert data[item.offset + item.header_length : item.end] == item.value
        assert tlv.read_header(data, item.offset) == (item.tag, len(item.value), item.header_length)
        position = item.end
    assert set(data[position:]) <= {0xFF} or set(data[position:]) <= {0x00}  # only padding was skipped


def test_find_missing_tag() -> None:
    with pytest.raises(TlvError, match="DF99"):
        tlv.find(tlv.parse_all(tlv.encode(0xDF22, b"x")), 0xDF99)
