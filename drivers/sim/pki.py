"""A J-LIS-like TEST PKI for the simulated card: JPKI CAs, user certificates, CRLs, card-info CV roots.

Shaped like the real JPKI (card-protocol.md §5) so verification code meets the same difficulties — two CA
generations sharing one DN, DirName CRL distribution points per municipality, personal data only in the
sign certificate's SAN — but every name says it is synthetic (O=JPKI-TEST, "SYNTHETIC TEST"), so nothing
issued here can pass for a real certificate. Everything is deterministic: keys come from
``deterministic_rsa_key`` and serials and times from the caller's inputs, so two processes building the
same card on the same day produce identical DER.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    NameOID,
    ObjectIdentifier,
)

from drivers.mynumber.certificates import (
    OID_ADDRESS,
    OID_ADDRESS_ALTERNATIVE,
    OID_BIRTH_DATE,
    OID_NAME,
    OID_NAME_ALTERNATIVE,
    OID_SEX,
)
from drivers.sim import layouts
from drivers.sim.rsakeys import deterministic_rsa_key
from drivers.tlv import encode

CaKind = Literal["auth", "sign"]
CaGeneration = Literal["g1", "g2"]
CvKind = Literal["text", "visual"]

CA_GENERATIONS: tuple[CaGeneration, ...] = ("g1", "g2")
CURRENT_GENERATION: CaGeneration = "g2"
JST = timezone(timedelta(hours=9), "JST")

ORGANIZATION = "JPKI-TEST"
SYNTHETIC_OU = "SYNTHETIC TEST CA - not J-LIS, not for real use"
ALT_NAME_ORGANIZATION = "公的個人認証サービス(テスト)"
OCSP_URL = "http://ocsp.jpki-test.invalid"
CPS_URL = "http://www.jpki-test.invalid/cps.html"
_CA_OU: dict[CaKind, str] = {"auth": "JPKI for user authentication", "sign": "JPKI for digital signature"}

AUTH_POLICY = ObjectIdentifier("1.2.392.200149.8.5.1.3.30")  # as in the real auth cert (C3 sample, §5.2)
# UNCONFIRMED: no public sign certificate sample exists (it carries personal data); this OID follows the
# auth policy's numbering pattern and may differ on real cards.
SIGN_POLICY = ObjectIdentifier("1.2.392.200149.8.5.1.1.10")


# Validity of the test CAs, shaped like the real 2015 and 2023 generations (end = 23:59:59 JST). g2 runs
# 20 years instead of the real 10 so demo cards built years from now still chain to a valid CA.
_CA_VALIDITY: dict[CaGeneration, tuple[datetime, datetime]] = {
    "g1": (datetime(2015, 10, 20, 2, 40, 28, tzinfo=UTC), datetime(2025, 10, 19, 14, 59, 59, tzinfo=UTC)),
    "g2": (datetime(2023, 7, 16, 0, 50, 27, tzinfo=UTC), datetime(2043, 7, 15, 14, 59, 59, tzinfo=UTC)),
}

CV_ROOT_IDS: dict[CvKind, bytes] = {
    "text": b"TEST-JLIS-TXT".ljust(16, b"\0"),
    "visual": b"TEST-JLIS-VIS".ljust(16, b"\0"),
}
CV_SIGNER_IDS: dict[CvKind, bytes] = {"text": b"TEST-CV-TXT-0001", "visual": b"TEST-CV-VIS-0001"}


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """A test JPKI CA: the issuer of one kind of user certificate in one generation."""

    kind: CaKind
    generation: CaGeneration
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def name(self) -> str:
        return f"jpki-test-{self.kind}-ca-{self.generation}"


@dataclass(frozen=True, slots=True)
class CvAuthority:
    """A card-verifiable key: a test "J-LIS" root, or the signer whose CV certificate sits in EF 0004."""

    kind: CvKind
    key_id: bytes
    key: rsa.RSAPrivateKey


@dataclass(frozen=True, slots=True)
class SignAttributes:
    """The basic 4 information as the sign certificate's SAN carries it (formats are UNCONFIRMED)."""

    name: str
    name_alternative: str
    sex: str  # ISO 5218 digit as text: "1", "2" or "9"
    birth_date: str  # YYYYMMDD
    address: str
    address_alternative: str


def derived_serial(*parts: str) -> int:
    """A positive 63-bit certificate serial from stable inputs (a CA would use a random one)."""
    digest = hashlib.sha256("\0".join(("serial", *parts)).encode()).digest()
    return (int.from_bytes(digest[:8], "big") >> 1) | (1 << 56)


def serial_like_cn(*parts: str) -> str:
    """A 23-character upper-case CN like the real auth cert's, carrying no personal data."""
    digest = hashlib.sha256("\0".join(("cn", *parts)).encode()).digest()
    return "TST" + base64.b32encode(digest).decode("ascii")[:20]


def validity_window(valid_from: date, valid_until: date) -> tuple[datetime, datetime]:
    """JPKI-style validity: from 00:00:00 JST on the first day to 23:59:59 JST on the last day, in UTC."""
    start = datetime.combine(valid_from, time(0, 0, 0), JST).astimezone(UTC)
    end = datetime.combine(valid_until, time(23, 59, 59), JST).astimezone(UTC)
    if end <= start:
        raise ValueError("certificate validity ends before it starts")
    return start, end


def ca_name(kind: CaKind) -> x509.Name:
    """The DN shared by every generation of one CA kind — chain building must match by key, not by name."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _CA_OU[kind]),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, SYNTHETIC_OU),
        ]
    )


def _alt_name() -> x509.GeneralName:
    return x509.DirectoryName(
        x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ALT_NAME_ORGANIZATION),
            ]
        )
    )


def _dirname_crl_dp(name: x509.Name) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                full_name=[x509.DirectoryName(name)], relative_name=None, reasons=None, crl_issuer=None
            )
        ]
    )


def crl_distribution_point_name(kind: CaKind, prefecture: str, city: str) -> x509.Name:
    """The per-municipality CRL partition, like ``… OU=Hokkaido, CN=Sapporo-shi-Minami-ku CRLDP``."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, _CA_OU[kind]),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "CRL Distribution Points"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, prefecture),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{city} CRLDP"),
        ]
    )


@functools.cache
def certificate_authority(kind: CaKind, generation: CaGeneration) -> CertificateAuthority:
    """The self-signed test CA of ``kind`` and ``generation`` (same DN for every generation)."""
    if kind not in _CA_OU or generation not in _CA_VALIDITY:
        raise ValueError(f"unknown CA {kind!r} generation {generation!r}")
    key = deterministic_rsa_key(f"TEST-ONLY jpki-test {kind}-ca {generation}")
    name = ca_name(kind)
    not_before, not_after = _CA_VALIDITY[generation]
    public_key = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(derived_serial("ca", kind, generation))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectAlternativeName([_alt_name()]), critical=False)
        .add_extension(_dirname_crl_dp(name), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(kind, generation, key, certificate)


def all_certificate_authorities() -> list[CertificateAuthority]:
    return [certificate_authority(kind, gen) for kind in ("auth", "sign") for gen in CA_GENERATIONS]


def _user_builder(
    ca: CertificateAuthority,
    public_key: rsa.RSAPublicKey,
    *,
    subject_cn: str,
    prefecture: str,
    city: str,
    not_before: datetime,
    not_after: datetime,
    serial: int,
) -> x509.CertificateBuilder:
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)]
    )
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.IssuerAlternativeName([_alt_name()]), critical=False)
        .add_extension(
            _dirname_crl_dp(crl_distribution_point_name(ca.kind, prefecture, city)), critical=False
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(OCSP_URL)
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier(
                key_identifier=ca_ski,
                authority_cert_issuer=[x509.DirectoryName(ca.certificate.issuer)],
                authority_cert_serial_number=ca.certificate.serial_number,
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, digital_signature: bool, non_repudiation: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def _policy(oid: ObjectIdentifier) -> x509.CertificatePolicies:
    return x509.CertificatePolicies([x509.PolicyInformation(oid, [CPS_URL])])


def issue_auth_certificate(
    ca: CertificateAuthority,
    public_key: rsa.RSAPublicKey,
    *,
    subject_cn: str,
    prefecture: str,
    city: str,
    not_before: datetime,
    not_after: datetime,
    serial: int,
) -> x509.Certificate:
    """A user-authentication certificate: no personal data, only a serial-like CN (§5.2)."""
    if ca.kind != "auth":
        raise ValueError("auth certificates are issued by an auth CA")
    builder = _user_builder(
        ca,
        public_key,
        subject_cn=subject_cn,
        prefecture=prefecture,
        city=city,
        not_before=not_before,
        not_after=not_after,
        serial=serial,
    )
    builder = (
        builder.add_extension(_key_usage(digital_signature=True, non_repudiation=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(_policy(AUTH_POLICY), critical=True)
    )
    return builder.sign(ca.key, hashes.SHA256())


def _utf8_other_name(oid: ObjectIdentifier, text: str) -> x509.OtherName:
    # OtherName.value is the DER of the [0] EXPLICIT content; 0x0C = UTF8String (encoding UNCONFIRMED).
    return x509.OtherName(oid, encode(0x0C, text.encode("utf-8")))


def sign_alt_names(attributes: SignAttributes) -> list[x509.GeneralName]:
    return [
        _utf8_other_name(OID_NAME, attributes.name),
        _utf8_other_name(OID_NAME_ALTERNATIVE, attributes.name_alternative),
        _utf8_other_name(OID_SEX, attributes.sex),
        _utf8_other_name(OID_BIRTH_DATE, attributes.birth_date),
        _utf8_other_name(OID_ADDRESS, attributes.address),
        _utf8_other_name(OID_ADDRESS_ALTERNATIVE, attributes.address_alternative),
    ]


def issue_sign_certificate(
    ca: CertificateAuthority,
    public_key: rsa.RSAPublicKey,
    *,
    attributes: SignAttributes,
    subject_cn: str,
    prefecture: str,
    city: str,
    not_before: datetime,
    not_after: datetime,
    serial: int,
) -> x509.Certificate:
    """A signing certificate: the basic 4 information lives in SAN otherName entries (§5.3)."""
    if ca.kind != "sign":
        raise ValueError("sign certificates are issued by a sign CA")
    builder = _user_builder(
        ca,
        public_key,
        subject_cn=subject_cn,
        prefecture=prefecture,
        city=city,
        not_before=not_before,
        not_after=not_after,
        serial=serial,
    )
    builder = (
        builder.add_extension(_key_usage(digital_signature=True, non_repudiation=True), critical=True)
        .add_extension(_policy(SIGN_POLICY), critical=True)
        .add_extension(x509.SubjectAlternativeName(sign_alt_names(attributes)), critical=False)
    )
    return builder.sign(ca.key, hashes.SHA256())


def make_crl(
    ca: CertificateAuthority,
    revoked_serials: Iterable[int],
    *,
    this_update: datetime,
    next_update: datetime | None = None,
    crl_number: int = 1,
) -> bytes:
    """A DER CRL signed by ``ca`` (the server checks revocation; kiosks never do)."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(this_update)
        .next_update(next_update or this_update + timedelta(days=1))
        .add_extension(x509.CRLNumber(crl_number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            ),
            critical=False,
        )
    )
    for serial in sorted(set(revoked_serials)):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(this_update).build()
        )
    return builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@functools.cache
def cv_root(kind: CvKind) -> CvAuthority:
    """The test "J-LIS" key that signs the CV certificate of the text or visual AP."""
    return CvAuthority(kind, CV_ROOT_IDS[kind], deterministic_rsa_key(f"TEST-ONLY jlis-test cv-root {kind}"))


@functools.cache
def cv_signer(kind: CvKind) -> CvAuthority:
    """The card-info signing key (shared by all simulated cards, like an issuer's intermediate key)."""
    return CvAuthority(
        kind, CV_SIGNER_IDS[kind], deterministic_rsa_key(f"TEST-ONLY jlis-test cv-signer {kind}")
    )


@functools.cache
def cv_certificate(kind: CvKind) -> bytes:
    """The 568-byte CV certificate for ``cv_signer(kind)``, signed by ``cv_root(kind)`` (EF 0004)."""
    root, signer = cv_root(kind), cv_signer(kind)
    return layouts.cv_certificate(root.key_id, signer.key_id, signer.key.public_key(), root.key)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_trust_store(directory: str | os.PathLike[str]) -> list[Path]:
    """Write the trust material a verifier needs: CA certificates and CV root public keys, as PEM.

    CA certificates are named ``jpki-test-<kind>-ca-<generation>.pem``; CV root keys are named by the hex
    of their 16-byte issuer id (``<32 hex digits>.pem``), the id a CV certificate names its issuer by.
    """
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for ca in all_certificate_authorities():
        path = target / f"{ca.name}.pem"
        _write_atomic(path, ca.certificate.public_bytes(serialization.Encoding.PEM))
        written.append(path)
    for kind in ("text", "visual"):
        root = cv_root(kind)
        pem = root.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        path = target / f"{root.key_id.hex()}.pem"
        _write_atomic(path, pem)
        written.append(path)
    return written
