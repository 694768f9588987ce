"""Card-info integrity (EF 0003/0004): every check passes on honest cards and fails on the right fault."""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import CardError, ProtocolError
from drivers.mynumber import integrity
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
from drivers.tlv import encode

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


def test_ef0003_with_short_digests_is_malformed() -> None:
    bad = encode(0xFF30, encode(0xFF31, b"x" * 31) + encode(0xFF32, b"y" * 32) + encode(0xFF33, b"z" * 256))
    with pytest.raises(ProtocolError):
        parse_text_signature(bad)


# --- hostile input: only the driver's typed errors ----------------------------------------------------------

PARSERS = [my_number_digest, basic4_digest, parse_text_signature, parse_cv_certificate, parse_cv_public_key]


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=800), parser=st.sampled_from(PARSERS))
def test_random_bytes_raise_only_typed_errors(data: bytes, parser: Callable[[bytes], object]) -> None:
    with contextlib.suppress(CardError):
        parser(data)


REAL = st.sampled_from(range(4))


@functools.cache
def adult_efs() -> tuple[bytes, bytes, bytes, bytes]:
    return text_efs(build_card_image(load_profile(BUNDLED_PROFILES / "adult.toml"), TODAY))


@settings(max_examples=300, deadline=None)
@given(which=REAL, cut=st.integers(0, 600), tail=st.binary(max_size=64), position=st.integers(0, 600),
       value=st.integers(0, 255))
def test_truncated_oversized_and_mutated_card_data_raise_only_typed_errors(
    roots: dict, which: int, cut: int, tail: bytes, position: int, value: int
) -> None:
    efs = list(adult_efs())
    original = efs[which]
    mutated = original[:cut] + tail
    if position < len(mutated):
        mutated = mutated[:position] + bytes((value,)) + mutated[position + 1 :]
    parser = [my_number_digest, basic4_digest, parse_text_signature, parse_cv_certificate][which]
    with contextlib.suppress(CardError):
        parser(mutated)
    efs[which] = mutated
    results = check_card_info(*efs, roots)  # never raises: a verdict reports, it does not crash
    assert [r.name for r in results] == CHECKS
    if mutated == original:
        assert all(r.passed for r in results)


@settings(max_examples=50, deadline=None)
@given(length=st.integers(0x100, 0xFFFFFF), which=REAL)
def test_inflated_lengths_raise_only_typed_errors(length: int, which: int) -> None:
    original = adult_efs()[which]
    # replace the outer length with a long form claiming far more than is there
    header = original[:2] + b"\x83" + length.to_bytes(3, "big")
    parser = [my_number_digest, basic4_digest, parse_text_signature, parse_cv_certificate][which]
    with contextlib.suppress(CardError):
        parser(header + original[5:])
