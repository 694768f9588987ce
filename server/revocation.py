"""CRL import and certificate status: the server is the city's JPKI verifier (kiosks never are).

Import trusts nothing in the file: the CRL must pass ``contract.crl.verify_crl`` against the configured CA
certificate (signature, issuer name, cRLSign, the authority key id when present, no partitioned or delta
CRL, a nextUpdate present), and must not be older than the CRL already stored for that CA key (no rollback
to a list from before a revocation). CRLs are kept per issuing key (authority key identifier), not per DN,
because JPKI CA generations share one DN. This module holds only the database side of it.

Answers: ``revoked`` (with reason and date), ``good`` (the CRL for that issuer is current and does not list
the serial), or ``unknown`` — no CRL for that issuer, the CRL is past its nextUpdate (``contract.crl.is_current``),
or the DN given does not match. ``unknown`` must be treated as "not verified", never as good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from contract.crl import (
    CrlRejected,
    Status,
    crl_number,
    entry_reason,
    is_current,
    load_ca_certificate,
    load_crl,
    normalise_key_id,
    normalise_serial,
    verified,
)
from server.models import RevocationList, RevokedCertificate

__all__ = ["CertificateStatus", "CrlRejected", "ImportResult", "certificate_status", "import_crl"]


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


def import_crl(session: Session, crl_data: bytes, ca_data: bytes, *, now: datetime) -> ImportResult:
    """Verify and store a CRL, replacing the previous one of the same CA key (inside the caller's transaction)."""
    checked = verified(load_crl(crl_data), load_ca_certificate(ca_data))
    crl, key_id = checked.crl, checked.issuer_key_id.hex()
    number = crl_number(crl)
    this_update, next_update = checked.this_update, checked.next_update
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
            "reason": entry_reason(entry),
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
    if not is_current(crl.next_update, now):
        return CertificateStatus("unknown", **window)
    entry = session.scalar(
        select(RevokedCertificate).where(
            RevokedCertificate.crl_id == crl.id, RevokedCertificate.serial == normalise_serial(serial)
        )
    )
    if entry is None:
        return CertificateStatus("good", **window)
    return CertificateStatus("revoked", reason=entry.reason, revoked_at=entry.revoked_at, **window)
