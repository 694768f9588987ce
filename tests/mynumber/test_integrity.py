"""Card-info integrity (EF 0003/0004): every check passes on honest cards and fails on the right fault."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import ProtocolError
from drivers.mynumber import integrity
from drivers.mynumber.basic4 import parse_my_number_ef
from drivers.mynumber.integrity import (
    CHECK_BASIC4_DIGEST,
    CHECK_CV_CERTIFICATE,
    CHECK_MY_NUMBER_DIGEST,
    CHECK_TEXT_SIGNATURE,
    CheckResult,
    basic4_digest,
    check_card_info,
    my_number_digest,
    parse_cv_certificate,
    parse_cv_public_key,
    parse_text_signature,
    text_signed_data,
)
from drivers.mynumber.trust import TrustStore
from drivers.sim import layouts, pki
from drivers.sim.model import CardImage
from drivers.sim.profile import APP_TEXT, BUNDLED_PROFILES, build_card_image, load_profile
from drivers.tlv import encode, parse_one, read_header, total_length
from tests.support.fuzzing import examples

TODAY = date(2026, 11, 26)
HONEST = ["adult", "expired", "foreign-resident", "long-address", "minor"]
CHECKS = [CHECK_MY_NUMBER_DIGEST, CHECK_BASIC4_DIGEST, CHECK_TEXT_SIGNATURE, CHECK_CV_CERTIFICATE]


@pytest.fixture(scope="module")
def cards() -> dict[str, CardImage]:
    return {name: build_card_image(load_profile(BUNDLED_PROFILES / f"{name}.toml"), TODAY) for name in
            [*HONEST, "tampered"]}


@pytest.fixture(scope="module")
def roots(tmp_path_factory: pytest.TempPathFactory) -> dict[bytes, rsa.RSAPublicKey]:
    folder = tmp_path_factory.mktemp("trust")
    pki.write_trust_store(folder)
    return dict(TrustStore.from_directory(folder).cv_roots)


def text_efs(card: CardImage) -> tuple[bytes, bytes, bytes, bytes]:
    """EF 0001-0004 as READ BINARY over the whole EF returns them (content + FF padding)."""
    efs = card.application(APP_TEXT).efs
    return efs[1].padded, efs[2].padded, efs[3].padded, efs[4].padded


def statuses(results: list[CheckResult]) -> dict[str, tuple[str, str | None]]:
    return {result.name: (result.status, result.reason) for result in results}


PASSED = dict.fromkeys(CHECKS, ("passed", None))


def flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes((data[position] ^ 0x01,)) + data[position + 1 :]


# --- the definitions --------------------------------------------------------------------------------------


def test_layouts_uses_the_one_definition() -> None:
    for name in ("my_number_digest", "basic4_digest", "parse_text_signature", "parse_cv_certificate",
                 "parse_cv_public_key", "text_signed_data", "TextSignature", "CvCertificate"):
        assert getattr(layouts, name) is getattr(integrity, name)


def test_my_number_digest_is_over_the_17_bytes(cards: dict[str, CardImage]) -> None:
    ef = text_efs(cards["adult"])[0]
    assert len(ef) == 17 and ef.endswith(b"\xff\xff")
    assert my_number_digest(ef) == hashlib.sha256(ef).digest()
    assert my_number_digest(ef + b"\xff" * 200) == hashlib.sha256(ef).digest()
    with pytest.raises(ProtocolError):
        my_number_digest(ef[:16])


def test_basic4_digest_starts_at_df22_and_ends_with_ff20(cards: dict[str, CardImage]) -> None:
    ef = text_efs(cards["long-address"])[1]
    content = cards["long-address"].application(APP_TEXT).efs[2].content
    name_offset = int.from_bytes(content[8:10], "big")
    assert content[name_offset : name_offset + 2] == bytes.fromhex("DF22")
    assert basic4_digest(ef) == hashlib.sha256(content[name_offset:]).digest()


def test_text_signature_parses_and_covers_ff31_ff32(cards: dict[str, CardImage]) -> None:
    my_number_ef, basic4_ef, ef0003, _ = text_efs(cards["adult"])
    parsed = parse_text_signature(ef0003)
    assert parsed.my_number_hash == my_number_digest(my_number_ef)
    assert parsed.basic4_hash == basic4_digest(basic4_ef)
    assert parsed.signed_data == text_signed_data(parsed.my_number_hash, parsed.basic4_hash) == ef0003[5:75]
    assert len(parsed.signature) == 256


def test_cv_certificate_names_the_test_root(cards: dict[str, CardImage]) -> None:
    cv = parse_cv_certificate(text_efs(cards["adult"])[3])
    assert cv.issuer_id == pki.CV_ROOT_IDS["text"] and cv.subject_id == pki.CV_SIGNER_IDS["text"]
    signer = pki.cv_signer("text").key.public_key()
    assert cv.public_key.public_numbers() == signer.public_numbers()


def test_cv_public_key_accepts_both_candidate_tag_classes() -> None:
    key = pki.cv_signer("text").key.public_key()
    context = layouts.cv_public_key(key)
    private = b"\xd0" + context[1:5] + b"\xd1" + context[6:]
    assert parse_cv_public_key(private).public_numbers() == key.public_numbers()
    with pytest.raises(ProtocolError):
        parse_cv_public_key(b"\x92" + context[1:])


@pytest.mark.parametrize(
    ("exponent", "modulus"),
    [
        (b"\x01\x00\x01", b"\xc3" * 64),  # 512-bit modulus: too small to be a card key
        (b"\x01\x00\x01", b"\xc3" * 600),  # 4800 bits: over the bound (no huge modexp for a hostile card)
        (b"\x01" * 9, b"\xc3" * 256),  # nine-byte exponent
        (b"", b"\xc3" * 256),
        (b"\x02", b"\xc3" * 256),  # even exponent: not an RSA key
    ],
)
def test_cv_public_key_refuses_unusable_keys(exponent: bytes, modulus: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_cv_public_key(encode(0x90, exponent) + encode(0x91, modulus))


# --- check_card_info over the bundled residents ----------------------------------------------------------


@pytest.mark.parametrize("name", HONEST)
def test_honest_cards_pass_every_check(cards: dict[str, CardImage], roots: dict, name: str) -> None:
    results = check_card_info(*text_efs(cards[name]), roots)
    assert [r.name for r in results] == CHECKS
    assert statuses(results) == PASSED
    assert all(r.passed for r in results)


def test_tampered_profile_fails_only_the_basic4_digest(cards: dict[str, CardImage], roots: dict) -> None:
    results = statuses(check_card_info(*text_efs(cards["tampered"]), roots))
    assert results == {**PASSED, CHECK_BASIC4_DIGEST: ("failed", "digest_mismatch")}


def test_my_number_and_signature_tamper_flags(tmp_path: Path, roots: dict) -> None:
    text = (BUNDLED_PROFILES / "adult.toml").read_text(encoding="utf-8")
    path = tmp_path / "adult.toml"
    path.write_text(text + "\n[tamper]\nmy_number_digest = true\ntext_signature = true\n", encoding="utf-8")
    results = statuses(check_card_info(*text_efs(build_card_image(load_profile(path), TODAY)), roots))
    assert results == {
        **PASSED,
        CHECK_MY_NUMBER_DIGEST: ("failed", "digest_mismatch"),
        CHECK_TEXT_SIGNATURE: ("failed", "bad_signature"),
    }


def test_changed_my_number_ef_fails_its_digest(cards: dict[str, CardImage], roots: dict) -> None:
    my_number_ef, basic4_ef, ef0003, ef0004 = text_efs(cards["adult"])
    changed = my_number_ef[:14] + b"9" + my_number_ef[15:]
    results = statuses(check_card_info(changed, basic4_ef, ef0003, ef0004, roots))
    assert results == {**PASSED, CHECK_MY_NUMBER_DIGEST: ("failed", "digest_mismatch")}


@pytest.mark.parametrize("position", [80, 200, 335])
def test_flipped_signature_byte_fails_the_signature(
    cards: dict[str, CardImage], roots: dict, position: int
) -> None:
    my_number_ef, basic4_ef, ef0003, ef0004 = text_efs(cards["adult"])
    results = statuses(check_card_info(my_number_ef, basic4_ef, flip(ef0003, position), ef0004, roots))
    assert results == {**PASSED, CHECK_TEXT_SIGNATURE: ("failed", "bad_signature")}


def test_flipped_digest_byte_fails_digest_and_signature(cards: dict[str, CardImage], roots: dict) -> None:
    my_number_ef, basic4_ef, ef0003, ef0004 = text_efs(cards["adult"])
    results = statuses(check_card_info(my_number_ef, basic4_ef, flip(ef0003, 50), ef0004, roots))
    assert results == {
        **PASSED,
        CHECK_BASIC4_DIGEST: ("failed", "digest_mismatch"),
        CHECK_TEXT_SIGNATURE: ("failed", "bad_signature"),
    }


def test_flipped_cv_certificate_signature_fails_the_certificate(
    cards: dict[str, CardImage], roots: dict
) -> None:
    my_number_ef, basic4_ef, ef0003, ef0004 = text_efs(cards["adult"])
    results = statuses(check_card_info(my_number_ef, basic4_ef, ef0003, flip(ef0004, 400), roots))
    assert results == {**PASSED, CHECK_CV_CERTIFICATE: ("failed", "bad_signature")}


def test_replaced_cv_key_fails_signature_and_certificate(cards: dict[str, CardImage], roots: dict) -> None:
    """An attacker's own signer key in EF 0004 makes EF 0003 verify — but the certificate then cannot."""
    my_number_ef, basic4_ef, _, _ = text_efs(cards["adult"])
    forger = pki.cv_signer("visual").key  # any key the genuine root did not certify for this id
    ef0003 = layouts.text_signature_ef(my_number_digest(my_number_ef), basic4_digest(basic4_ef), forger)
    genuine = parse_cv_certificate(text_efs(cards["adult"])[3])
    body = genuine.issuer_id + genuine.subject_id + layouts.cv_public_key(forger.public_key())
    forged = encode(0x7F21, encode(0x5F4E, body, long_form=True) + encode(0x5F37, genuine.signature,
                                                                          long_form=True), long_form=True)
    results = statuses(check_card_info(my_number_ef, basic4_ef, ef0003, forged, roots))
    assert results == {**PASSED, CHECK_CV_CERTIFICATE: ("failed", "bad_signature")}


def test_unknown_cv_issuer(cards: dict[str, CardImage], roots: dict) -> None:
    efs = text_efs(cards["adult"])
    only_visual = {pki.CV_ROOT_IDS["visual"]: roots[pki.CV_ROOT_IDS["visual"]]}
    for configured in ({}, only_visual):
        results = statuses(check_card_info(*efs, configured))
        assert results == {**PASSED, CHECK_CV_CERTIFICATE: ("failed", "unknown_card_info_issuer")}


def test_wrong_root_key_under_the_right_id(cards: dict[str, CardImage], roots: dict) -> None:
    wrong = {pki.CV_ROOT_IDS["text"]: roots[pki.CV_ROOT_IDS["visual"]]}
    results = statuses(check_card_info(*text_efs(cards["adult"]), wrong))
    assert results == {**PASSED, CHECK_CV_CERTIFICATE: ("failed", "bad_signature")}


def test_efs_not_read_are_not_checked(cards: dict[str, CardImage], roots: dict) -> None:
    my_number_ef, basic4_ef, ef0003, ef0004 = text_efs(cards["adult"])
    only_pin_b = statuses(check_card_info(None, basic4_ef, ef0003, ef0004, roots))
    assert only_pin_b == {**PASSED, CHECK_MY_NUMBER_DIGEST: ("not_checked", "not_read")}
    nothing = statuses(check_card_info(None, None, None, None, roots))
    assert nothing == dict.fromkeys(CHECKS, ("not_checked", "not_read"))
    no_certificate = statuses(check_card_info(my_number_ef, basic4_ef, ef0003, None, roots))
    assert no_certificate == {
        **PASSED,
        CHECK_TEXT_SIGNATURE: ("not_checked", "not_read"),
        CHECK_CV_CERTIFICATE: ("not_checked", "not_read"),
    }


def test_malformed_efs_fail_their_checks_without_raising(cards: dict[str, CardImage], roots: dict) -> None:
    my_number_ef, basic4_ef, ef0003, ef0004 = text_efs(cards["adult"])
    assert statuses(check_card_info(my_number_ef[:5], basic4_ef, ef0003, ef0004, roots)) == {
        **PASSED, CHECK_MY_NUMBER_DIGEST: ("failed", "malformed_my_number_ef")}
    assert statuses(check_card_info(my_number_ef, b"\xff" * 64, ef0003, ef0004, roots)) == {
        **PASSED, CHECK_BASIC4_DIGEST: ("failed", "malformed_basic4_ef")}
    assert statuses(check_card_info(my_number_ef, basic4_ef, ef0003[:100], ef0004, roots)) == {
        CHECK_MY_NUMBER_DIGEST: ("failed", "malformed_ef0003"),
        CHECK_BASIC4_DIGEST: ("failed", "malformed_ef0003"),
        CHECK_TEXT_SIGNATURE: ("failed", "malformed_ef0003"),
        CHECK_CV_CERTIFICATE: ("passed", None),
    }
    assert statuses(check_card_info(my_number_ef, basic4_ef, ef0003, ef0004[:300], roots)) == {
        **PASSED,
        CHECK_TEXT_SIGNATURE: ("failed", "malformed_ef0004"),
        CHECK_CV_CERTIFICATE: ("failed", "malformed_ef0004"),
    }


@pytest.mark.parametrize(("body_change", "signature_change"), [
    (lambda body: body + b"\xff", lambda sig: sig),  # the key still parses: only the size rule refuses it
    (lambda body: body[:-1], lambda sig: sig),
    (lambda body: body, lambda sig: sig[:-1]),
    (lambda body: body, lambda sig: sig + b"\x00"),
], ids=["body-298", "body-296", "signature-255", "signature-257"])
def test_ef0004_with_wrong_field_sizes_is_malformed(cards: dict[str, CardImage], body_change, signature_change) -> None:
    honest = parse_cv_certificate(text_efs(cards["adult"])[3])
    content = encode(0x5F4E, body_change(honest.body), long_form=True) + encode(
        0x5F37, signature_change(honest.signature), long_form=True)
    with pytest.raises(ProtocolError, match="must be"):
        parse_cv_certificate(encode(0x7F21, content, long_form=True))


def test_ef0003_with_short_digests_is_malformed() -> None:
    bad = encode(0xFF30, encode(0xFF31, b"x" * 31) + encode(0xFF32, b"y" * 32) + encode(0xFF33, b"z" * 256))
    with pytest.raises(ProtocolError):
        parse_text_signature(bad)


# --- hostile input: only the driver's typed errors ----------------------------------------------------------

TLV_PARSERS: list[tuple[Callable[[bytes], object], int]] = [
    (basic4_digest, integrity.TAG_BASIC4),
    (parse_text_signature, integrity.TAG_TEXT_SIGNATURE),
    (parse_cv_certificate, integrity.TAG_CV_CERTIFICATE),
]
hostile_bytes = st.one_of(
    st.binary(max_size=800),
    st.sampled_from([0xFF20, 0xFF30, 0x7F21]).flatmap(
        lambda tag: st.binary(max_size=600).map(lambda body: tag.to_bytes(2, "big") + body)),
)


@settings(max_examples=examples(300), deadline=None)
@given(data=hostile_bytes)
def test_random_bytes_are_refused_with_a_typed_error(data: bytes) -> None:
    """Each parser refuses what lacks its outer tag, and what it does accept has the layout's shape."""
    if len(data) < integrity.MY_NUMBER_EF_SIZE:
        with pytest.raises(ProtocolError):
            my_number_digest(data)
    else:
        assert my_number_digest(data) == hashlib.sha256(data[: integrity.MY_NUMBER_EF_SIZE]).digest()
    for parser, tag in TLV_PARSERS:
        if not data.startswith(tag.to_bytes(2, "big")):
            with pytest.raises(ProtocolError):
                parser(data)
            continue
        try:
            parsed = parser(data)
        except ProtocolError:
            continue
        if isinstance(parsed, bytes):
            assert len(parsed) == integrity.DIGEST_SIZE
        elif isinstance(parsed, integrity.TextSignature):
            assert len(parsed.my_number_hash) == len(parsed.basic4_hash) == integrity.DIGEST_SIZE
            assert parsed.signature and parsed.signed_data in data
        else:
            assert len(parsed.body) == integrity.CV_BODY_SIZE
            assert 1024 <= parsed.public_key.key_size <= 4096


@settings(max_examples=examples(200), deadline=None)
@given(data=st.binary(max_size=400))
def test_random_bytes_are_no_cv_public_key(data: bytes) -> None:
    try:
        key = parse_cv_public_key(data)
    except ProtocolError:
        return
    assert 1024 <= key.key_size <= 4096 and data[0] in (0x90, 0xD0)


REAL = st.sampled_from(range(4))


@functools.cache
def adult_efs() -> tuple[bytes, bytes, bytes, bytes]:
    return text_efs(build_card_image(load_profile(BUNDLED_PROFILES / "adult.toml"), TODAY))


def covered(which: int, ef: bytes) -> bytes:
    """The bytes of an EF the integrity checks cover: the whole 17-byte My Number EF; for the basic 4 its
    TLV without the DF21 offset header (outside the digest by design, §4.3); for EF 0003/0004 their TLV."""
    if which == 0:
        return ef[: integrity.MY_NUMBER_EF_SIZE]
    end = total_length(ef)
    if which == 1:
        outer = parse_one(ef)
        name = next((child for child in outer.children() if child.tag == integrity.TAG_NAME), None)
        if name is None:
            raise ProtocolError("no name field")  # nothing the digest covers can be found
        return ef[: outer.header_length] + ef[outer.header_length + name.offset : end]
    return ef[:end]


@settings(max_examples=examples(300), deadline=None)
@given(which=REAL, cut=st.integers(0, 600), tail=st.binary(max_size=64), position=st.integers(0, 600),
       value=st.integers(0, 255))
def test_any_change_to_covered_card_data_fails_a_check(
    roots: dict, which: int, cut: int, tail: bytes, position: int, value: int
) -> None:
    """Cut, extended or changed EFs: ``check_card_info`` reports (never raises), and "all passed" holds
    exactly when every byte the checks cover is the card's own."""
    efs = list(adult_efs())
    original = efs[which]
    mutated = original[:cut] + tail
    if position < len(mutated):
        mutated = mutated[:position] + bytes((value,)) + mutated[position + 1 :]
    efs[which] = mutated
    results = check_card_info(*efs, roots)
    assert [r.name for r in results] == CHECKS
    try:
        unchanged = covered(which, mutated) == covered(which, original)
    except ProtocolError:
        unchanged = False  # so broken that the covered part cannot even be found
    if unchanged:
        assert all(r.passed for r in results), [(r.name, r.status, r.reason) for r in results]
    else:
        assert not all(r.passed for r in results)


@settings(max_examples=examples(50), deadline=None)
@given(extra=st.integers(1, 0xFFF000), which=REAL)
def test_inflated_lengths_are_refused(extra: int, which: int) -> None:
    """The outer length replaced by a long form claiming more than the whole padded EF holds."""
    original = adult_efs()[which]
    _, _, header_length = read_header(original)
    length = len(original) - header_length + extra
    inflated = original[:2] + b"\x83" + length.to_bytes(3, "big") + original[header_length:]
    parser = [parse_my_number_ef, basic4_digest, parse_text_signature, parse_cv_certificate][which]
    with pytest.raises(ProtocolError):
        parser(inflated)
