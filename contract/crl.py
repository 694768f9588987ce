"""CRL verification and lookup, as pure functions over parsed X.509 objects (callers pass ``now``).

The city's server is the legal JPKI verifier and imports CRLs into its database (server/revocation.py);
the kiosk CLI and the tests check certificates against CRLs held in memory (drivers/mynumber/revocation.py).
Both trust a CRL only through ``verify_crl``:

* the CRL's issuer name is the CA's subject, and the CA key (RSA or EC) verifies the CRL's signature;
* the CA may sign CRLs (keyUsage, when present, has cRLSign);
* the CRL's authority key id, when present, is the CA's key id — JPKI CA generations share one DN, so
  the key id (not the name) says which generation's certificates a CRL speaks about;
* partitioned CRLs (issuingDistributionPoint) and delta CRLs are refused: real JPKI CRLs are split per
  municipality, and answering "good" from one part would need the certificate's distribution point;
* nextUpdate is present, so freshness can be judged.

A CRL is current while ``now < nextUpdate``; past it, the answer is ``unknown`` — never ``good``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

Status = Literal["good", "revoked", "unknown"]


class CrlRejected(ValueError):
    """The CRL cannot be trusted or used; the message says why."""


@dataclass(frozen=True, slots=True)
class CrlAnswer:
    """One certificate's status in one CRL; ``reason`` is a short code (a CRLReason name or ours)."""

    status: Status
    reason: str | None = None
    revoked_at: datetime | None = None


# --- identifiers as they travel (hex) -------------------------------------------------------------------


def normalise_serial(text: str) -> str:
    """Serial numbers as lower-case hex without leading zeros (``00AB`` and ``ab`` are the same serial)."""
    return format(int(text, 16), "x")


def normalise_key_id(text: str) -> str:
    """A key identifier as lower-case hex (ValueError for odd-length or non-hex text)."""
    return bytes.fromhex(text).hex()


# --- parsing ----------------------------------------------------------------------------------------------


def load_crl(data: bytes) -> x509.CertificateRevocationList:
    """DER or PEM to a CRL object; CrlRejected for anything else."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise CrlRejected("not a CRL (DER or PEM expected)") from exc


def load_ca_certificate(data: bytes) -> x509.Certificate:
    """DER or PEM to a certificate; CrlRejected for anything else."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise CrlRejected("the CA file is not a certificate (DER or PEM expected)") from exc


def ca_key_id(ca: x509.Certificate) -> bytes:
    """The CA's subject key id, or the RFC 5280 method-1 id of its key when the extension is absent."""
    try:
        return ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(ca.public_key()).digest  # type: ignore[arg-type]


def crl_number(crl: x509.CertificateRevocationList) -> int | None:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return None


def entry_reason(entry: x509.RevokedCertificate) -> str | None:
    """The CRLReason of an entry by its RFC 5280 name (``key_compromise``…), None when not given."""
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
    except x509.ExtensionNotFound:
        return None


# --- verification ---------------------------------------------------------------------------------------


def _signed_by(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bool:
    key = ca.public_key()
    return (
        crl.issuer == ca.subject
        and isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
        and crl.is_signature_valid(key)
    )


def verify_crl(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> bytes:
    """Check that ``ca`` issued ``crl`` and that the CRL is usable; returns the CA key id it is filed under."""
    public_key = ca.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise CrlRejected("the CA key type is not supported (RSA or EC expected)")
    if crl.issuer != ca.subject:
        raise CrlRejected("the CRL issuer is not the CA's subject")
    try:
        usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.crl_sign:
        raise CrlRejected("the CA certificate may not sign CRLs (keyUsage lacks cRLSign)")
    if not crl.is_signature_valid(public_key):
        raise CrlRejected("the CRL signature does not verify against the CA certificate")
    key_id = ca_key_id(ca)
    try:
        aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        aki = None
    if aki is not None and aki.key_identifier is not None and aki.key_identifier != key_id:
        raise CrlRejected("the CRL's authority key id is not the CA's key id")
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


@dataclass(frozen=True, slots=True, repr=False)
class VerifiedCrl:
    """A CRL that passed ``verify_crl``, with the key id of the CA that signed it."""

    crl: x509.CertificateRevocationList
    issuer_key_id: bytes
    next_update: datetime  # aware UTC; verify_crl guarantees it is present

    @property
    def issuer(self) -> x509.Name:
        return self.crl.issuer

    @property
    def this_update(self) -> datetime:
        return self.crl.last_update_utc

    def status(self, serial: int, now: datetime) -> CrlAnswer:
        """``unknown`` (reason ``crl_expired``) once stale; else ``revoked`` or ``good`` from the entries.

        A serial that is not positive (RFC 5280 forbids it; a damaged or forged certificate) is ``unknown``
        with reason ``serial_not_positive``: no CRL can vouch for it.
        """
        if not is_current(self.next_update, now):
            return CrlAnswer("unknown", "crl_expired")
        if serial <= 0:
            return CrlAnswer("unknown", "serial_not_positive")
        entry = self.crl.get_revoked_certificate_by_serial_number(serial)
        if entry is None:
            return CrlAnswer("good")
        return CrlAnswer("revoked", entry_reason(entry) or "revoked", entry.revocation_date_utc)

    def __repr__(self) -> str:
        return f"VerifiedCrl(issuer_key_id={self.issuer_key_id.hex()}, next_update={self.next_update.isoformat()})"


def verified(crl: x509.CertificateRevocationList, ca: x509.Certificate) -> VerifiedCrl:
    """``verify_crl`` returning the CRL with its filing key id."""
    key_id = verify_crl(crl, ca)
    next_update = crl.next_update_utc
    if next_update is None:  # verify_crl refused it already; this keeps the type checker informed
        raise CrlRejected("the CRL has no nextUpdate")
    return VerifiedCrl(crl, key_id, next_update)


def verify_against_any(data: bytes, cas: Iterable[x509.Certificate]) -> VerifiedCrl:
    """Parse a CRL and verify it against the one CA among ``cas`` whose key signed it.

    CA generations share one DN, so only the signature tells which CA issued it; that CA must then pass
    every rule of ``verify_crl`` (its refusal is the error). No CA's signature at all: CrlRejected.
    """
    crl = load_crl(data)
    for ca in cas:
        if _signed_by(crl, ca):
            return verified(crl, ca)
    raise CrlRejected("no trusted CA signed this CRL")


def is_current(next_update: datetime, now: datetime) -> bool:
    """A CRL answers only before its nextUpdate (the instant itself is already stale)."""
    if now.tzinfo is None or next_update.tzinfo is None:
        raise ValueError("CRL times must be timezone-aware")
    return now.astimezone(UTC) < next_update.astimezone(UTC)


def find_for_issuer(
    crls: Iterable[VerifiedCrl], *, issuer_key_id: bytes | None, issuer: x509.Name | None
) -> VerifiedCrl | None:
    """The CRL filed under ``issuer_key_id`` (and ``issuer``'s DN when given); None when there is none.

    A certificate without an authority key id cannot be placed in one CA generation, so it finds none.
    """
    if not issuer_key_id:
        return None
    for item in crls:
        if item.issuer_key_id == issuer_key_id and (issuer is None or item.issuer == issuer):
            return item
    return None
