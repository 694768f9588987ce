"""CRL import and certificate status: the server is the city's JPKI verifier (kiosks never are).

Import trusts nothing in the file: the CRL must be signed by the configured CA certificate (signature,
issuer name, and the authority key id when present), must carry a nextUpdate, and must not be older than
the CRL already stored for that CA key (no rollback to a list from before a revocation). CRLs are kept per
issuing key (authority key identifier), not per DN, because JPKI CA generations share one DN.

Answers: ``revoked`` (with reason and date), ``good`` (the CRL for that issuer is current and does not list
the serial), or ``unknown`` — no CRL for that issuer, the CRL is past its nextUpdate, or the DN given does
not match. ``unknown`` must be treated as "not verified", never as good.

Not handled (refused at import): partitioned CRLs (issuingDistributionPoint; real JPKI CRLs are split per
municipality, which needs the certificate's distribution point to answer ``good``) and delta CRLs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from server.models import RevocationList, RevokedCertificate

Status = Literal["good", "revoked", "unknown"]


class CrlRejected(ValueError):
    """The CRL cannot be trusted or used; the message says why."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    issuer_key_id: str
    issuer_dn: str
    crl_number: int | None
    this_update: datetime
    next_update: datetime
    revoked_count: int


@dataclass(frozen=True, slots=True)
class CertificateStatus:
    status: Status
    reason: str | None = None
    revoked_at: datetime | None = None
    crl_this_update: datetime | None = None
    crl_next_update: datetime | None = None


def normalise_serial(text: str) -> str:
    """Serial numbers as lower-case hex without leading zeros (``00AB`` and ``ab`` are the same serial)."""
    value = int(text, 16)
    return format(value, "x")


def normalise_key_id(text: str) -> str:
    return bytes.fromhex(text).hex()


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise CrlRejected("not a CRL (DER or PEM expected)") from exc


def load_ca_certificate(data: bytes) -> x509.Certificate:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise CrlRejected("the CA file is not a certificate (DER or PEM expected)") from exc


def ca_key_id(ca: x509.Certificate) -> bytes:
    try:
        return ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(ca.public_key()).digest  # type: ignore[arg-type]


def verify_crl(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bytes:
    """Check that ``ca`` issued ``crl``; returns the CA key id the CRL is filed under."""
    public_key = ca.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise CrlRejected("the CA key type is not supported (RSA or EC expected)")
    if crl.issuer != ca.subject:
        raise CrlRejected("the CRL issuer is not the CA's subject")
    try:
        usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.crl_sign:
            raise CrlRejected("the CA certificate may not sign CRLs (keyUsage lacks cRLSign)")
    except x509.ExtensionNotFound:
        pass
    if not crl.is_signature_valid(public_key):
        raise CrlRejected("the CRL signature does not verify against the CA certificate")
    key_id = ca_key_id(ca)
    try:
        aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        if aki.key_identifier is not None and aki.key_identifier != key_id:
            raise CrlRejected("the CRL's authority key id is not the CA's key id")
    except x509.ExtensionNotFound:
        pass
    for kind, what in (
        (x509.IssuingDistributionPoint, "partitioned CRLs (issuingDistributionPoint) are not supported"),
        (x509.DeltaCRLIndicator, "delta CRLs are not supported"),
    ):
        try:
            crl.extensions.get_extension_for_class(kind)
        except x509.ExtensionNotFound:
            continue
        raise CrlRejected(what)
    if crl.next_update_utc is None:
        raise CrlRejected("the CRL has no nextUpdate, so its freshness cannot be judged")
    return key_id


def _crl_number(crl: x509.CertificateRevocationList) -> int | None:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return None


def _reason(entry: x509.RevokedCertificate) -> str | None:
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
    except x509.ExtensionNotFound:
        return None


def import_crl(session: Session, crl_data: bytes, ca_data: bytes, *, now: datetime) -> ImportResult:
    """Verify and store a CRL, replacing the previous one of the same CA key (inside the caller's transaction)."""
    crl = load_crl(crl_data)
    ca = load_ca_certificate(ca_data)
    key_id = verify_crl(crl, ca).hex()
    number = _crl_number(crl)
    this_update = crl.last_update_utc
    next_update = crl.next_update_utc
    if next_update is None:  # verify_crl refused it already; this keeps the type checker informed
        raise CrlRejected("the CRL has no nextUpdate")
    previous = session.scalar(select(RevocationList).where(RevocationList.issuer_key_id == key_id))
    if previous is not None:
        older = (
            int(previous.crl_number, 16) > number
            if previous.crl_number is not None and number is not None
            else previous.this_update > this_update
        )
        if older:
            raise CrlRejected("this CRL is older than the one already imported for this CA")
        session.execute(delete(RevokedCertificate).where(RevokedCertificate.crl_id == previous.id))
        session.delete(previous)
        session.flush()
    entries = list(crl)
    record = RevocationList(
        issuer_key_id=key_id,
        issuer_dn=crl.issuer.rfc4514_string(),
        crl_number=None if number is None else format(number, "x"),
        this_update=this_update,
        next_update=next_update,
        imported_at=now,
        revoked_count=len(entries),
    )
    session.add(record)
    session.flush()
    rows = [
        {
            "crl_id": record.id,
            "serial": format(entry.serial_number, "x"),
            "revoked_at": entry.revocation_date_utc,
            "reason": _reason(entry),
        }
        for entry in entries
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(RevokedCertificate), rows[start : start + 5000])
    return ImportResult(
        issuer_key_id=key_id,
        issuer_dn=record.issuer_dn,
        crl_number=number,
        this_update=this_update,
        next_update=next_update,
        revoked_count=len(entries),
    )


def _same_dn(given: str, stored: str) -> bool:
    """Compare DNs in parsed form (spacing and escaping may differ between writers)."""
    try:
        return x509.Name.from_rfc4514_string(given) == x509.Name.from_rfc4514_string(stored)
    except ValueError:
        return False


def certificate_status(
    session: Session, *, issuer_key_id: str, serial: str, issuer_dn: str | None, now: datetime
) -> CertificateStatus:
    crl = session.scalar(select(RevocationList).where(RevocationList.issuer_key_id == normalise_key_id(issuer_key_id)))
    if crl is None:
        return CertificateStatus("unknown")
    window = {"crl_this_update": crl.this_update, "crl_next_update": crl.next_update}
    if issuer_dn is not None and not _same_dn(issuer_dn, crl.issuer_dn):
        return CertificateStatus("unknown", **window)
    if crl.next_update <= now.astimezone(UTC):
        return CertificateStatus("unknown", **window)
    entry = session.scalar(
        select(RevokedCertificate).where(
            RevokedCertificate.crl_id == crl.id, RevokedCertificate.serial == normalise_serial(serial)
        )
    )
    if entry is None:
        return CertificateStatus("good", **window)
    return CertificateStatus("revoked", reason=entry.reason, revoked_at=entry.revoked_at, **window)
