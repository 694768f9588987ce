"""The JPKI certificate model (card-protocol.md §5): parse once, then answer questions without I/O.

A certificate EF comes from an untrusted chip, so everything a later step needs is extracted eagerly in
``parse_certificate`` (cryptography parses extensions lazily; a broken extension would otherwise blow
up in the middle of a verdict) and every failure becomes a ``CertificateError``. The sign certificate
carries the holder's basic 4 information in SAN otherName entries (§5.3); those values are personal data
and never appear in a repr. Comparing them with the card-info AP's basic 4 uses the one basic-4
normalisation, ``contract.basic4`` — the same rules the server's keyed basic-4 match applies.
"""

from __future__ import annotations

import calendar
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal, TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, ObjectIdentifier

from contract import basic4 as basic4_rules
from drivers.errors import ProtocolError
from drivers.mynumber.basic4 import Basic4
from drivers.tlv import parse_one, total_length

JST = timezone(timedelta(hours=9), "JST")
RENEWAL_MONTHS = 3  # a JPKI certificate can be renewed from three months before it expires

Kind = Literal["auth", "sign", "ca", "unknown"]
Purpose = Literal["auth", "sign"]
ValidityStatus = Literal["valid", "not_yet_valid", "expired"]

# subjectAltName otherName OIDs of the sign certificate (§5.3, MYNA-GO ``GetAttributes``).
OID_NAME = ObjectIdentifier("1.2.392.200149.8.5.5.1")
OID_NAME_ALTERNATIVE = ObjectIdentifier("1.2.392.200149.8.5.5.2")
OID_SEX = ObjectIdentifier("1.2.392.200149.8.5.5.3")
OID_BIRTH_DATE = ObjectIdentifier("1.2.392.200149.8.5.5.4")
OID_ADDRESS = ObjectIdentifier("1.2.392.200149.8.5.5.5")
OID_ADDRESS_ALTERNATIVE = ObjectIdentifier("1.2.392.200149.8.5.5.6")
_ATTRIBUTE_FIELDS = {
    OID_NAME: "name",
    OID_NAME_ALTERNATIVE: "name_alternative",
    OID_SEX: "sex",
    OID_BIRTH_DATE: "birth_date",
    OID_ADDRESS: "address",
    OID_ADDRESS_ALTERNATIVE: "address_alternative",
}

# KeyUsage bits by their RFC 5280 names (cryptography calls nonRepudiation "content_commitment").
_KEY_USAGE_BITS = {
    "digitalSignature": "digital_signature",
    "nonRepudiation": "content_commitment",
    "keyEncipherment": "key_encipherment",
    "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement",
    "keyCertSign": "key_cert_sign",
    "cRLSign": "crl_sign",
}


class CertificateError(ProtocolError):
    """A certificate that cannot be parsed or used (bad DER, broken extension, undecodable attribute)."""

    code = "certificate_error"


# --- the model ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class SignAttributes:
    """基本4情報 from the sign certificate's SAN (§5.3). Formats inside the certificate are UNCONFIRMED,
    so values stay as the text found; ``attributes_match`` normalises. None = entry absent."""

    name: str | None = None
    name_alternative: str | None = None
    sex: str | None = None
    birth_date: str | None = None
    address: str | None = None
    address_alternative: str | None = None

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{field}=<{'absent' if value is None else f'{len(value)} chars'}>"
            for field, value in ((f, getattr(self, f)) for f in _ATTRIBUTE_FIELDS.values())
        )
        return f"SignAttributes({parts})"

    __str__ = __repr__


@dataclass(frozen=True, slots=True, repr=False)
class JpkiCertificate:
    """Everything a verifier asks of a JPKI certificate, extracted once from ``der``."""

    der: bytes
    certificate: x509.Certificate
    serial: int
    subject: str  # RFC 4514
    issuer: str  # RFC 4514
    not_before: datetime  # aware, UTC
    not_after: datetime  # aware, UTC
    key_usage: frozenset[str]  # RFC 5280 bit names; empty when the extension is absent
    extended_key_usage: frozenset[str]  # dotted OIDs
    policies: tuple[str, ...]  # dotted OIDs
    subject_key_id: bytes | None
    authority_key_id: bytes | None
    crl_distribution_points: tuple[str, ...]  # DirName as RFC 4514, or the URI
    ocsp_urls: tuple[str, ...]
    is_ca: bool
    sign_attributes: SignAttributes | None
    public_key: CertificatePublicKeyTypes  # loaded at parse time: a key that cannot be loaded is a broken certificate

    @property
    def sha256_fingerprint(self) -> str:
        """Lower-case hex of SHA-256 over the DER, the form trust-store pins use."""
        return hashlib.sha256(self.der).hexdigest()

    @property
    def subject_name(self) -> x509.Name:
        return self.certificate.subject

    @property
    def issuer_name(self) -> x509.Name:
        return self.certificate.issuer

    @property
    def self_issued(self) -> bool:
        return self.certificate.subject == self.certificate.issuer

    def __repr__(self) -> str:
        # The subject is left out: JPKI puts only a serial-like CN there, but other issuers may not.
        return (
            f"JpkiCertificate(serial={self.serial:X}, issuer={self.issuer!r}, "
            f"not_after={self.not_after.isoformat()}, sha256={self.sha256_fingerprint[:16]}…)"
        )

    __str__ = __repr__


# --- parsing --------------------------------------------------------------------------------------------


def certificate_der_from_ef(ef: bytes) -> bytes | None:
    """The DER inside a certificate EF (content + FF padding); None for an empty EF (e.g. a minor's)."""
    if not ef or all(byte in (0x00, 0xFF) for byte in ef):
        return None
    size = total_length(ef)
    if size > len(ef):
        raise CertificateError(f"certificate EF claims {size} bytes, only {len(ef)} present")
    return bytes(ef[:size])


def parse_certificate_ef(ef: bytes) -> JpkiCertificate | None:
    """``parse_certificate`` for a whole EF as read; None when the EF holds no certificate."""
    der = certificate_der_from_ef(ef)
    return None if der is None else parse_certificate(der)


def parse_certificate(der: bytes) -> JpkiCertificate:
    """Parse DER (nothing after it) into a ``JpkiCertificate``; CertificateError on anything broken."""
    try:
        certificate = x509.load_der_x509_certificate(bytes(der))
        return _model(bytes(der), certificate)
    except CertificateError:
        raise
    except ProtocolError as exc:  # a TLV problem inside an otherName value
        raise CertificateError(f"certificate attribute is malformed: {exc}") from exc
    except (
        ValueError,
        TypeError,
        OverflowError,
        UnsupportedAlgorithm,
        x509.InvalidVersion,
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
    ) as exc:
        raise CertificateError(f"not a usable X.509 certificate ({type(exc).__name__})") from exc


_E = TypeVar("_E", bound=x509.ExtensionType)


def _extension(certificate: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return certificate.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _model(der: bytes, certificate: x509.Certificate) -> JpkiCertificate:
    certificate.extensions  # noqa: B018 — parse every extension now, not in the middle of a verdict
    key_usage = _extension(certificate, x509.KeyUsage)
    eku = _extension(certificate, x509.ExtendedKeyUsage)
    policies = _extension(certificate, x509.CertificatePolicies)
    ski = _extension(certificate, x509.SubjectKeyIdentifier)
    aki = _extension(certificate, x509.AuthorityKeyIdentifier)
    crl_dp = _extension(certificate, x509.CRLDistributionPoints)
    aia = _extension(certificate, x509.AuthorityInformationAccess)
    constraints = _extension(certificate, x509.BasicConstraints)
    san = _extension(certificate, x509.SubjectAlternativeName)
    return JpkiCertificate(
        der=der,
        certificate=certificate,
        serial=certificate.serial_number,
        subject=certificate.subject.rfc4514_string(),
        issuer=certificate.issuer.rfc4514_string(),
        not_before=certificate.not_valid_before_utc,
        not_after=certificate.not_valid_after_utc,
        key_usage=_key_usage_names(key_usage),
        extended_key_usage=frozenset(oid.dotted_string for oid in eku) if eku is not None else frozenset(),
        policies=tuple(p.policy_identifier.dotted_string for p in policies) if policies is not None else (),
        subject_key_id=ski.digest if ski is not None else None,
        authority_key_id=aki.key_identifier if aki is not None else None,
        crl_distribution_points=_crl_names(crl_dp),
        ocsp_urls=_ocsp_urls(aia),
        is_ca=bool(constraints is not None and constraints.ca),
        sign_attributes=_sign_attributes(san),
        public_key=certificate.public_key(),
    )


def _key_usage_names(key_usage: x509.KeyUsage | None) -> frozenset[str]:
    if key_usage is None:
        return frozenset()
    names = {name for name, attribute in _KEY_USAGE_BITS.items() if getattr(key_usage, attribute)}
    if key_usage.key_agreement:  # these two bits are only defined (and only readable) with keyAgreement
        if key_usage.encipher_only:
            names.add("encipherOnly")
        if key_usage.decipher_only:
            names.add("decipherOnly")
    return frozenset(names)


def _general_name_text(name: x509.GeneralName) -> str | None:
    if isinstance(name, x509.DirectoryName):
        return name.value.rfc4514_string()
    if isinstance(name, x509.UniformResourceIdentifier):
        return name.value
    return None


def _crl_names(points: x509.CRLDistributionPoints | None) -> tuple[str, ...]:
    found: list[str] = []
    for point in points or ():
        for name in point.full_name or ():
            text = _general_name_text(name)
            if text is not None:
                found.append(text)
    return tuple(found)


def _ocsp_urls(aia: x509.AuthorityInformationAccess | None) -> tuple[str, ...]:
    return tuple(
        description.access_location.value
        for description in aia or ()
        if description.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(description.access_location, x509.UniformResourceIdentifier)
    )


# ASN.1 string types an otherName value may use. UTF8String is what we expect (UNCONFIRMED, no public
# sample); the others are tolerated because refusing a real card over a string type helps nobody.
_STRING_CODECS = {
    0x0C: "utf-8",  # UTF8String
    0x12: "ascii",  # NumericString
    0x13: "ascii",  # PrintableString
    0x16: "ascii",  # IA5String
    0x1A: "ascii",  # VisibleString
    0x14: "latin-1",  # TeletexString (T.61; latin-1 is the common reading)
    0x1E: "utf-16-be",  # BMPString
    0x1C: "utf-32-be",  # UniversalString
}


def decode_attribute_value(value: bytes) -> str:
    """The text of one otherName value (the DER inside ``[0] EXPLICIT``); CertificateError if not text."""
    tlv = parse_one(value)
    if tlv.tag == 0xA0:  # tolerate a second [0] wrapper some encoders add
        tlv = parse_one(tlv.value)
    codec = _STRING_CODECS.get(tlv.tag)
    if codec is None:
        raise CertificateError(f"SAN attribute is not a string (tag {tlv.tag:X})")
    try:
        return tlv.value.decode(codec)
    except UnicodeDecodeError:
        raise CertificateError("SAN attribute text cannot be decoded") from None


def _sign_attributes(san: x509.SubjectAlternativeName | None) -> SignAttributes | None:
    values: dict[str, str] = {}
    for name in san or ():
        if not isinstance(name, x509.OtherName) or name.type_id not in _ATTRIBUTE_FIELDS:
            continue
        field = _ATTRIBUTE_FIELDS[name.type_id]
        if field in values:
            raise CertificateError(f"SAN carries the {field} attribute twice")
        values[field] = decode_attribute_value(name.value)
    return SignAttributes(**values) if values else None


# --- questions about a certificate -----------------------------------------------------------------------


def classify(cert: JpkiCertificate) -> Kind:
    """What the certificate is for, from basic constraints, key usage and EKU — never from names.

    CA: basicConstraints CA and keyCertSign. Sign: nonRepudiation (JPKI's sign certificate). Auth:
    digitalSignature with the clientAuth EKU and without nonRepudiation. Anything else is "unknown".
    """
    if cert.is_ca:
        return "ca" if "keyCertSign" in cert.key_usage else "unknown"
    if "nonRepudiation" in cert.key_usage:
        return "sign"
    if key_usage_ok(cert, "auth"):
        return "auth"
    return "unknown"


def key_usage_ok(cert: JpkiCertificate, purpose: Purpose) -> bool:
    """May this certificate be used for ``purpose``? auth: digitalSignature + clientAuth; sign: nonRepudiation."""
    if purpose == "auth":
        return (
            "digitalSignature" in cert.key_usage
            and ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string in cert.extended_key_usage
        )
    if purpose == "sign":
        return "nonRepudiation" in cert.key_usage
    raise ValueError(f"unknown purpose {purpose!r}")


@dataclass(frozen=True, slots=True)
class ValidityReport:
    """Where ``now`` falls in the certificate's life; ``days_to_expiry`` is negative once expired."""

    status: ValidityStatus
    days_to_expiry: int
    in_renewal_window: bool
    renewal_from: datetime  # aware UTC: the first instant of the renewal window

    @property
    def valid(self) -> bool:
        return self.status == "valid"


def months_before(moment: datetime, months: int) -> datetime:
    """``moment`` minus whole calendar months, counted on the JST calendar (JPKI dates are JST dates).

    The day is clamped to the target month's length (31 May − 3 months = 28/29 Feb).
    """
    local = moment.astimezone(JST)
    index = local.year * 12 + (local.month - 1) - months
    year, month0 = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month0 + 1)[1])
    return local.replace(year=year, month=month0 + 1, day=day).astimezone(UTC)


def validity(cert: JpkiCertificate, now: datetime, *, renewal_months: int = RENEWAL_MONTHS) -> ValidityReport:
    """Status at ``now`` (aware), days left and whether renewal is open (``renewal_months`` before the end,
    inclusive of the boundary instant)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if renewal_months < 0:
        raise ValueError("renewal_months must not be negative")
    renewal_from = months_before(cert.not_after, renewal_months)
    if now < cert.not_before:
        status: ValidityStatus = "not_yet_valid"
    elif now > cert.not_after:
        status = "expired"
    else:
        status = "valid"
    days = (cert.not_after - now).days  # floor: 23 hours left is 0 days, 1 hour past is -1
    return ValidityReport(status, days, status == "valid" and now >= renewal_from, renewal_from)


# --- basic 4 in the certificate versus basic 4 on the card -----------------------------------------------


def normalize_text(value: str) -> str:
    """The comparison form of a name or an address (``contract.basic4.normalise_text``)."""
    return basic4_rules.normalise_text(value)


def normalize_birth_date(value: str) -> str | None:
    """YYYYMMDD by ``contract.basic4.normalise_birth_date``; None where that refuses the text."""
    try:
        return basic4_rules.normalise_birth_date(value)
    except ValueError:
        return None


def normalize_sex(value: str) -> str | None:
    """The ISO 5218 code by ``contract.basic4.normalise_sex`` (digits, 男/女, male/female); None if unknown."""
    try:
        return basic4_rules.normalise_sex(value)
    except ValueError:
        return None


def attributes_match(attributes: SignAttributes, basic4: Basic4) -> tuple[bool, list[str]]:
    """Does the sign certificate describe the basic 4 on the card? Returns (match, differing fields).

    Field names are Basic4's ("name", "address", "birth_date", "sex"); a field absent from the
    certificate differs. Name and address also match their 代替文字 form — UNCONFIRMED whether the
    card-info AP ever stores the alternative form, but a holder with 外字 must not be flagged for it.
    """
    differing: list[str] = []
    if not basic4_rules.same_text(basic4.name, attributes.name, attributes.name_alternative):
        differing.append("name")
    if not basic4_rules.same_text(basic4.address, attributes.address, attributes.address_alternative):
        differing.append("address")
    birth = normalize_birth_date(attributes.birth_date) if attributes.birth_date is not None else None
    if birth != basic4.birth_date.strftime("%Y%m%d"):
        differing.append("birth_date")
    sex = normalize_sex(attributes.sex) if attributes.sex is not None else None
    if sex != basic4.sex:
        differing.append("sex")
    return not differing, differing


def public_key_der(cert: JpkiCertificate) -> bytes:
    """SubjectPublicKeyInfo DER (for pinning or matching a card key to its certificate)."""
    try:
        return cert.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise CertificateError("certificate public key is unusable") from exc
