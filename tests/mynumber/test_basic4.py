"""Basic 4 and My Number EFs: parsed defensively, validated, never printed."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from drivers.errors import ProtocolError
from drivers.mynumber.basic4 import (
    Basic4,
    is_valid_my_number,
    mask_my_number,
    my_number_check_digit,
    parse_basic4,
    parse_my_number_ef,
)
from drivers.sim import layouts
from drivers.sim import profile as sim_profile
from drivers.sim.model import CardImage
from drivers.sim.profile import APP_TEXT, BUNDLED_PROFILES, build_card_image, load_profile
from drivers.tlv import encode
from tests.support.fuzzing import examples

TODAY = date(2026, 11, 26)
PROFILES = ["adult", "foreign-resident", "long-address", "minor"]


@pytest.fixture(scope="module")
def cards() -> dict[str, CardImage]:
    return {name: build_card_image(load_profile(BUNDLED_PROFILES / f"{name}.toml"), TODAY) for name in PROFILES}


def read(card: CardImage, fid: int) -> bytes:
    return card.application(APP_TEXT).efs[fid].padded


@pytest.mark.parametrize("name", PROFILES)
def test_basic4_of_every_resident_reads_back(cards: dict[str, CardImage], name: str) -> None:
    resident = load_profile(BUNDLED_PROFILES / f"{name}.toml").resident
    parsed = parse_basic4(read(cards[name], 2))
    assert parsed.name == resident.name
    assert parsed.address == resident.address
    assert parsed.birth_date == resident.birth_date.resolve(TODAY)
    assert parsed.sex == resident.sex


def test_adult(cards: dict[str, CardImage]) -> None:
    parsed = parse_basic4(read(cards["adult"], 2))
    address = "東京都千代田区霞が関九丁目9番9号 テスト合同住宅101号室"
    assert parsed == Basic4("試験 太郎", address, date(1985, 4, 1), "1")
    assert parsed.sex_label == "male"


def test_foreign_resident_latin_name_and_sex_9(cards: dict[str, CardImage]) -> None:
    parsed = parse_basic4(read(cards["foreign-resident"], 2))
    assert parsed.name == "SAMPLE ALEX TESTER"
    assert (parsed.sex, parsed.sex_label) == ("9", "not_applicable")


def test_long_address_is_read_whole(cards: dict[str, CardImage]) -> None:
    ef = read(cards["long-address"], 2)
    parsed = parse_basic4(ef)
    assert len(parsed.address.encode()) > 127 and len(ef) > 256
    assert parsed.address.endswith("（この住所は試験用の合成データです）")
    with pytest.raises(ProtocolError):  # what a tool reading only 256 bytes would get
        parse_basic4(ef[:256])


def test_katakana_and_kanji_names_survive_utf8() -> None:
    ef = layouts.basic4_ef("サンプル・アレックス", "大阪府大阪市北区テスト町一丁目2番3号", date(1995, 7, 7), "2")
    parsed = parse_basic4(ef)
    assert parsed.name == "サンプル・アレックス" and parsed.sex_label == "female"


def test_repr_and_str_carry_no_personal_data(cards: dict[str, CardImage], caplog: pytest.LogCaptureFixture) -> None:
    parsed = parse_basic4(read(cards["adult"], 2))
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("basic 4 read: %s %r", parsed, parsed)
    for text in (repr(parsed), str(parsed), f"{parsed}", caplog.text):
        for secret in ("試験", "太郎", "東京都", "1985", "04-01", "male"):
            assert secret not in text
    assert "name=<5 chars>" in repr(parsed)


# --- defensive offsets --------------------------------------------------------------------------------------


def adult_ef() -> bytes:
    return layouts.basic4_ef("試験 太郎", "東京都千代田区", date(1985, 4, 1), "1")


def with_offset(ef: bytes, index: int, value: int) -> bytes:
    at = 8 + 2 * index
    return ef[:at] + value.to_bytes(2, "big") + ef[at + 2 :]


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize("delta", [-1, 1, 3])
def test_offsets_that_disagree_with_the_fields_are_refused(index: int, delta: int) -> None:
    ef = adult_ef()
    offset = int.from_bytes(ef[8 + 2 * index : 10 + 2 * index], "big")
    with pytest.raises(ProtocolError, match="offset"):
        parse_basic4(with_offset(ef, index, offset + delta))


def test_offsets_counted_from_the_ff20_value_are_refused() -> None:
    """The offsets count from the start of the EF (§4.2); a header 5 bytes short is a different layout."""
    ef = adult_ef()
    for index in range(4):
        offset = int.from_bytes(ef[8 + 2 * index : 10 + 2 * index], "big")
        ef = with_offset(ef, index, offset - 5)
    with pytest.raises(ProtocolError):
        parse_basic4(ef)


def fields_ef(*fields: tuple[int, bytes], header: bytes | None = None) -> bytes:
    encoded = [encode(tag, value) for tag, value in fields]
    if header is None:
        position, offsets = 5 + 3 + 2 * len(fields), b""
        for item in encoded:
            offsets += position.to_bytes(2, "big")
            position += len(item)
        header = offsets
    return encode(0xFF20, encode(0xDF21, header) + b"".join(encoded), long_form=True)


GOOD = [(0xDF22, "名".encode()), (0xDF23, "住所".encode()), (0xDF24, b"19850401"), (0xDF25, b"1")]


def test_the_helper_builds_what_the_card_builds() -> None:
    assert fields_ef(*GOOD) == layouts.basic4_ef("名", "住所", date(1985, 4, 1), "1")


@pytest.mark.parametrize(
    "fields",
    [
        [GOOD[1], GOOD[0], GOOD[2], GOOD[3]],  # swapped order
        GOOD[:3],  # sex missing
        [*GOOD, (0xDF26, b"x")],  # an extra field
        [(0xDF22, b"\xff\xfe"), *GOOD[1:]],  # not UTF-8
        [(0xDF22, b""), *GOOD[1:]],  # empty name
        [*GOOD[:2], (0xDF24, b"19850231"), GOOD[3]],  # no such day
        [*GOOD[:2], (0xDF24, b"1985041"), GOOD[3]],
        [*GOOD[:2], (0xDF24, b"H01.01.01"), GOOD[3]],
        [*GOOD[:3], (0xDF25, b"M")],
        [*GOOD[:3], (0xDF25, b"12")],
    ],
    ids=["order", "missing", "extra", "utf8", "empty-name", "bad-day", "short-date", "era-date", "sex-letter",
         "sex-two"],
)
def test_malformed_basic4_fields(fields: list[tuple[int, bytes]]) -> None:
    with pytest.raises(ProtocolError):
        parse_basic4(fields_ef(*fields))


def test_header_of_the_wrong_size() -> None:
    with pytest.raises(ProtocolError):
        parse_basic4(fields_ef(*GOOD, header=b"\x00\x10" * 3))


def test_unlisted_sex_digit_parses_with_an_unknown_label() -> None:
    parsed = parse_basic4(fields_ef(*GOOD[:3], (0xDF25, b"3")))  # MNB's outlier "3" (UNCONFIRMED)
    assert (parsed.sex, parsed.sex_label) == ("3", "unknown")


def test_not_a_basic4_ef() -> None:
    with pytest.raises(ProtocolError):
        parse_basic4(layouts.my_number_ef("123456789018") + b"\xff\xff")


# --- My Number ------------------------------------------------------------------------------------------------


def test_my_number_ef(cards: dict[str, CardImage]) -> None:
    assert parse_my_number_ef(read(cards["adult"], 1)) == "123456789018"
    assert parse_my_number_ef(layouts.my_number_ef("123456789018")) == "123456789018"


@pytest.mark.parametrize(
    "ef",
    [
        layouts.my_number_ef("123456789017") + b"\xff\xff",  # check digit wrong
        bytes.fromhex("FF100C") + b"12345678901A" + b"\xff\xff",
        bytes.fromhex("FF100C") + "１２３４５６７８".encode()[:12],  # full-width digits
        bytes.fromhex("FF100B") + b"12345678901" + b"\xff\xff\xff",  # 11 digits
        bytes.fromhex("FF110C") + b"123456789018" + b"\xff\xff",  # wrong tag
        bytes.fromhex("FF100C") + b"1234",  # truncated
        b"\xff" * 17,
        b"",
    ],
    ids=["check-digit", "letter", "full-width", "eleven", "tag", "truncated", "padding", "empty"],
)
def test_bad_my_number_efs(ef: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_my_number_ef(ef)


def test_check_digit_moved_here_and_profile_uses_it() -> None:
    assert sim_profile.my_number_check_digit is my_number_check_digit
    assert sim_profile.is_valid_my_number is is_valid_my_number
    assert my_number_check_digit("12345678901") == 8
    assert is_valid_my_number("123456789018") and not is_valid_my_number("123456789019")
    with pytest.raises(ValueError):
        my_number_check_digit("1234")


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("123456789018", "**** **** 9018"),
        ("000000000000", "**** **** 0000"),
        ("12345678901", "**** **** ****"),  # not a number: nothing of it is shown
        ("１２３４５６７８９０１８", "**** **** ****"),
        ("", "**** **** ****"),
    ],
)
def test_mask_my_number(value: str, masked: str) -> None:
    assert mask_my_number(value) == masked


# --- hostile input ---------------------------------------------------------------------------------------------


def expected_my_number(data: bytes) -> str | None:
    """An independent reading of EF 0001: tag FF10, a length of 12 (any BER form), 12 digits, check digit."""
    for header in (b"\xff\x10\x0c", b"\xff\x10\x81\x0c", b"\xff\x10\x82\x00\x0c", b"\xff\x10\x83\x00\x00\x0c"):
        if data.startswith(header):
            digits = data[len(header) : len(header) + 12]
            if len(digits) == 12 and digits.isdigit() and is_valid_my_number(digits.decode()):
                return digits.decode()
    return None


valid_my_numbers = st.text("0123456789", min_size=11, max_size=11).map(lambda d: d + str(my_number_check_digit(d)))
my_number_efs = st.one_of(
    st.binary(max_size=40),
    st.builds(lambda n, pad: layouts.my_number_ef(n) + pad, valid_my_numbers, st.binary(max_size=4)),
    st.builds(lambda d, pad: b"\xff\x10\x0c" + d.encode() + pad, st.text("0123456789", min_size=12, max_size=12),
              st.binary(max_size=4)),
    st.builds(lambda body: b"\xff\x10" + body, st.binary(max_size=20)),
)


@settings(max_examples=examples(300), deadline=None)
@given(my_number_efs)
def test_my_number_ef_parses_exactly_the_valid_numbers(data: bytes) -> None:
    """A valid EF gives its number; anything else (wrong tag, length, digits, check digit) is refused."""
    expected = expected_my_number(data)
    if expected is None:
        with pytest.raises(ProtocolError):
            parse_my_number_ef(data)
    else:
        assert parse_my_number_ef(data) == expected


@settings(max_examples=examples(300), deadline=None)
@given(st.one_of(st.binary(max_size=600), st.binary(max_size=600).map(lambda b: b"\xff\x20" + b)))
def test_random_bytes_are_refused_as_basic4_unless_well_formed(data: bytes) -> None:
    """Random bytes raise the typed error; in the rare case they parse, the result is a complete basic 4
    that does not depend on what follows the TLV."""
    if not data.startswith(b"\xff\x20"):
        with pytest.raises(ProtocolError):
            parse_basic4(data)
        return
    try:
        parsed = parse_basic4(data)
    except ProtocolError:
        return
    assert parsed.name and parsed.address and parsed.sex.isdigit()
    assert parse_basic4(data + b"\xff" * 8) == parsed


texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300)


@settings(max_examples=examples(80), deadline=None)
@given(name=texts, address=texts, sex=st.sampled_from("129"), birth=st.dates(date(1900, 1, 1), date(2099, 12, 31)))
def test_any_card_built_basic4_round_trips(name: str, address: str, sex: str, birth: date) -> None:
    parsed = parse_basic4(layouts.basic4_ef(name, address, birth, sex) + b"\xff" * 32)
    assert parsed == Basic4(name, address, birth, sex)


LONG = Basic4("長住所 久美子", "北海道札幌市中央区テスト通り" * 4, date(1988, 12, 31), "2")
LONG_EF = layouts.basic4_ef(LONG.name, LONG.address, LONG.birth_date, LONG.sex)


@settings(max_examples=examples(200), deadline=None)
@given(cut=st.integers(0, len(LONG_EF) - 1), padding=st.sampled_from([b"", b"\xff" * 40]))
def test_a_basic4_ef_cut_short_is_refused(cut: int, padding: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_basic4(LONG_EF[:cut] + padding)


@settings(max_examples=examples(200), deadline=None)
@given(position=st.integers(0, len(LONG_EF) - 1), value=st.integers(0, 255))
def test_a_changed_byte_is_never_read_as_the_original(position: int, value: int) -> None:
    assume(LONG_EF[position] != value)
    mutated = LONG_EF[:position] + bytes((value,)) + LONG_EF[position + 1 :]
    try:
        parsed = parse_basic4(mutated)
    except ProtocolError:
        return
    assert parsed != LONG


@settings(max_examples=examples(100), deadline=None)
@given(tail=st.binary(max_size=64))
def test_what_follows_the_basic4_tlv_does_not_change_it(tail: bytes) -> None:
    assert parse_basic4(LONG_EF + tail) == LONG
