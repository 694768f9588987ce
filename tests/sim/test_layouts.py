"""EF layouts byte for byte against card-protocol.md §4: what a card reader would see."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from datetime import date

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import ProtocolError
from drivers.sim import layouts
from drivers.sim.rsakeys import deterministic_rsa_key
from drivers.tlv import parse_all, parse_one
from tests.support.fuzzing import examples


@pytest.fixture(scope="module", autouse=True)
def key_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KIOSK_SIM_CACHE", str(tmp_path_factory.mktemp("sim-keys")))
        yield


@pytest.fixture(scope="module")
def signer() -> rsa.RSAPrivateKey:
    return deterministic_rsa_key("TEST-ONLY layouts signer")


@pytest.fixture(scope="module")
def root() -> rsa.RSAPrivateKey:
    return deterministic_rsa_key("TEST-ONLY layouts root")


def verifies(public_key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def test_jpki_token_is_the_my_number_card_token_space_padded() -> None:
    assert layouts.jpki_token() == b"JPKIAPICCTOKEN2" + b" " * 17


def test_my_number_ef_layout() -> None:
    content = layouts.my_number_ef("123456789018")
    assert content == bytes.fromhex("FF100C") + b"123456789018"
    assert len(content) == 15 and layouts.MY_NUMBER_EF_SIZE == 17
    assert content[3:15].decode() == "123456789018"  # where MNB and NFCPY look


@pytest.mark.parametrize("bad", ["12345678901", "1234567890123", "12345678901a", "１２３４５６７８９０１８"])
def test_my_number_ef_refuses_non_numbers(bad: str) -> None:
    with pytest.raises(ValueError):
        layouts.my_number_ef(bad)


def test_my_number_digest_covers_the_padding() -> None:
    ef = layouts.my_number_ef("123456789018") + b"\xff\xff"
    assert layouts.my_number_digest(ef) == hashlib.sha256(ef).digest()
    assert layouts.my_number_digest(ef + b"\xff" * 10) == hashlib.sha256(ef).digest()  # only 17 bytes
    with pytest.raises(ProtocolError):
        layouts.my_number_digest(ef[:15])


def field_at(ef: bytes, offset: int) -> tuple[int, bytes]:
    tlv = parse_one(ef, offset)
    return tlv.tag, tlv.value


def test_basic4_layout_byte_exact() -> None:
    ef = layouts.basic4_ef("試験 太郎", "東京都千代田区霞が関九丁目9番9号", date(1985, 4, 1), "1")
    name, address = "試験 太郎".encode(), "東京都千代田区霞が関九丁目9番9号".encode()
    assert ef[:3] == bytes.fromhex("FF2082")
    assert int.from_bytes(ef[3:5], "big") == len(ef) - 5
    assert ef[5:8] == bytes.fromhex("DF2108")
    offsets = [int.from_bytes(ef[8 + 2 * i : 10 + 2 * i], "big") for i in range(4)]
    assert offsets[0] == 16
    assert field_at(ef, offsets[0]) == (0xDF22, name)
    assert field_at(ef, offsets[1]) == (0xDF23, address)
    assert field_at(ef, offsets[2]) == (0xDF24, b"19850401")
    assert field_at(ef, offsets[3]) == (0xDF25, b"1")
    assert ef[16:19] == bytes((0xDF, 0x22, len(name)))
    assert ef.endswith(bytes.fromhex("DF250131"))
    # MNB reads the offsets' low bytes at EF positions 9, 11, 13 and 15
    assert [ef[i] for i in (9, 11, 13, 15)] == [o & 0xFF for o in offsets]


def test_basic4_long_address_uses_long_form_lengths() -> None:
    address = "北海道札幌市中央区テスト通り" * 8  # 336 bytes of UTF-8
    ef = layouts.basic4_ef("長住所 久美子", address, date(1988, 12, 31), "2")
    assert len(ef) > 256
    offsets = [int.from_bytes(ef[8 + 2 * i : 10 + 2 * i], "big") for i in range(4)]
    start = offsets[1]
    assert ef[start : start + 5] == bytes.fromhex("DF2382") + len(address.encode()).to_bytes(2, "big")
    assert field_at(ef, start) == (0xDF23, address.encode())
    medium = layouts.basic4_ef("試験", "あ" * 50, date(1988, 12, 31), "2")  # 150 bytes: 81 xx form
    start = int.from_bytes(medium[10:12], "big")
    assert medium[start : start + 4] == bytes.fromhex("DF238196")


def test_basic4_refuses_unknown_sex_codes() -> None:
    with pytest.raises(ValueError):
        layouts.basic4_ef("a", "b", date(2000, 1, 1), "3")


texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=400)


@settings(max_examples=examples(60), deadline=None)
@given(name=texts, address=texts, sex=st.sampled_from("129"))
def test_basic4_offsets_always_point_at_their_fields(name: str, address: str, sex: str) -> None:
    ef = layouts.basic4_ef(name, address, date(2001, 2, 3), sex)
    outer = parse_one(ef + b"\xff" * 64)  # EF padding after the content must not matter
    assert outer.tag == 0xFF20 and outer.header_length == 5
    children = parse_all(outer.value)
    assert [c.tag for c in children] == [0xDF21, 0xDF22, 0xDF23, 0xDF24, 0xDF25]
    offsets = [int.from_bytes(children[0].value[i : i + 2], "big") for i in range(0, 8, 2)]
    assert offsets == [c.offset + 5 for c in children[1:]]
    assert children[1].value.decode() == name and children[2].value.decode() == address
    assert layouts.basic4_digest(ef) == hashlib.sha256(ef[offsets[0] :]).digest()


def test_basic4_digest_starts_at_the_name_and_stops_at_the_end_of_ff20() -> None:
    ef = layouts.basic4_ef("試験 太郎", "住所", date(1985, 4, 1), "1")
    assert layouts.basic4_digest(ef + b"\xff" * 100) == hashlib.sha256(ef[16:]).digest()
    with pytest.raises(ProtocolError):
        layouts.basic4_digest(layouts.my_number_ef("123456789018"))


def test_text_signature_ef_byte_exact(signer: rsa.RSAPrivateKey) -> None:
    d1, d2 = hashlib.sha256(b"one").digest(), hashlib.sha256(b"two").digest()
    ef = layouts.text_signature_ef(d1, d2, signer)
    assert len(ef) == layouts.TEXT_SIGNATURE_SIZE == 336
    assert ef[:5] == bytes.fromhex("FF30 82 01 4B")
    assert ef[5:8] == bytes.fromhex("FF3120") and ef[8:40] == d1
    assert ef[40:43] == bytes.fromhex("FF3220") and ef[43:75] == d2
    assert ef[75:80] == bytes.fromhex("FF33 82 01 00")
    assert verifies(signer.public_key(), ef[80:], ef[5:75])  # over the FF31 TLV ‖ FF32 TLV (70 bytes)
    parsed = layouts.parse_text_signature(ef)
    assert (parsed.my_number_hash, parsed.basic4_hash, parsed.signed_data) == (d1, d2, ef[5:75])
    assert parsed.signed_data == layouts.text_signed_data(d1, d2)


def test_cv_certificate_byte_exact(signer: rsa.RSAPrivateKey, root: rsa.RSAPrivateKey) -> None:
    issuer, subject = b"TEST-JLIS-TXT".ljust(16, b"\0"), b"TEST-CV-TXT-0001"
    cert = layouts.cv_certificate(issuer, subject, signer.public_key(), root)
    assert len(cert) == layouts.CV_CERTIFICATE_SIZE == 568
    assert cert[:10] == bytes.fromhex("7F21 82 02 33 5F4E 82 01 29")
    assert cert[10:26] == issuer and cert[26:42] == subject
    assert cert[42:47] == bytes.fromhex("90 03 010001")
    assert cert[47:51] == bytes.fromhex("91 82 01 00")
    assert int.from_bytes(cert[51:307], "big") == signer.public_key().public_numbers().n
    assert cert[307:312] == bytes.fromhex("5F37 82 01 00")
    assert verifies(root.public_key(), cert[312:], cert[10:307])

    parsed = layouts.parse_cv_certificate(cert + b"\xff" * 32)
    assert (parsed.issuer_id, parsed.subject_id, parsed.body, parsed.signature) == (
        issuer,
        subject,
        cert[10:307],
        cert[312:],
    )
    assert parsed.public_key.public_numbers() == signer.public_key().public_numbers()


def test_cv_certificate_needs_16_byte_ids(signer: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError):
        layouts.cv_certificate(b"short", b"TEST-CV-TXT-0001", signer.public_key(), signer)


@pytest.fixture(scope="module")
def cv_cert(signer: rsa.RSAPrivateKey, root: rsa.RSAPrivateKey) -> bytes:
    return layouts.cv_certificate(b"I" * 16, b"S" * 16, signer.public_key(), root)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c[:300],  # truncated
        lambda c: b"\x7f\x22" + c[2:],  # wrong outer tag
        lambda c: c[:5] + b"\x5f\x4f" + c[7:],  # wrong body tag
        lambda c: c[:42] + b"\x92" + c[43:],  # exponent tag wrong
        lambda c: c[:3] + b"\x02\x32" + c[5:306] + c[307:],  # a body byte cut out, outer length adjusted
        lambda c: b"",
        lambda c: b"\xff" * 568,
    ],
    ids=["truncated", "outer-tag", "body-tag", "exponent-tag", "inconsistent", "empty", "padding-only"],
)
def test_bad_cv_certificates_raise_protocol_errors(cv_cert: bytes, mutate: Callable[[bytes], bytes]) -> None:
    with pytest.raises(ProtocolError):
        layouts.parse_cv_certificate(mutate(cv_cert))


@settings(max_examples=examples(200), deadline=None)
@given(st.binary(max_size=700))
def test_parse_cv_certificate_never_raises_anything_but_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):  # TlvError is a ProtocolError; anything else fails the test
        layouts.parse_cv_certificate(data)


@settings(max_examples=examples(150), deadline=None)
@given(position=st.integers(0, 567), value=st.integers(0, 255))
def test_any_single_byte_change_is_detected_or_rejected(
    cv_cert: bytes, root: rsa.RSAPrivateKey, position: int, value: int
) -> None:
    changed = cv_cert[:position] + bytes((value,)) + cv_cert[position + 1 :]
    if changed == cv_cert:
        return
    try:
        parsed = layouts.parse_cv_certificate(changed)
    except ProtocolError:
        return
    assert not verifies(root.public_key(), parsed.signature, parsed.body)


def test_text_ap_basic_info_and_auth_key(signer: rsa.RSAPrivateKey) -> None:
    info = layouts.text_ap_basic_info(b"\x00\x01\x00\x01", b"K" * 16)
    assert info == bytes.fromhex("FF40 1A FF41 04 00010001 FF42 10") + b"K" * 16
    internal = deterministic_rsa_key("TEST-ONLY layouts internal")
    ef = layouts.text_auth_key_ef(internal.public_key(), signer)
    outer = parse_one(ef)
    key_tlv, signature = outer.children()
    assert outer.tag == 0xFF50 and key_tlv.tag == 0xFF51 and signature.tag == 0xFF52
    assert (
        layouts.parse_cv_public_key(key_tlv.value).public_numbers() == internal.public_key().public_numbers()
    )
    assert verifies(signer.public_key(), signature.value, key_tlv.encoded)


def test_surface_entries_layout_and_signature(signer: rsa.RSAPrivateKey) -> None:
    face = b"\x00\x00\x00\x0cjP  " + b"J" * 9000
    ef = layouts.surface_entries_ef(
        birth_date=date(1985, 4, 1),
        sex="1",
        public_key=signer.public_key(),
        name_png=b"\x89PNG name",
        address_png=b"\x89PNG address" * 20,
        face_jp2=face,
        expiry=date(2033, 4, 1),
        security_code_png=b"\x89PNG code",
        signer=signer,
    )
    assert ef[:3] == bytes.fromhex("FF2082") and int.from_bytes(ef[3:5], "big") == len(ef) - 5
    assert ef[5:8] == bytes.fromhex("DF2112")  # 9 offsets
    offsets = [int.from_bytes(ef[8 + 2 * i : 10 + 2 * i], "big") for i in range(9)]
    tags = [field_at(ef, o)[0] for o in offsets]
    assert tags == list(range(0xDF22, 0xDF2B))
    values = {tag: field_at(ef, o)[1] for tag, o in zip(tags, offsets, strict=True)}
    assert values[0xDF22] == b"19850401" and values[0xDF23] == b"1" and values[0xDF29] == b"20330401"
    assert values[0xDF27] == face and values[0xDF2A] == b"\x89PNG code"
    assert ef[offsets[5] : offsets[5] + 3] == bytes.fromhex("DF2782")  # the photo needs 82 LL LL
    signed = layouts.surface_signed_data(ef + b"\xff" * 1024)
    assert signed == ef[offsets[0] : offsets[6]]  # DF22 … DF27 as stored
    assert verifies(signer.public_key(), values[0xDF28], signed)
    assert (
        layouts.parse_cv_public_key(values[0xDF24]).public_numbers() == signer.public_key().public_numbers()
    )


def test_surface_birth_and_my_number_objects(signer: rsa.RSAPrivateKey) -> None:
    birth = parse_one(layouts.surface_birth_ef(date(1960, 2, 29), signer.public_key(), signer))
    b_text, b_key, b_sig = birth.children()
    assert (birth.tag, b_text.tag, b_key.tag, b_sig.tag) == (0xFF10, 0xFF11, 0xFF12, 0xFF13)
    assert b_text.value == b"19600229"
    assert verifies(signer.public_key(), b_sig.value, b_text.encoded + b_key.encoded)

    image = parse_one(layouts.surface_my_number_ef(b"\x89PNG digits", signer.public_key(), signer))
    png, key, sig = image.children()
    assert (image.tag, png.tag, key.tag, sig.tag) == (0xFF40, 0xFF41, 0xFF42, 0xFF43)
    assert png.value == b"\x89PNG digits"
    assert verifies(signer.public_key(), sig.value, png.encoded + key.encoded)


def test_surface_ap_basic_info() -> None:
    info = parse_one(layouts.surface_ap_basic_info(b"\x00\x02\x00\x01", b"K" * 16, 1, "Chiyoda-ku"))
    assert [c.tag for c in info.children()] == [0xFF41, 0xFF42, 0xFF43, 0xFF44]
    assert info.children()[3].value == b"Chiyoda-ku"


def test_juki_record_carries_the_manufacture_number_at_characters_2_to_15() -> None:
    record = layouts.juki_record("T0123456789AB")
    value = parse_one(record).value
    assert value.decode()[2:15] == "T0123456789AB"  # MYNA-RS prints &s[2..15]
    with pytest.raises(ValueError):
        layouts.juki_record("short")
