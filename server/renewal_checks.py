"""The card side of a renewal: is this the auth certificate of a genuine, current card, and did its key sign?

Pure functions over bytes (plus ``load_auth_cas``, which reads the configured CA files at start), so each rule
is tested on its own and the route only orders them. Every refusal is an ``ApiError`` with a stable code; no
message names the certificate's subject (JPKI auth certificates carry only a serial-like CN, but other issuers
may put a name there) — only machine reasons.

The building blocks are the driver's pure certificate layer, the same code the kiosk's verifier runs
(``drivers.mynumber.certificates``: parsing, purpose, validity and the renewal window on the JST calendar;
``drivers.mynumber.trust``: chains built by key identifier and confirmed by signature, so CA generations that
share one DN are told apart). Revocation is the server's own CRL data (``server.revocation``), asked by the
route inside its database session.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from contract.crl import ca_key_id
from drivers.mynumber.certificates import CertificateError, JpkiCertificate, classify, parse_certificate, validity
from drivers.mynumber.trust import CERTIFICATE_SUFFIXES, TrustStore, build_chain
from server.errors import ApiError

MAX_CA_FILE_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class CheckedCertificate:
    """An auth certificate that passed every rule but revocation (the route asks the database for that)."""

    certificate: JpkiCertificate
    serial_hex: str  # lower-case hex without leading zeros, as the revocation tables keep serials
    issuer_key_id: str  # hex key id of the CA it chains to (what CRLs are stored under)
    issuer_dn: str  # RFC 4514, the CA's DN (for the CRL's DN check)

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_after

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        key = self.certificate.public_key
        assert isinstance(key, rsa.RSAPublicKey)  # noqa: S101 - check_certificate refused anything else
        return key


def refused(status: int, code: str, message: str) -> ApiError:
    return ApiError(status, code, message)


# --- configuration -----------------------------------------------------------------------------------------


def _ca_files(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(p for p in sorted(path.iterdir()) if p.is_file() and p.suffix.lower() in CERTIFICATE_SUFFIXES)
        elif path.is_file():
            files.append(path)
        else:
            raise ValueError(f"JPKI auth CA {path} does not exist")
    return files


def _read_certificates(file: Path) -> list[x509.Certificate]:
    if file.stat().st_size > MAX_CA_FILE_BYTES:
        raise ValueError(f"{file}: too large for a CA certificate file")
    data = file.read_bytes()
    try:
        if b"-----BEGIN" in data:
            certificates = x509.load_pem_x509_certificates(data)
        else:
            certificates = [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise ValueError(f"{file}: not a readable certificate (PEM or DER)") from exc
    return certificates


def load_auth_cas(paths: Iterable[Path]) -> TrustStore:
    """The configured JPKI authentication CAs, every one checked to be a CA; ValueError names a bad file.

    Only what is configured is trusted: a card's own CA certificate (EF 000B) is never needed and never used.
    """
    paths = tuple(paths)
    anchors: list[JpkiCertificate] = []
    for file in _ca_files(paths):
        for certificate in _read_certificates(file):
            try:
                parsed = parse_certificate(certificate.public_bytes(serialization.Encoding.DER))
            except CertificateError as exc:
                raise ValueError(f"{file}: not a usable certificate ({exc})") from exc
            if classify(parsed) != "ca":
                raise ValueError(f"{file}: holds a certificate that is not a CA (CA:TRUE and keyCertSign)")
            anchors.append(parsed)
    if not anchors and paths:
        raise ValueError("the configured JPKI auth CA paths hold no certificate")
    return TrustStore(certificates=tuple(anchors))


# --- the certificate ---------------------------------------------------------------------------------------


def parse(der: bytes) -> JpkiCertificate:
    try:
        return parse_certificate(der)
    except CertificateError:
        raise refused(422, "certificate_malformed", "auth_certificate is not a readable X.509 certificate.") from None


def check_certificate(
    cert: JpkiCertificate, store: TrustStore, *, at: datetime, window_months: int
) -> CheckedCertificate:
    """Purpose, chain, validity and renewal window, judged at ``at`` (the nonce's issue time)."""
    if classify(cert) != "auth" or not isinstance(cert.public_key, rsa.RSAPublicKey):
        raise refused(
            403,
            "certificate_not_for_auth",
            "This is not a JPKI user-authentication certificate (digitalSignature and clientAuth, no "
            "nonRepudiation, not a CA, an RSA key); send the card's auth certificate (EF 000A).",
        )
    chain = build_chain(cert, store=store, at=at)
    anchor = chain.anchor
    if not chain.ok or anchor is None or len(chain.path) < 2:
        raise refused(
            403,
            "certificate_untrusted",
            f"The certificate does not chain to a configured JPKI authentication CA ({chain.reason or 'self'}).",
        )
    report = validity(cert, at, renewal_months=window_months)
    if report.status == "expired":
        raise refused(403, "certificate_expired", "The certificate had expired when the nonce was issued.")
    if report.status == "not_yet_valid":
        raise refused(403, "certificate_not_yet_valid", "The certificate was not yet valid when the nonce was issued.")
    if not report.in_renewal_window:
        # No date in the message: JPKI certificates end on a birthday, and error texts reach kiosk screens.
        raise refused(
            422,
            "not_in_renewal_window",
            f"The certificate can be renewed only in the last {window_months} months before it expires; not yet.",
        )
    return CheckedCertificate(
        certificate=cert,
        serial_hex=format(cert.serial, "x"),
        issuer_key_id=ca_key_id(anchor.certificate).hex(),
        issuer_dn=anchor.subject,
    )


def verify_signature(checked: CheckedCertificate, signature: bytes, message: bytes) -> None:
    """RSA PKCS#1 v1.5 with SHA-256 over ``message``: what the card made from ``digest_info(message)``."""
    try:
        checked.public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise refused(
            403,
            "signature_invalid",
            "The signature does not verify with the certificate's key over this nonce and payload.",
        ) from None
