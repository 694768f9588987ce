"""BER-TLV edges that the mutation run (scripts/run-mutation, docs/mutation.md) found untested.

Each test names the mutmut mutants of ``drivers.tlv`` it kills; the numbers are mutmut 3.8's, so they
shift when the module changes, but the behaviour asserted here does not.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import tlv
from drivers.errors import TlvError
from tests.support.fuzzing import examples


# Kills x__read_tag 14/16/19/33/35, x_read_header 9/21/26/31, x_parse_one 12: every refusal says exactly
# what was wrong (an operator reads these in the log), and the limits are where the module says they are.
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "tag expected at offset 0, data ends"),
        ("1F", "multi-byte tag truncated"),
        ("1F81", "multi-byte tag truncated"),
        ("1F81810100", "tag longer than 3 bytes"),
        ("04", "length expected, data ends"),
        ("0480", "indefinite length is not allowed"),
        ("048400000001", "length of 4 bytes is not supported"),
        ("048201", "long-form length truncated"),
        ("04830100", "long-form length truncated"),
    ],
)
def test_hostile_headers_are_refused_with_their_reason(raw: str, message: str) -> None:
    with pytest.raises(TlvError) as caught:
        tlv.read_header(bytes.fromhex(raw))
    assert str(caught.value) == message


def test_a_value_longer_than_the_buffer_says_how_much_is_there() -> None:
    with pytest.raises(TlvError) as caught:
        tlv.parse_one(b"\x00\x00\x04\x05ab", 2)  # kills x_parse_one 12 (len(buf) + start)
    assert str(caught.value) == "TLV 4 claims 5 bytes, only 2 present"


@pytest.mark.parametrize(
    ("raw", "header"),
    [
        ("5F4E00", (0x5F4E, 0, 3)),
        ("1F810100", (0x1F8101, 0, 4)),  # the longest tag allowed: 3 bytes (x__read_tag 16/33/35)
        ("04830100 00", (0x04, 0x10000, 5)),  # the longest length allowed: 3 bytes (x_read_header 26)
        ("0483FFFFFF", (0x04, 0xFFFFFF, 5)),
    ],
)
def test_the_longest_tags_and_lengths_are_accepted(raw: str, header: tuple[int, int, int]) -> None:
    assert tlv.read_header(bytes.fromhex(raw.replace(" ", ""))) == header


def test_iterate_stops_at_the_given_end() -> None:
    data = tlv.encode(0x04, b"a") + tlv.encode(0x04, b"b")
    assert [t.value for t in tlv.iterate(data, 0, 3)] == [b"a"]  # kills x_iterate 4 (end ignored)
    assert [t.value for t in tlv.iterate(data, 3)] == [b"b"]


@settings(max_examples=examples(200), deadline=None)
@given(tag=st.one_of(st.integers(0, 0xFF), st.integers(0x100, 0xFFFF), st.integers(0x10000, 0xFFFFFF)))
def test_encode_tag_is_the_shortest_big_endian_form(tag: int) -> None:
    """Kills x_encode_tag 1/2 (tag 0 refused) and 18 (// 9 loses a byte for 9–10 and 17–19 bit tags)."""
    encoded = tlv.encode_tag(tag)
    assert int.from_bytes(encoded, "big") == tag
    assert len(encoded) == max(1, (tag.bit_length() + 7) // 8)


def test_tag_zero_encodes_and_negative_tags_are_refused() -> None:
    assert tlv.encode_tag(0) == b"\x00"
    assert tlv.encode_tag(0x100) == b"\x01\x00"
    with pytest.raises(ValueError, match=r"^negative tag$"):  # x_encode_tag 3/4/5
        tlv.encode_tag(-1)


@pytest.mark.parametrize(
    ("length", "encoded"),
    [
        (0x7F, "7F"),
        (0x80, "8180"),  # 0x80 alone would be the refused indefinite form (x_encode_length 1/2)
        (0xFF, "81FF"),
        (0x100, "820100"),
        (0x10000, "83010000"),  # three length bytes are allowed (x_encode_length 9)
        (0xFFFFFF, "83FFFFFF"),
    ],
)
def test_encode_length_forms(length: int, encoded: str) -> None:
    assert tlv.encode_length(length).hex().upper() == encoded
    assert tlv.read_header(b"\x04" + tlv.encode_length(length))[1] == length


def test_a_length_beyond_three_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^length too large$"):  # x_encode_length 10/11/12
        tlv.encode_length(1 << 24)
