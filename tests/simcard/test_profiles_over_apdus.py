"""The bundled synthetic residents, seen only through APDUs as card-protocol.md documents them."""

from __future__ import annotations

from functools import cache

import pytest

from drivers import tlv
from drivers.sim.card import SimulatedCard
from drivers.sim.profile import bundled_profiles, load_card_image, load_profile
from tests.conftest import REPO
from tests.simcard.conftest import Exchange

CARDS = REPO / "config" / "cards"
SELECT = {
    "jpki": "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01",
    "text": "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08",
    "visual": "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 02",
    "juki": "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 01 00",
}


@cache
def image(name: str):
    return load_card_image(CARDS / f"{name}.toml")


def fresh(name: str) -> Exchange:
    card = SimulatedCard(image(name))
    card.power_on()
    return Exchange(card)


def select_ef(x: Exchange, fid: int) -> str:
    return x(f"00 A4 02 0C 02 {fid:04X}")


def verify(x: Exchange, pin: str) -> str:
    data = pin.encode().hex()
    return x(f"00 20 00 80 {len(pin):02X} {data}")


def read_all(x: Exchange) -> bytes:
    """Header folded into the first 256-byte chunk, then the rest: what a careful driver does."""
    first = bytes.fromhex(x("00 B0 00 00 00"))
    assert first[-2:] == b"\x90\x00"
    size = tlv.total_length(first[:-2])
    data = bytearray(first[:-2])
    while len(data) < size:
        chunk = bytes.fromhex(x(f"00 B0 {len(data) >> 8:02X} {len(data) & 0xFF:02X} 00"))
        assert chunk[-2:] == b"\x90\x00"
        data += chunk[:-2]
    return bytes(data[:size])


def test_every_bundled_profile_answers_all_four_applications() -> None:
    names = sorted(p.stem for p in bundled_profiles())
    assert {"adult", "last-try", "sign-blocked", "expired", "tampered", "long-address", "minor",
            "foreign-resident"} <= set(names)
    for name in names:
        x = fresh(name)
        assert [x(SELECT[app]) for app in SELECT] == ["9000"] * 4, name


def test_jpki_token_and_auth_certificate() -> None:
    x = fresh("adult")
    x(SELECT["jpki"])
    select_ef(x, 0x0006)
    token = bytes.fromhex(x("00 B0 00 00 20"))[:-2]
    assert token.rstrip(b" \x00") == b"JPKIAPICCTOKEN2"
    select_ef(x, 0x000A)
    cert = read_all(x)
    assert cert[:2] == b"\x30\x82" and 1000 < len(cert) < 2048


def test_card_info_after_its_pin() -> None:
    x = fresh("adult")
    profile = load_profile(CARDS / "adult.toml")
    x(SELECT["text"])
    select_ef(x, 0x0001)
    assert x("00 B0 00 00 11") == "6982"
    select_ef(x, 0x0011)
    assert x("00 20 00 80") == "63C3"
    assert verify(x, profile.pins.card_info) == "9000"
    select_ef(x, 0x0001)
    raw = bytes.fromhex(x("00 B0 00 00 11"))
    assert raw[:3] == b"\xff\x10\x0c" and raw[3:15].decode() == profile.resident.my_number
    assert raw[15:] == b"\xff\xff\x90\x00"
    select_ef(x, 0x0002)
    basic4 = tlv.parse_one(read_all(x))
    assert basic4.tag == 0xFF20
    fields = {child.tag: child.value for child in basic4.children()}
    assert fields[0xDF22].decode() == profile.resident.name
    assert fields[0xDF23].decode() == profile.resident.address
    select_ef(x, 0x0003)
    assert len(bytes.fromhex(x("00 B0 00 00 00 01 50"))) == 336 + 2


def test_card_verifiable_certificate_is_a_free_read() -> None:
    x = fresh("adult")
    x(SELECT["text"])
    select_ef(x, 0x0004)
    cert = bytes.fromhex(x("00 B0 00 00 00 02 38"))
    assert cert[:5] == bytes.fromhex("7F21820233") and len(cert) == 568 + 2


def test_long_address_needs_more_than_one_short_read() -> None:
    x = fresh("long-address")
    profile = load_profile(CARDS / "long-address.toml")
    x(SELECT["text"])
    select_ef(x, 0x0011)
    verify(x, profile.pins.card_info)
    select_ef(x, 0x0002)
    data = read_all(x)
    assert len(data) > 256 and data[2] == 0x82
    assert profile.resident.address.encode() in data


def test_card_surface_with_pin_a_then_face_photo() -> None:
    x = fresh("adult")
    profile = load_profile(CARDS / "adult.toml")
    x(SELECT["visual"])
    select_ef(x, 0x0002)
    assert x("00 B0 00 00 10") == "6982"
    select_ef(x, 0x0013)
    assert verify(x, profile.resident.my_number) == "9000"
    select_ef(x, 0x0002)
    entries = tlv.parse_one(read_all(x))
    face = {c.tag: c.value for c in entries.children()}[0xDF27]
    assert face[:12] == bytes.fromhex("0000000C6A5020200D0A870A")  # JPEG 2000 (JP2) signature box


def test_juki_record_and_pin() -> None:
    x = fresh("adult")
    x(SELECT["juki"])
    assert x("00 B2 01 0C 00")[-4:] == "9000"
    select_ef(x, 0x001C)
    assert x("00 20 00 80") == "63C3"


@pytest.mark.parametrize(
    ("profile", "fid", "answer"),
    [("last-try", 0x0018, "63C1"), ("sign-blocked", 0x001B, "6984"), ("adult", 0x001B, "63C5")],
)
def test_profile_pin_counters(profile: str, fid: int, answer: str) -> None:
    x = fresh(profile)
    x(SELECT["jpki"])
    select_ef(x, fid)
    assert x("00 20 00 80") == answer


def test_minor_has_no_signing_certificate() -> None:
    x = fresh("minor")
    x(SELECT["jpki"])
    select_ef(x, 0x001B)
    assert x("00 20 00 80") == "6A88"  # never set (UNCONFIRMED status word)
    select_ef(x, 0x0002)
    assert bytes.fromhex(x("00 B0 00 00 04")) == b"\xff\xff\xff\xff\x90\x00"
    assert select_ef(x, 0x001A) == "6A82"


def test_contactless_card_answers_uid_pseudo_apdu() -> None:
    x = fresh("foreign-resident")
    assert image("foreign-resident").interface == "contactless"
    assert x("FF CA 00 00 00")[-4:] == "9000"
    assert fresh("adult")("FF CA 00 00 00") == "6E00"
