"""The TEST PKI: shaped like JPKI (§5), clearly synthetic, deterministic, usable by a verifier."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

from drivers.sim import layouts, pki
from drivers.sim.profile import BUNDLED_PROFILES, load_profile, profile_certificates
from drivers.tlv import parse_one

TODAY = date(2026, 11, 26)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def key_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KIOSK_SIM_CACHE", str(tmp_path_factory.mktemp("sim-keys")))
        yield


@pytest.fixture(scope="module")
def adult() -> dict[str, x509.Certificate]:
    der = profile_certificates(load_profile(BUNDLED_PROFILES / "adult.toml"), TODAY)
    return {name: x509.load_der_x509_certificate(value) for name, value in der.items()}


def ext(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> x509.Extension[x509.ExtensionType]:
    return certificate.extensions.get_extension_for_oid(oid)


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError):
        return False
    return True


ALT_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "公的個人認証サービス(テスト)"),
    ]
)


@pytest.mark.parametrize("kind", ["auth", "sign"])
def test_ca_generations_share_one_dn_but_not_a_key(kind: pki.CaKind) -> None:
    g1, g2 = pki.certificate_authority(kind, "g1"), pki.certificate_authority(kind, "g2")
    assert g1.certificate.subject == g2.certificate.subject == g1.certificate.issuer
    assert g1.certificate.public_key().public_numbers() != g2.certificate.public_key().public_numbers()
    ski = [
        c.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value for c in (g1, g2)
    ]
    assert ski[0] != ski[1]
    assert issued_by(g1.certificate, g1.certificate) and issued_by(g2.certificate, g2.certificate)
    assert not issued_by(g1.certificate, g2.certificate)
    assert g1.certificate.not_valid_after_utc < g2.certificate.not_valid_after_utc


@pytest.mark.parametrize("kind", ["auth", "sign"])
@pytest.mark.parametrize("generation", ["g1", "g2"])
def test_ca_certificate_is_shaped_like_jpki_and_says_it_is_synthetic(
    kind: pki.CaKind, generation: pki.CaGeneration
) -> None:
    cert = pki.certificate_authority(kind, generation).certificate
    dn = cert.subject.rfc4514_string()
    assert "O=JPKI-TEST" in dn and "SYNTHETIC TEST" in dn and "O=JPKI," not in dn
    assert cert.public_key().key_size == 2048
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    usage = ext(cert, ExtensionOID.KEY_USAGE)
    assert (
        usage.critical
        and usage.value.key_cert_sign
        and usage.value.crl_sign
        and not usage.value.digital_signature
    )
    basic = ext(cert, ExtensionOID.BASIC_CONSTRAINTS)
    assert basic.critical and basic.value.ca
    assert ext(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value.get_values_for_type(x509.DirectoryName) == [
        ALT_NAME
    ]
    (point,) = ext(cert, ExtensionOID.CRL_DISTRIBUTION_POINTS).value
    assert point.full_name == [x509.DirectoryName(cert.subject)]


def test_auth_certificate_carries_no_personal_data(adult: dict[str, x509.Certificate]) -> None:
    cert = adult["auth"]
    attributes = [(a.oid, a.value) for a in cert.subject]
    assert [oid for oid, _ in attributes] == [NameOID.COUNTRY_NAME, NameOID.COMMON_NAME]
    cn = attributes[1][1]
    assert isinstance(cn, str) and len(cn) == 23 and cn.isalnum() and cn.isupper()
    der = cert.public_bytes(serialization.Encoding.DER)
    profile = load_profile(BUNDLED_PROFILES / "adult.toml")
    for personal in (profile.resident.name, profile.resident.address, profile.resident.my_number, "19850401"):
        assert personal.encode() not in der
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)


def test_auth_certificate_extensions(adult: dict[str, x509.Certificate]) -> None:
    cert, ca = adult["auth"], adult["auth_ca"]
    usage = ext(cert, ExtensionOID.KEY_USAGE)
    assert usage.critical and usage.value.digital_signature
    assert not (usage.value.content_commitment or usage.value.key_cert_sign or usage.value.key_encipherment)
    assert list(ext(cert, ExtensionOID.EXTENDED_KEY_USAGE).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    policies = ext(cert, ExtensionOID.CERTIFICATE_POLICIES)
    assert policies.critical
    assert [p.policy_identifier.dotted_string for p in policies.value] == ["1.2.392.200149.8.5.1.3.30"]
    assert ext(cert, ExtensionOID.ISSUER_ALTERNATIVE_NAME).value.get_values_for_type(x509.DirectoryName) == [
        ALT_NAME
    ]
    (point,) = ext(cert, ExtensionOID.CRL_DISTRIBUTION_POINTS).value
    assert point.full_name is not None
    assert point.full_name[0].value.rfc4514_string() == (
        "CN=Chiyoda-ku CRLDP,OU=Tokyo,OU=CRL Distribution Points,"
        "OU=JPKI for user authentication,O=JPKI-TEST,C=JP"
    )
    (access,) = ext(cert, ExtensionOID.AUTHORITY_INFORMATION_ACCESS).value
    assert access.access_location.value == "http://ocsp.jpki-test.invalid"
    aki = ext(cert, ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value
    assert aki.key_identifier == ext(ca, ExtensionOID.SUBJECT_KEY_IDENTIFIER).value.digest
    assert aki.authority_cert_issuer == [x509.DirectoryName(ca.subject)]
    assert aki.authority_cert_serial_number == ca.serial_number
    assert ext(cert, ExtensionOID.SUBJECT_KEY_IDENTIFIER).value == x509.SubjectKeyIdentifier.from_public_key(
        cert.public_key()  # type: ignore[arg-type]
    )
    assert issued_by(cert, ca)
    assert cert.issuer == ca.subject


def other_names(cert: x509.Certificate) -> dict[str, str]:
    san = ext(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    result = {}
    for name in san.get_values_for_type(x509.OtherName):
        assert name.value[0] == 0x0C  # UTF8String
        result[name.type_id.dotted_string] = parse_one(name.value).value.decode("utf-8")
    return result


def test_sign_certificate_carries_the_basic_4_information(adult: dict[str, x509.Certificate]) -> None:
    cert = adult["sign"]
    assert other_names(cert) == {
        "1.2.392.200149.8.5.5.1": "試験 太郎",
        "1.2.392.200149.8.5.5.2": "試験 太郎",
        "1.2.392.200149.8.5.5.3": "1",
        "1.2.392.200149.8.5.5.4": "19850401",
        "1.2.392.200149.8.5.5.5": "東京都千代田区霞が関九丁目9番9号 テスト合同住宅101号室",
        "1.2.392.200149.8.5.5.6": "東京都千代田区霞が関九丁目9番9号 テスト合同住宅101号室",
    }
    usage = ext(cert, ExtensionOID.KEY_USAGE)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    policies = ext(cert, ExtensionOID.CERTIFICATE_POLICIES)
    assert policies.critical
    assert [p.policy_identifier.dotted_string for p in policies.value] == ["1.2.392.200149.8.5.1.1.10"]
    (point,) = ext(cert, ExtensionOID.CRL_DISTRIBUTION_POINTS).value
    assert (
        point.full_name is not None
        and "OU=JPKI for digital signature" in point.full_name[0].value.rfc4514_string()
    )
    assert issued_by(cert, adult["sign_ca"]) and not issued_by(cert, adult["auth_ca"])
    assert adult["sign_ca"].subject == pki.ca_name("sign")


def test_validity_is_whole_days_in_japan_time(adult: dict[str, x509.Certificate]) -> None:
    cert = adult["auth"]
    assert cert.not_valid_before_utc == datetime(2025, 11, 25, 15, 0, 0, tzinfo=UTC)  # 2025-11-26 00:00 JST
    assert cert.not_valid_after_utc == datetime(
        2030, 11, 26, 14, 59, 59, tzinfo=UTC
    )  # 2030-11-26 23:59:59 JST


def test_expired_profile_chains_to_the_old_generation_by_key_not_by_name() -> None:
    der = profile_certificates(load_profile(BUNDLED_PROFILES / "expired.toml"), TODAY)
    auth = x509.load_der_x509_certificate(der["auth"])
    g1, g2 = pki.certificate_authority("auth", "g1"), pki.certificate_authority("auth", "g2")
    assert auth.issuer == g1.certificate.subject == g2.certificate.subject
    assert issued_by(auth, g1.certificate) and not issued_by(auth, g2.certificate)
    assert der["auth_ca"] == g1.der
    now = datetime.now(UTC)
    for name in ("auth", "sign"):
        assert x509.load_der_x509_certificate(der[name]).not_valid_after_utc < now


def test_same_profile_same_day_same_der_in_another_process(tmp_path: Path) -> None:
    here = profile_certificates(load_profile(BUNDLED_PROFILES / "adult.toml"), TODAY)
    assert profile_certificates(load_profile(BUNDLED_PROFILES / "adult.toml"), TODAY) == here
    script = (
        "import hashlib, sys\n"
        "from datetime import date\n"
        "from drivers.sim.profile import BUNDLED_PROFILES, load_profile, profile_certificates\n"
        f"today = date.fromisoformat('{TODAY}')\n"
        "der = profile_certificates(load_profile(BUNDLED_PROFILES / 'adult.toml'), today)\n"
        "for name in sorted(der): print(name, hashlib.sha256(der[name]).hexdigest())\n"
    )
    env = {**os.environ, "KIOSK_SIM_CACHE": str(tmp_path / "fresh-cache")}  # regenerates every key
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    expected = "".join(f"{name} {hashlib.sha256(here[name]).hexdigest()}\n" for name in sorted(here))
    assert result.stdout == expected


def test_certificates_differ_between_profiles() -> None:
    a = profile_certificates(load_profile(BUNDLED_PROFILES / "adult.toml"), TODAY)
    b = profile_certificates(load_profile(BUNDLED_PROFILES / "last-try.toml"), TODAY)
    assert a["auth"] != b["auth"] and a["auth_ca"] == b["auth_ca"]
    assert (
        x509.load_der_x509_certificate(a["auth"]).serial_number
        != x509.load_der_x509_certificate(b["auth"]).serial_number
    )


def test_crl_is_signed_by_the_ca_and_lists_the_revoked_serials(adult: dict[str, x509.Certificate]) -> None:
    ca = pki.certificate_authority("auth", "g2")
    this_update = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    der = pki.make_crl(ca, [adult["auth"].serial_number, 12345], this_update=this_update, crl_number=7)
    crl = x509.load_der_x509_crl(der)
    assert crl.issuer == ca.certificate.subject
    assert crl.is_signature_valid(ca.certificate.public_key())  # type: ignore[arg-type]
    old_key = pki.certificate_authority("auth", "g1").key.public_key()
    assert not crl.is_signature_valid(old_key)
    assert crl.get_revoked_certificate_by_serial_number(adult["auth"].serial_number) is not None
    assert crl.get_revoked_certificate_by_serial_number(adult["auth"].serial_number + 1) is None
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 7
    assert crl.last_update_utc == this_update and crl.next_update_utc is not None
    assert (
        pki.make_crl(ca, [12345, adult["auth"].serial_number], this_update=this_update, crl_number=7) == der
    )
    assert len(pki.make_crl(ca, [], this_update=this_update)) < 1000


def verifies(public_key: rsa.RSAPublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def test_trust_store_holds_ca_certificates_and_cv_roots_by_issuer_id(tmp_path: Path) -> None:
    written = pki.write_trust_store(tmp_path / "trust")
    names = sorted(p.name for p in written)
    assert names == sorted(
        [
            "jpki-test-auth-ca-g1.pem",
            "jpki-test-auth-ca-g2.pem",
            "jpki-test-sign-ca-g1.pem",
            "jpki-test-sign-ca-g2.pem",
            b"TEST-JLIS-TXT\0\0\0".hex() + ".pem",
            b"TEST-JLIS-VIS\0\0\0".hex() + ".pem",
        ]
    )
    assert sorted(p.name for p in (tmp_path / "trust").iterdir()) == names  # no temporary files left
    for kind in ("auth", "sign"):
        for generation in ("g1", "g2"):
            pem = (tmp_path / "trust" / f"jpki-test-{kind}-ca-{generation}.pem").read_bytes()
            loaded = x509.load_pem_x509_certificate(pem)
            assert (
                loaded.public_bytes(serialization.Encoding.DER)
                == pki.certificate_authority(kind, generation).der
            )
    # what the verifier does: read EF 0004, pick the root by issuer id, check the CV signature
    for kind in ("text", "visual"):
        cv = layouts.parse_cv_certificate(pki.cv_certificate(kind))
        root = serialization.load_pem_public_key(
            (tmp_path / "trust" / f"{cv.issuer_id.hex()}.pem").read_bytes()
        )
        assert isinstance(root, rsa.RSAPublicKey)
        assert verifies(root, cv.signature, cv.body)
        assert cv.public_key.public_numbers() == pki.cv_signer(kind).key.public_key().public_numbers()


def test_cv_ids_are_clearly_test_ids() -> None:
    for kind in ("text", "visual"):
        assert pki.cv_root(kind).key_id.startswith(b"TEST-JLIS-")
        assert len(pki.cv_root(kind).key_id) == 16
        assert pki.cv_signer(kind).key_id.startswith(b"TEST-")
    assert pki.cv_root("text").key.private_numbers() != pki.cv_root("visual").key.private_numbers()


def test_serial_like_cn_and_serials_are_stable() -> None:
    assert pki.serial_like_cn("adult", "auth") == pki.serial_like_cn("adult", "auth")
    assert pki.serial_like_cn("adult", "auth") != pki.serial_like_cn("minor", "auth")
    assert len(pki.serial_like_cn("x")) == 23
    assert 0 < pki.derived_serial("a") < 2**63


def test_wrong_ca_kind_is_refused() -> None:
    key = pki.certificate_authority("auth", "g2").key.public_key()
    window = pki.validity_window(date(2026, 1, 1), date(2027, 1, 1))
    with pytest.raises(ValueError):
        pki.issue_auth_certificate(
            pki.certificate_authority("sign", "g2"),
            key,
            subject_cn="X" * 23,
            prefecture="Tokyo",
            city="Chiyoda-ku",
            not_before=window[0],
            not_after=window[1],
            serial=1,
        )
    with pytest.raises(ValueError):
        pki.validity_window(date(2027, 1, 1), date(2026, 1, 1))
