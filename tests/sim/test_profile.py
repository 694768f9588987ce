"""Profiles → card images: what a reader, a verifier and a city IT person would notice."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from drivers.sim import layouts, pki
from drivers.sim.model import CardImage, PinFormat
from drivers.sim.profile import (
    APP_JPKI,
    APP_JUKI,
    APP_TEXT,
    APP_VISUAL,
    ATR_CLASSIC,
    ATR_NEWER,
    BUNDLED_PROFILES,
    DateSpec,
    ProfileError,
    build_card_image,
    bundled_profiles,
    contactless_atr,
    is_valid_my_number,
    load_card_image,
    load_profile,
    my_number_check_digit,
    parse_atr,
    profile_certificates,
)
from drivers.tlv import parse_one

TODAY = date(2026, 11, 26)
EXPECTED_PROFILES = {
    "adult",
    "last-try",
    "sign-blocked",
    "expired",
    "tampered",
    "long-address",
    "minor",
    "foreign-resident",
    "renewal-due",
}


@pytest.fixture(scope="module", autouse=True)
def key_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KIOSK_SIM_CACHE", str(tmp_path_factory.mktemp("sim-keys")))
        yield


@pytest.fixture(scope="module")
def cards() -> dict[str, CardImage]:
    return {path.stem: build_card_image(load_profile(path), TODAY) for path in bundled_profiles()}


def ef(card: CardImage, app: str, fid: int) -> bytes:
    """What READ BINARY over the whole EF returns: content plus FF padding."""
    return card.application(app).efs[fid].padded


def verifies(public_key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


# --- the bundled profiles ------------------------------------------------------------------------------


def test_all_scenarios_are_bundled() -> None:
    assert {path.stem for path in bundled_profiles()} >= EXPECTED_PROFILES


@pytest.mark.parametrize("path", bundled_profiles(), ids=lambda p: p.stem)
def test_every_bundled_profile_loads_builds_and_says_it_is_synthetic(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# SYNTHETIC TEST RESIDENT")
    profile = load_profile(path)
    assert profile.profile_id == path.stem
    assert is_valid_my_number(profile.resident.my_number)
    card = build_card_image(profile, TODAY)
    assert [app.name for app in card.applications] == [APP_JPKI, APP_TEXT, APP_VISUAL, APP_JUKI]
    assert [app.aid.hex().upper() for app in card.applications] == [
        "D392F000260100000001",
        "D3921000310001010408",
        "D3921000310001010402",
        "D3921000310001010100",
    ]
    for app in card.applications:
        for fid, spec in app.efs.items():
            assert spec.fid == fid and spec.size >= len(spec.content)
    assert (
        load_card_image(path, TODAY).application(APP_TEXT).efs[1].content
        == card.application(APP_TEXT).efs[1].content
    )


def test_bundled_my_numbers_are_distinct() -> None:
    numbers = [load_profile(p).resident.my_number for p in bundled_profiles()]
    assert len(set(numbers)) == len(numbers)


# --- card layout and access rules (card-protocol.md §1) -------------------------------------------------


def pin_table(card: CardImage, app: str) -> dict[int, tuple[int, int, PinFormat]]:
    return {
        fid: (pin.max_tries, pin.remaining, pin.format) for fid, pin in card.application(app).pins.items()
    }


def test_adult_access_rules_and_pins_match_the_card(cards: dict[str, CardImage]) -> None:
    card = cards["adult"]
    jpki, text, visual = (card.application(a) for a in (APP_JPKI, APP_TEXT, APP_VISUAL))
    assert {f: e.read_pins for f, e in jpki.efs.items()} == {
        0x0006: (),
        0x000A: (),
        0x000B: (),
        0x0001: (0x001B,),
        0x0002: (),
    }
    assert pin_table(card, APP_JPKI) == {0x0018: (3, 3, PinFormat.DIGITS4), 0x001B: (5, 5, PinFormat.SIGN)}
    assert {f: (k.pin_fid, k.private_key.key_size) for f, k in jpki.keys.items()} == {
        0x0017: (0x0018, 2048),
        0x001A: (0x001B, 2048),
    }
    assert jpki.pins[0x0018].value == b"1234" and jpki.pins[0x001B].value == b"SIGNTEST1"

    assert {f: e.read_pins for f, e in text.efs.items()} == {
        0x0001: (0x0011, 0x0014),
        0x0002: (0x0011, 0x0015),
        0x0003: (0x0011, 0x0014, 0x0015),
        0x0004: (),
        0x0005: (),
        0x0007: (0x0011, 0x0014, 0x0015),
    }
    assert pin_table(card, APP_TEXT) == {
        0x0011: (3, 3, PinFormat.DIGITS4),
        0x0014: (10, 10, PinFormat.DIGITS12),
        0x0015: (10, 10, PinFormat.DIGITS14),
    }
    assert text.pins[0x0014].value == b"123456789018"  # PIN A = the My Number
    # PIN B = birth YYMMDD + card expiry year + security code; expiry is "+7y" from TODAY
    assert text.pins[0x0015].value == b"850401" + b"2033" + b"4321"

    assert {f: e.read_pins for f, e in visual.efs.items()} == {
        0x0001: (0x0011,),
        0x0002: (0x0013, 0x0012),
        0x0003: (),
        0x0004: (),
        0x0005: (0x0013,),
    }
    assert pin_table(card, APP_VISUAL) == {
        0x0011: (10, 10, PinFormat.DIGITS6),
        0x0012: (10, 10, PinFormat.DIGITS14),
        0x0013: (10, 10, PinFormat.DIGITS12),
    }
    assert visual.pins[0x0011].value == b"850401"
    assert visual.pins[0x0012].value == text.pins[0x0015].value
    assert pin_table(card, APP_JUKI) == {0x001C: (3, 3, PinFormat.DIGITS4)}
    record = parse_one(card.application(APP_JUKI).records[(1, 1)]).value
    assert len(record.decode()[2:15]) == 13


def test_keys_on_the_card_match_their_certificates(cards: dict[str, CardImage]) -> None:
    jpki = cards["adult"].application(APP_JPKI)
    auth = x509.load_der_x509_certificate(jpki.efs[0x000A].content)
    sign = x509.load_der_x509_certificate(jpki.efs[0x0001].content)
    assert auth.public_key().public_numbers() == jpki.keys[0x0017].private_key.public_key().public_numbers()  # type: ignore[union-attr]
    assert sign.public_key().public_numbers() == jpki.keys[0x001A].private_key.public_key().public_numbers()  # type: ignore[union-attr]
    assert jpki.efs[0x000B].content == pki.certificate_authority("auth", "g2").der
    assert jpki.efs[0x0002].content == pki.certificate_authority("sign", "g2").der


def test_ef_sizes_and_padding(cards: dict[str, CardImage]) -> None:
    card = cards["adult"]
    assert ef(card, APP_JPKI, 0x0006) == b"JPKIAPICCTOKEN2".ljust(32)
    for fid in (0x000A, 0x000B, 0x0001, 0x0002):
        spec = card.application(APP_JPKI).efs[fid]
        assert spec.size == 2048 and spec.padded.startswith(b"\x30\x82") and spec.padded.endswith(b"\xff")
    text = card.application(APP_TEXT).efs
    assert (text[1].size, len(text[1].content)) == (17, 15) and text[1].padded.endswith(b"\xff\xff")
    assert text[2].size >= 512 and text[2].size % 256 == 0
    assert text[3].size == len(text[3].content) == 336
    assert text[4].size == len(text[4].content) == 568
    assert text[5].size == 256
    surface = card.application(APP_VISUAL).efs[2]
    assert surface.size == (len(surface.content) + 1023) // 1024 * 1024 + 1024
    assert card.application(APP_VISUAL).efs[4].size == 568


def test_text_ap_content_reads_back(cards: dict[str, CardImage]) -> None:
    card = cards["adult"]
    assert ef(card, APP_TEXT, 1)[3:15] == b"123456789018"
    outer = parse_one(ef(card, APP_TEXT, 2))
    fields = {child.tag: child.value for child in outer.children()}
    assert fields[0xDF22].decode() == "試験 太郎"
    assert fields[0xDF23].decode() == "東京都千代田区霞が関九丁目9番9号 テスト合同住宅101号室"
    assert fields[0xDF24] == b"19850401" and fields[0xDF25] == b"1"


def card_info_checks(card: CardImage, trust: Path) -> dict[str, bool]:
    """The verifier's view of text AP EF 0001-0004 (card-protocol.md §4.3 steps 1-4)."""
    signature = layouts.parse_text_signature(ef(card, APP_TEXT, 3))
    cv = layouts.parse_cv_certificate(ef(card, APP_TEXT, 4))
    root = serialization.load_pem_public_key((trust / f"{cv.issuer_id.hex()}.pem").read_bytes())
    assert isinstance(root, rsa.RSAPublicKey)
    return {
        "my_number_digest": signature.my_number_hash == layouts.my_number_digest(ef(card, APP_TEXT, 1)),
        "basic4_digest": signature.basic4_hash == layouts.basic4_digest(ef(card, APP_TEXT, 2)),
        "signature": verifies(cv.public_key, signature.signature, signature.signed_data),
        "cv_certificate": verifies(root, cv.signature, cv.body),
    }


@pytest.fixture(scope="module")
def trust(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("trust")
    pki.write_trust_store(directory)
    return directory


@pytest.mark.parametrize("name", sorted(EXPECTED_PROFILES - {"tampered"}))
def test_card_info_integrity_verifies_on_honest_cards(
    cards: dict[str, CardImage], trust: Path, name: str
) -> None:
    assert card_info_checks(cards[name], trust) == dict.fromkeys(
        ("my_number_digest", "basic4_digest", "signature", "cv_certificate"), True
    )


def test_tampered_card_has_a_basic4_digest_that_does_not_match(
    cards: dict[str, CardImage], trust: Path
) -> None:
    assert card_info_checks(cards["tampered"], trust) == {
        "my_number_digest": True,
        "basic4_digest": False,
        "signature": True,  # the signature is genuine: only the data changed
        "cv_certificate": True,
    }


def test_other_tamper_flags(tmp_path: Path, trust: Path) -> None:
    text = (BUNDLED_PROFILES / "adult.toml").read_text(encoding="utf-8")
    path = tmp_path / "adult.toml"
    path.write_text(text + "\n[tamper]\nmy_number_digest = true\ntext_signature = true\n", encoding="utf-8")
    checks = card_info_checks(build_card_image(load_profile(path), TODAY), trust)
    assert checks == {
        "my_number_digest": False,
        "basic4_digest": True,
        "signature": False,
        "cv_certificate": True,
    }


def test_long_address_needs_more_than_one_256_byte_read(cards: dict[str, CardImage]) -> None:
    spec = cards["long-address"].application(APP_TEXT).efs[2]
    assert len(spec.content) > 256
    assert spec.size >= 512 and spec.size % 256 == 0 and spec.size > len(spec.content)
    offsets = [int.from_bytes(spec.content[8 + 2 * i : 10 + 2 * i], "big") for i in range(4)]
    assert spec.content[offsets[1] : offsets[1] + 3] == bytes.fromhex("DF2381")  # address > 127 bytes
    assert [parse_one(spec.content, o).tag for o in offsets] == [0xDF22, 0xDF23, 0xDF24, 0xDF25]


def test_surface_data_is_signed_and_the_images_decode(cards: dict[str, CardImage]) -> None:
    card = cards["adult"]
    entries = ef(card, APP_VISUAL, 2)
    fields = {child.tag: child.value for child in parse_one(entries).children()}
    cv = layouts.parse_cv_certificate(ef(card, APP_VISUAL, 4))
    assert verifies(cv.public_key, fields[0xDF28], layouts.surface_signed_data(entries))
    assert fields[0xDF22] == b"19850401" and fields[0xDF23] == b"1" and fields[0xDF29] == b"20331126"
    face = Image.open(io.BytesIO(fields[0xDF27]))
    assert face.format == "JPEG2000" and face.size == (300, 400)
    assert 2_000 < len(fields[0xDF27]) < 20_000
    pixels = face.convert("RGB").resize((3, 4))
    corner = pixels.getpixel((0, 0))
    assert isinstance(corner, tuple) and min(corner) > 180  # a plain light background
    for tag in (0xDF25, 0xDF26, 0xDF2A):
        image = Image.open(io.BytesIO(fields[tag]))
        assert image.format == "PNG" and image.width > image.height > 10
    birth = parse_one(ef(card, APP_VISUAL, 1))
    b_text, b_key, b_sig = birth.children()
    assert b_text.value == b"19850401" and verifies(
        cv.public_key, b_sig.value, b_text.encoded + b_key.encoded
    )
    number = parse_one(ef(card, APP_VISUAL, 5))
    png, key, sig = number.children()
    assert Image.open(io.BytesIO(png.value)).format == "PNG"
    assert verifies(cv.public_key, sig.value, png.encoded + key.encoded)


def test_faces_differ_between_residents(cards: dict[str, CardImage]) -> None:
    faces = {
        name: next(c.value for c in parse_one(ef(card, APP_VISUAL, 2)).children() if c.tag == 0xDF27)
        for name, card in cards.items()
    }
    assert len(set(faces.values())) == len(faces)


# --- scenarios -----------------------------------------------------------------------------------------


def test_last_try_has_one_auth_try_left(cards: dict[str, CardImage]) -> None:
    assert pin_table(cards["last-try"], APP_JPKI)[0x0018] == (3, 1, PinFormat.DIGITS4)
    assert cards["last-try"].atr == ATR_NEWER


def test_sign_blocked_has_no_sign_tries_left(cards: dict[str, CardImage]) -> None:
    assert pin_table(cards["sign-blocked"], APP_JPKI)[0x001B] == (5, 0, PinFormat.SIGN)
    assert pin_table(cards["sign-blocked"], APP_JPKI)[0x0018] == (3, 3, PinFormat.DIGITS4)


def test_minor_has_no_signing_certificate(cards: dict[str, CardImage]) -> None:
    jpki = cards["minor"].application(APP_JPKI)
    assert jpki.efs[0x0001].content == b"" and jpki.efs[0x0002].content == b""
    assert jpki.efs[0x0001].padded == b"\xff" * jpki.efs[0x0001].size
    assert jpki.pins[0x001B].value is None
    assert 0x001A not in jpki.keys and 0x0017 in jpki.keys
    certificates = profile_certificates(load_profile(BUNDLED_PROFILES / "minor.toml"), TODAY)
    assert set(certificates) == {"auth", "auth_ca"}
    birth = parse_one(ef(cards["minor"], APP_TEXT, 2)).children()[3].value
    assert birth == b"20141126"  # "-12y": stays a child whatever the build day


def test_expired_certificates_are_past_validity_and_from_g1(cards: dict[str, CardImage]) -> None:
    jpki = cards["expired"].application(APP_JPKI)
    for fid in (0x000A, 0x0001):
        cert = x509.load_der_x509_certificate(jpki.efs[fid].content)
        assert cert.not_valid_after_utc.date() < TODAY
        assert cert.not_valid_after_utc.date() < date.today()
    assert jpki.efs[0x000B].content == pki.certificate_authority("auth", "g1").der
    assert jpki.efs[0x0002].content == pki.certificate_authority("sign", "g1").der


def test_foreign_resident_is_contactless_with_a_latin_name(cards: dict[str, CardImage]) -> None:
    card = cards["foreign-resident"]
    assert card.interface == "contactless"
    assert card.atr[:4] == bytes.fromhex("3B888001") and len(card.atr) == 13
    tck = 0
    for byte in card.atr[1:]:
        tck ^= byte
    assert tck == 0  # T0 … TCK XOR to zero
    fields = parse_one(ef(card, APP_TEXT, 2)).children()
    assert fields[1].value.decode().isascii()
    assert fields[4].value == b"9"
    profile = load_profile(BUNDLED_PROFILES / "foreign-resident.toml")
    assert all("\u30a0" <= ch <= "\u30ff" or ch == " " for ch in profile.resident.name_kana)


def test_contact_cards_use_the_documented_atrs(cards: dict[str, CardImage]) -> None:
    assert cards["adult"].atr == ATR_CLASSIC == bytes.fromhex("3BE000FF8131FE4514")
    assert bytes.fromhex("3BDA13FF8131FB468012392F31C173C601C03B") == ATR_NEWER
    assert parse_atr("classic") == ATR_CLASSIC and parse_atr("newer") == ATR_NEWER
    assert parse_atr("3B 8F 80 01") == bytes.fromhex("3B8F8001")
    assert parse_atr("zz") is None and parse_atr("00 11") is None
    assert contactless_atr()[-1] == 0xF9


def test_builds_are_deterministic_for_a_given_day(cards: dict[str, CardImage]) -> None:
    again = build_card_image(load_profile(BUNDLED_PROFILES / "adult.toml"), TODAY)
    first = cards["adult"]
    assert (again.atr, again.uid, again.profile_id) == (first.atr, first.uid, first.profile_id)
    for app_a, app_b in zip(first.applications, again.applications, strict=True):
        assert {f: e.padded for f, e in app_a.efs.items()} == {f: e.padded for f, e in app_b.efs.items()}
        assert app_a.records == app_b.records
    later = build_card_image(load_profile(BUNDLED_PROFILES / "adult.toml"), date(2027, 1, 5))
    assert later.application(APP_JPKI).efs[0x000A].content != first.application(APP_JPKI).efs[0x000A].content


def test_profile_id_carries_no_personal_data(cards: dict[str, CardImage]) -> None:
    for name, card in cards.items():
        profile = load_profile(BUNDLED_PROFILES / f"{name}.toml")
        assert card.profile_id == name
        assert profile.resident.my_number not in card.profile_id


# --- dates ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (DateSpec(amount=5, unit="y"), date(2029, 2, 28)),  # from a 29 February
        (DateSpec(amount=-30, unit="d"), date(2024, 1, 30)),
        (DateSpec(amount=6, unit="m"), date(2024, 8, 29)),
        (DateSpec(amount=-2, unit="w"), date(2024, 2, 15)),
        (DateSpec(amount=-1, unit="y"), date(2023, 2, 28)),
        (DateSpec(), date(2024, 2, 29)),
        (DateSpec(absolute=date(1990, 1, 1)), date(1990, 1, 1)),
    ],
)
def test_relative_dates(spec: DateSpec, expected: date) -> None:
    assert spec.resolve(date(2024, 2, 29)) == expected


# --- My Number check digit -----------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["123456789018", "987654321093", "111111111118", "000000000000"])
def test_known_valid_my_numbers(number: str) -> None:
    assert is_valid_my_number(number)


@pytest.mark.parametrize("number", ["123456789017", "12345678901", "1234567890189", "12345678901a", ""])
def test_invalid_my_numbers(number: str) -> None:
    assert not is_valid_my_number(number)


LEFT_TO_RIGHT_WEIGHTS = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)  # Q_n written out, for an independent check


def remainder(first: str) -> int:
    return sum(int(d) * w for d, w in zip(first, LEFT_TO_RIGHT_WEIGHTS, strict=True)) % 11


@given(st.text("0123456789", min_size=11, max_size=11), st.integers(0, 10), st.integers(1, 9))
def test_check_digit_matches_the_formula_and_catches_single_digit_errors(
    first: str, position: int, delta: int
) -> None:
    r = remainder(first)
    assert my_number_check_digit(first) == (0 if r <= 1 else 11 - r)
    number = first + str(my_number_check_digit(first))
    assert is_valid_my_number(number)
    changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
    if is_valid_my_number(changed):  # only possible where remainders 0 and 1 share the check digit 0
        assert {r, remainder(changed[:11])} == {0, 1}


# --- bad profiles: the message names the file and the key ---------------------------------------------

ADULT = (BUNDLED_PROFILES / "adult.toml").read_text(encoding="utf-8")

BAD_PROFILES = [
    ("sex = 1", 'sex = 1\nnickname = "x"', "resident.nickname", "unknown key"),
    ("sex = 1", 'sex = "1"', "resident.sex", "expected 1 (male)"),
    ("sex = 1", "sex = 3", "resident.sex", "expected 1 (male)"),
    ('my_number = "123456789018"', 'my_number = "123456789017"', "resident.my_number", "check digit"),
    ('my_number = "123456789018"', "my_number = 123456789018", "resident.my_number", "quoted"),
    ('my_number = "123456789018"', 'my_number = "12345678901"', "resident.my_number", "12 digits"),
    ('sign = "SIGNTEST1"', 'sign = "SIGN1"', "pins.sign", "6 to 16 characters of A-Z and 0-9"),
    ('sign = "SIGNTEST1"', 'sign = "signtest1"', "pins.sign", "upper case"),
    ('sign = "SIGNTEST1"', 'sign = "SIGN-TEST1"', "pins.sign", "A-Z and 0-9"),
    ('auth = "1234"', 'auth = "12345"', "pins.auth", "4 digits"),
    ('auth = "1234"', "auth = 1234", "pins.auth", "quoted"),
    ("birth_date = 1985-04-01", 'birth_date = "yesterday"', "resident.birth_date", '"+5y"'),
    ("birth_date = 1985-04-01", "birth_date = 1985-04-01T10:00:00", "resident.birth_date", "with a time"),
    ('name_kana = "シケン タロウ"', 'name_kana = "しけん たろう"', "resident.name_kana", "katakana"),
    ('prefecture = "Tokyo"', 'prefecture = "東京都"', "card.prefecture", "Latin letters"),
    ('interface = "contact"', 'interface = "nfc"', "card.interface", '"contact" or "contactless"'),
    ('atr = "classic"', 'atr = "zz"', "card.atr", '"classic", "newer"'),
    ('security_code = "4321"', 'security_code = "43210"', "card.security_code", "4 digits"),
    ('ca_generation = "g2"', 'ca_generation = "g3"', "certificates.ca_generation", '"g1"'),
    (
        "has_sign_certificate = true",
        "has_sign_certificate = false",
        "certificates.has_sign_certificate",
        "pins.sign",
    ),
    (
        "has_sign_certificate = true",
        'has_sign_certificate = "yes"',
        "certificates.has_sign_certificate",
        "true or false",
    ),
    ('juki = "2468"', 'juki = "2468"\n\n[pins.remaining]\nauth = 4', "pins.remaining.auth", "0 to 3"),
    ('juki = "2468"', 'juki = "2468"\n\n[pins.remaining]\nsign = -1', "pins.remaining.sign", "0 to 5"),
    (
        'juki = "2468"',
        'juki = "2468"\n\n[pins.remaining]\nauth = true',
        "pins.remaining.auth",
        "whole number",
    ),
    ("[card]", "[kard]", "kard", "unknown key"),
    ('description = "', 'id = "Adult Card"\ndescription = "', "id", "a-z, 0-9"),
]


@pytest.mark.parametrize(
    ("old", "new", "key", "phrase"), BAD_PROFILES, ids=[case[2] for case in BAD_PROFILES]
)
def test_bad_profiles_name_the_file_and_the_key(
    tmp_path: Path, old: str, new: str, key: str, phrase: str
) -> None:
    assert old in ADULT
    path = tmp_path / "broken.toml"
    path.write_text(ADULT.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert phrase in message
    assert caught.value.key == key
    for secret in ("123456789018", "SIGNTEST1", "1234", "試験 太郎"):  # no personal data or PIN echoed back
        assert secret not in message


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_validity_ending_before_it_starts(tmp_path: Path) -> None:
    text = ADULT.replace(
        '[certificates.auth]\nvalid_from = "-1y"', "[certificates.auth]\nvalid_from = 2030-01-01", 1
    )
    text = text.replace('valid_until = "+4y"', "valid_until = 2029-01-01", 1)
    with pytest.raises(ProfileError, match=r"certificates\.auth\.valid_until: must be after valid_from"):
        load_profile(write(tmp_path, text))


def test_relative_dates_are_checked_when_building(tmp_path: Path) -> None:
    text = ADULT.replace("birth_date = 1985-04-01", 'birth_date = "+1d"')
    profile = load_profile(write(tmp_path, text))
    with pytest.raises(ProfileError, match=r"broken\.toml: resident\.birth_date: lies in the future"):
        build_card_image(profile, TODAY)


def test_missing_table_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    start = ADULT.index("[card]")
    end = ADULT.index("[pins]")
    with pytest.raises(ProfileError, match=r"broken\.toml: card: missing table"):
        load_profile(write(tmp_path, ADULT[:start] + ADULT[end:]))
    with pytest.raises(ProfileError, match=r"broken\.toml: not valid TOML"):
        load_profile(write(tmp_path, ADULT + "\nthis is = = not toml\n"))
    with pytest.raises(ProfileError, match="file not found"):
        load_profile(tmp_path / "nowhere.toml")
    with pytest.raises(ProfileError, match=r"resident\.address: missing"):
        load_profile(write(tmp_path, ADULT.replace("address = ", "# address = ", 1)))


def test_minor_profile_must_not_set_a_sign_remaining_count(tmp_path: Path) -> None:
    text = (BUNDLED_PROFILES / "minor.toml").read_text(encoding="utf-8")
    text = text.replace('juki = "9999"', 'juki = "9999"\n\n[pins.remaining]\nsign = 3')
    with pytest.raises(ProfileError, match=r"pins\.remaining\.sign: .*no sign password"):
        load_profile(write(tmp_path, text))


def test_file_name_that_cannot_be_an_id(tmp_path: Path) -> None:
    path = tmp_path / "Adult Card.toml"
    path.write_text(ADULT, encoding="utf-8")
    with pytest.raises(ProfileError, match=r"Adult Card\.toml: id: the file name 'Adult Card' cannot be"):
        load_profile(path)
    path.write_text('id = "adult-copy"\n' + ADULT, encoding="utf-8")
    assert load_profile(path).profile_id == "adult-copy"


def test_unknown_top_level_key(tmp_path: Path) -> None:
    with pytest.raises(
        ProfileError, match=r"broken\.toml: colour: unknown key; allowed keys at the top of the file"
    ):
        load_profile(write(tmp_path, 'colour = "blue"\n' + ADULT))


def test_unknown_tamper_flag(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"tamper\.everything: unknown key; allowed keys in \[tamper\]"):
        load_profile(write(tmp_path, ADULT + "\n[tamper]\neverything = true\n"))


def test_profile_error_is_a_value_error_with_source_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, ADULT.replace("sex = 1", "sex = 4"))
    with pytest.raises(ValueError) as caught:
        load_profile(path)
    assert isinstance(caught.value, ProfileError)
    assert (caught.value.source, caught.value.key) == (str(path), "resident.sex")


def test_sign_validity_table_optional_for_minor_only(tmp_path: Path) -> None:
    start = ADULT.index("[certificates.sign]")
    with pytest.raises(ProfileError, match=r"certificates\.sign: missing table"):
        load_profile(write(tmp_path, ADULT[:start]))


def test_digest_of_my_number_is_over_the_padded_ef(cards: dict[str, CardImage]) -> None:
    padded = ef(cards["adult"], APP_TEXT, 1)
    signature = layouts.parse_text_signature(ef(cards["adult"], APP_TEXT, 3))
    assert (
        signature.my_number_hash
        == hashlib.sha256(bytes.fromhex("FF100C") + b"123456789018" + b"\xff\xff").digest()
    )
    assert len(padded) == 17
