"""The JPKI certificate model over the test PKI: fields, kinds, validity, SAN attributes vs basic 4."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import ProtocolError
from drivers.mynumber.basic4 import Basic4, parse_basic4
from drivers.mynumber.certificates import (
    JST,
    CertificateError,
    JpkiCertificate,
    SignAttributes,
    attributes_match,
    certificate_der_from_ef,
    classify,
    key_usage_ok,
    months_before,
    normalize_birth_date,
    normalize_sex,
    normalize_text,
    parse_certificate,
    parse_certificate_ef,
    validity,
)
from drivers.sim import pki
from drivers.sim.model import CardImage
from drivers.sim.profile import APP_JPKI, APP_TEXT, BUNDLED_PROFILES, build_card_image, load_profile
from drivers.tlv import encode
from tests.support.fuzzing import examples

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
PROFILES = ["adult", "expired", "foreign-resident", "long-address", "minor"]
EF_SIGN, EF_SIGN_CA, EF_AUTH, EF_AUTH_CA = 0x0001, 0x0002, 0x000A, 0x000B


@pytest.fixture(scope="module")
def cards() -> dict[str, CardImage]:
    return {name: build_card_image(load_profile(BUNDLED_PROFILES / f"{name}.toml"), TODAY) for name in PROFILES}


def jpki_ef(card: CardImage, fid: int) -> bytes:
    return card.application(APP_JPKI).efs[fid].padded


def cert(card: CardImage, fid: int) -> JpkiCertificate:
    parsed = parse_certificate_ef(jpki_ef(card, fid))
    assert parsed is not None
    return parsed


def basic4(card: CardImage) -> Basic4:
    return parse_basic4(card.application(APP_TEXT).efs[2].padded)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def issue(
    key: rsa.RSAPrivateKey,
    *,
    issuer_key: rsa.RSAPrivateKey | None = None,
    san: list[x509.GeneralName] | None = None,
    key_usage: dict[str, bool] | None = None,
    not_after: datetime = datetime(2030, 5, 31, 14, 59, 59, tzinfo=UTC),
) -> bytes:
    """A bare test certificate (no JPKI shape unless asked for)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST-ONLY")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(datetime(2025, 1, 1, tzinfo=UTC))
        .not_valid_after(not_after)
    )
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    if key_usage is not None:
        bits = dict.fromkeys(
            ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"), False)
        builder = builder.add_extension(x509.KeyUsage(**{**bits, **key_usage}), critical=True)
    return builder.sign(issuer_key or key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


# --- the model -------------------------------------------------------------------------------------------------


def test_auth_certificate_fields(cards: dict[str, CardImage]) -> None:
    auth, ca = cert(cards["adult"], EF_AUTH), cert(cards["adult"], EF_AUTH_CA)
    assert auth.certificate.public_bytes(serialization.Encoding.DER) == auth.der
    assert auth.subject.startswith("CN=TST") and "C=JP" in auth.subject
    assert auth.issuer == ca.subject == pki.ca_name("auth").rfc4514_string()
    assert auth.not_before.tzinfo is not None and auth.not_after.utcoffset() == timedelta(0)
    assert auth.not_after.astimezone(JST).time().isoformat() == "23:59:59"
    assert auth.key_usage == {"digitalSignature"}
    assert auth.extended_key_usage == {"1.3.6.1.5.5.7.3.2"}
    assert auth.policies == ("1.2.392.200149.8.5.1.3.30",)
    assert auth.authority_key_id == ca.subject_key_id is not None
    assert auth.subject_key_id is not None and auth.subject_key_id != ca.subject_key_id
    assert auth.crl_distribution_points == (
        "CN=Chiyoda-ku CRLDP,OU=Tokyo,OU=CRL Distribution Points,OU=JPKI for user authentication,O=JPKI-TEST,C=JP",
    )
    assert auth.ocsp_urls == (pki.OCSP_URL,)
    assert not auth.is_ca and auth.sign_attributes is None
    assert ca.is_ca and ca.key_usage == {"keyCertSign", "cRLSign"} and ca.self_issued
    assert len(auth.sha256_fingerprint) == 64


def test_sign_certificate_fields(cards: dict[str, CardImage]) -> None:
    sign = cert(cards["adult"], EF_SIGN)
    assert sign.key_usage == {"digitalSignature", "nonRepudiation"}
    assert sign.policies == (pki.SIGN_POLICY.dotted_string,)
    assert sign.sign_attributes is not None
    attributes = sign.sign_attributes
    assert (attributes.name, attributes.sex, attributes.birth_date) == ("試験 太郎", "1", "19850401")
    assert attributes.address == attributes.address_alternative == basic4(cards["adult"]).address


@pytest.mark.parametrize(
    ("fid", "kind"), [(EF_AUTH, "auth"), (EF_SIGN, "sign"), (EF_AUTH_CA, "ca"), (EF_SIGN_CA, "ca")]
)
def test_classify(cards: dict[str, CardImage], fid: int, kind: str) -> None:
    assert classify(cert(cards["adult"], fid)) == kind


def test_classify_unknown_and_ca_without_key_cert_sign(other_key: rsa.RSAPrivateKey) -> None:
    assert classify(parse_certificate(issue(other_key))) == "unknown"
    assert classify(parse_certificate(issue(other_key, key_usage={"digital_signature": True}))) == "unknown"


def test_key_usage_ok(cards: dict[str, CardImage], other_key: rsa.RSAPrivateKey) -> None:
    auth, sign, ca = (cert(cards["adult"], fid) for fid in (EF_AUTH, EF_SIGN, EF_AUTH_CA))
    assert key_usage_ok(auth, "auth") and not key_usage_ok(auth, "sign")
    assert key_usage_ok(sign, "sign") and not key_usage_ok(sign, "auth")  # no clientAuth EKU
    assert not key_usage_ok(ca, "auth") and not key_usage_ok(ca, "sign")
    bare = parse_certificate(issue(other_key, key_usage={"digital_signature": True}))
    assert not key_usage_ok(bare, "auth")  # digitalSignature alone lacks the clientAuth EKU
    with pytest.raises(ValueError):
        key_usage_ok(auth, "encrypt")  # type: ignore[arg-type]


def test_minor_has_no_sign_certificate_to_parse(cards: dict[str, CardImage]) -> None:
    minor = cards["minor"]
    assert certificate_der_from_ef(jpki_ef(minor, EF_SIGN)) is None
    assert parse_certificate_ef(jpki_ef(minor, EF_SIGN)) is None
    assert parse_certificate_ef(jpki_ef(minor, EF_SIGN_CA)) is None
    assert classify(cert(minor, EF_AUTH)) == "auth"
    assert certificate_der_from_ef(b"") is None


def test_padded_der_is_refused_by_the_strict_parser(cards: dict[str, CardImage]) -> None:
    ef = jpki_ef(cards["adult"], EF_AUTH)
    der = certificate_der_from_ef(ef)
    assert der is not None and ef.startswith(der) and ef[len(der) :] == b"\xff" * (len(ef) - len(der))
    with pytest.raises(CertificateError):
        parse_certificate(ef)
    with pytest.raises(CertificateError):
        certificate_der_from_ef(der[:500])  # claims more than present


def test_bad_der_is_a_protocol_error() -> None:
    for data in (b"", b"\x30\x03\x02\x01\x01", b"not a certificate", b"\x30\x82\xff\xff"):
        with pytest.raises(CertificateError) as info:
            parse_certificate(data)
        assert isinstance(info.value, ProtocolError) and info.value.code == "certificate_error"


def test_reprs_carry_no_personal_data(cards: dict[str, CardImage]) -> None:
    sign = cert(cards["adult"], EF_SIGN)
    assert sign.sign_attributes is not None
    for text in (repr(sign), str(sign), repr(sign.sign_attributes), f"{sign.sign_attributes}"):
        for secret in ("試験", "太郎", "東京都", "19850401", "霞が関"):
            assert secret not in text
    assert "name=<5 chars>" in repr(sign.sign_attributes)


# --- SAN attributes versus basic 4 ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["adult", "foreign-resident", "long-address", "expired"])
def test_sign_attributes_equal_basic4(cards: dict[str, CardImage], name: str) -> None:
    attributes = cert(cards[name], EF_SIGN).sign_attributes
    assert attributes is not None
    assert attributes_match(attributes, basic4(cards[name])) == (True, [])


def test_foreign_resident_latin_name_in_both(cards: dict[str, CardImage]) -> None:
    attributes = cert(cards["foreign-resident"], EF_SIGN).sign_attributes
    assert attributes is not None and attributes.name == "SAMPLE ALEX TESTER" and attributes.sex == "9"


def test_changed_address_is_reported_by_field_name(cards: dict[str, CardImage]) -> None:
    attributes = cert(cards["adult"], EF_SIGN).sign_attributes
    assert attributes is not None
    card = basic4(cards["adult"])
    moved = Basic4(card.name, "大阪府大阪市北区テスト町一丁目2番3号", card.birth_date, card.sex)
    assert attributes_match(attributes, moved) == (False, ["address"])
    renamed = Basic4("試験 花子", card.address, date(1985, 4, 2), "2")
    assert attributes_match(attributes, renamed) == (False, ["name", "birth_date", "sex"])


def test_normalisation_is_width_and_space_insensitive() -> None:
    card = Basic4("SAMPLE ALEX TESTER", "東京都千代田区霞が関9番9号 101号室", date(1995, 7, 7), "9")
    attributes = SignAttributes(
        name="ＳＡＭＰＬＥ　ＡＬＥＸ  TESTER",  # full-width letters, ideographic and double spaces
        sex="９",
        birth_date="1995-07-07",
        address="  東京都千代田区霞が関９番９号　１０１号室 ",
    )
    assert attributes_match(attributes, card) == (True, [])
    assert normalize_text("ｼｹﾝ　ﾀﾛｳ") == "シケン タロウ"  # half-width katakana
    assert normalize_birth_date("1995/07/07") == normalize_birth_date("１９９５０７０７") == "19950707"
    assert normalize_birth_date("19950231") is None and normalize_birth_date("H07.07.07") is None
    assert normalize_sex("女") == normalize_sex("Female") == "2" and normalize_sex("x") is None


def test_alternative_character_forms_also_match() -> None:
    card = Basic4("髙橋 一郎", "東京都", date(1990, 1, 1), "1")
    attributes = SignAttributes("𠮷橋 一郎", "髙橋 一郎", "1", "19900101", "東京都", None)
    assert attributes_match(attributes, card) == (True, [])


def test_missing_attributes_differ() -> None:
    card = Basic4("名", "住所", date(1990, 1, 1), "1")
    assert attributes_match(SignAttributes(), card) == (False, ["name", "address", "birth_date", "sex"])


def attribute_cert(key: rsa.RSAPrivateKey, values: list[tuple[str, bytes]]) -> bytes:
    return issue(key, san=[x509.OtherName(x509.ObjectIdentifier(oid), value) for oid, value in values])


NAME_OID, SEX_OID = pki.OID_NAME.dotted_string, pki.OID_SEX.dotted_string


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (encode(0x0C, "試験".encode()), "試験"),
        (encode(0x13, b"TESTER"), "TESTER"),
        (encode(0x16, b"TESTER"), "TESTER"),
        (encode(0x1E, "試験".encode("utf-16-be")), "試験"),
        (encode(0x1C, "試験".encode("utf-32-be")), "試験"),
    ],
    ids=["utf8", "printable", "ia5", "bmp", "universal"],
)
def test_attribute_string_types_are_tolerated(other_key: rsa.RSAPrivateKey, value: bytes, text: str) -> None:
    parsed = parse_certificate(attribute_cert(other_key, [(NAME_OID, value)]))
    assert parsed.sign_attributes is not None and parsed.sign_attributes.name == text


@pytest.mark.parametrize(
    "values",
    [
        [(NAME_OID, encode(0x02, b"\x01"))],  # an INTEGER is no name
        [(NAME_OID, encode(0x0C, b"\xff\xfe"))],  # not UTF-8
        [(NAME_OID, encode(0x0C, b"a")), (NAME_OID, encode(0x0C, b"b"))],  # twice
    ],
    ids=["integer", "bad-utf8", "duplicate"],
)
def test_broken_attributes_are_certificate_errors(other_key: rsa.RSAPrivateKey, values: list) -> None:
    with pytest.raises(CertificateError):
        parse_certificate(attribute_cert(other_key, values))


def test_unrelated_other_names_are_ignored(other_key: rsa.RSAPrivateKey) -> None:
    parsed = parse_certificate(attribute_cert(other_key, [("1.2.3.4", encode(0x02, b"\x01"))]))
    assert parsed.sign_attributes is None


# --- validity and renewal ------------------------------------------------------------------------------------


def test_expired_profile(cards: dict[str, CardImage]) -> None:
    report = validity(cert(cards["expired"], EF_AUTH), NOW)
    assert report.status == "expired" and not report.valid and report.days_to_expiry < -2000
    assert not report.in_renewal_window


def test_adult_is_valid_and_not_yet_renewable(cards: dict[str, CardImage]) -> None:
    report = validity(cert(cards["adult"], EF_AUTH), NOW)
    assert report.valid and 1400 < report.days_to_expiry < 1500 and not report.in_renewal_window


def test_not_yet_valid(cards: dict[str, CardImage]) -> None:
    auth = cert(cards["adult"], EF_AUTH)
    report = validity(auth, auth.not_before - timedelta(seconds=1))
    assert report.status == "not_yet_valid" and not report.in_renewal_window


def test_renewal_window_boundaries(other_key: rsa.RSAPrivateKey) -> None:
    # ends 2030-05-31 23:59:59 JST; three calendar months earlier is 2030-02-28 23:59:59 JST (day clamped)
    certificate = parse_certificate(issue(other_key))
    start = datetime(2030, 2, 28, 23, 59, 59, tzinfo=JST)
    assert months_before(certificate.not_after, 3) == start
    exactly = validity(certificate, start)
    assert exactly.in_renewal_window and exactly.renewal_from == start
    assert not validity(certificate, start - timedelta(days=1)).in_renewal_window
    assert not validity(certificate, start - timedelta(seconds=1)).in_renewal_window
    at_end = validity(certificate, certificate.not_after)
    assert at_end.valid and at_end.in_renewal_window and at_end.days_to_expiry == 0
    after = validity(certificate, certificate.not_after + timedelta(seconds=1))
    assert after.status == "expired" and after.days_to_expiry == -1 and not after.in_renewal_window


def test_renewal_window_is_configurable(cards: dict[str, CardImage]) -> None:
    auth = cert(cards["adult"], EF_AUTH)
    one_month = months_before(auth.not_after, 1)
    assert validity(auth, one_month, renewal_months=1).in_renewal_window
    assert not validity(auth, one_month - timedelta(days=1), renewal_months=1).in_renewal_window
    assert validity(auth, one_month - timedelta(days=1)).in_renewal_window  # inside the default 3 months
    exactly = months_before(auth.not_after, 3)
    assert validity(auth, exactly).in_renewal_window
    assert not validity(auth, exactly - timedelta(days=1)).in_renewal_window


def test_validity_needs_an_aware_time(cards: dict[str, CardImage]) -> None:
    with pytest.raises(ValueError):
        validity(cert(cards["adult"], EF_AUTH), datetime(2026, 1, 1))


# --- hostile input -------------------------------------------------------------------------------------------


@functools.cache
def adult_der(fid: int) -> bytes:
    card = build_card_image(load_profile(BUNDLED_PROFILES / "adult.toml"), TODAY)
    der = certificate_der_from_ef(jpki_ef(card, fid))
    assert der is not None
    return der


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d[:12] + b"\x01" + d[13:],  # version v2 (value 1): cryptography's InvalidVersion
        lambda d: d[:12] + b"\x07" + d[13:],
        lambda d: d[:4] + b"\x31" + d[5:],  # TBS is a SET
        lambda d: d[: len(d) - 300],
        lambda d: d + b"\x00",
    ],
    ids=["version-1", "version-7", "tbs-set", "truncated", "trailing"],
)
def test_known_broken_certificates_are_certificate_errors(mutate: Callable[[bytes], bytes]) -> None:
    der = adult_der(0x000A)
    assert der[8:13] == bytes.fromhex("A003020102")  # [0] { INTEGER 2 } = v3
    with pytest.raises(CertificateError):
        parse_certificate(mutate(der))


certificate_like = st.one_of(
    st.binary(max_size=2000),
    st.binary(max_size=1500).map(lambda b: b"\x30\x82" + len(b).to_bytes(2, "big") + b),
    st.integers(0, 64).map(lambda n: b"\xff" * n),
)


@settings(max_examples=examples(200), deadline=None)
@given(certificate_like)
def test_random_bytes_are_refused_as_certificates(data: bytes) -> None:
    """Garbage raises the typed error; a certificate EF of only padding is "no certificate", not an error."""
    try:
        parsed = parse_certificate(data)
    except CertificateError:
        parsed = None
    else:
        assert parsed.der == data  # whatever is accepted is exactly the bytes given
    if not data.startswith(b"\x30"):
        assert parsed is None
    if set(data) <= {0x00, 0xFF}:  # also b"": an EF that holds nothing
        assert parse_certificate_ef(data) is None
        return
    try:
        from_ef = parse_certificate_ef(data)
    except ProtocolError:  # CertificateError, or TlvError for an EF whose length header is broken
        return
    assert from_ef is not None and data.startswith(from_ef.der) and data[0] == 0x30


@settings(max_examples=examples(300), deadline=None)
@given(
    which=st.sampled_from([EF_AUTH, EF_SIGN, EF_AUTH_CA]),
    cut=st.integers(0, 2100),
    position=st.integers(0, 2100),
    value=st.integers(0, 255),
    tail=st.binary(max_size=16),
)
def test_a_cut_or_changed_certificate_is_never_read_as_the_original(
    which: int, cut: int, position: int, value: int, tail: bytes
) -> None:
    """Only an EF whose certificate bytes are intact yields the certificate; a changed one raises or is a
    different certificate (whose signature the chain check then refuses), and answers every question."""
    der = adult_der(which)
    mutated = der[:cut] + tail
    if position < len(mutated):
        mutated = mutated[:position] + bytes((value,)) + mutated[position + 1 :]
    if mutated[: len(der)] == der:
        parsed = parse_certificate_ef(mutated)
        assert parsed is not None and parsed.der == der
        return
    for parser in (parse_certificate, parse_certificate_ef):
        try:
            parsed = parser(mutated)
        except ProtocolError:
            continue
        if parsed is not None:
            assert parsed.der != der
            classify(parsed)
            validity(parsed, NOW)
            repr(parsed)
