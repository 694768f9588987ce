"""Revocation from CRLs, as pure functions: the city's server answers kiosks with it, and tests use it.

A kiosk is not a legal JPKI verifier (workflows-and-peers.md C.7): it asks the central server, which holds
the CRLs. This module is the server's logic, kept free of I/O so both sides share one definition.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from drivers.errors import ProtocolError
from drivers.mynumber.certificates import JpkiCertificate
from drivers.mynumber.verifier import RevocationAnswer


class CrlError(ProtocolError):
    """A CRL that is malformed or not signed by the CA it claims."""

    code = "crl_error"


def load_crl(der: bytes, issuers: Iterable[JpkiCertificate]) -> tuple[x509.CertificateRevocationList, JpkiCertificate]:
    """Parse a CRL and find the CA (among ``issuers``) whose key signed it; CrlError otherwise."""
    try:
        crl = x509.load_der_x509_crl(der)
    except ValueError as exc:
        raise CrlError(f"not a DER CRL: {exc}") from exc
    for issuer in issuers:
        key = issuer.certificate.public_key()
        # same DN across CA generations: only the signature tells which key issued it
        if issuer.certificate.subject == crl.issuer and isinstance(key, rsa.RSAPublicKey) and \
                crl.is_signature_valid(key):
            return crl, issuer
    raise CrlError("no trusted CA signed this CRL")


class CrlRevocationChecker:
    """Answers from CRLs verified against trusted CAs; stale or missing CRLs give "unknown"."""

    def __init__(self, crls: Iterable[bytes], issuers: Iterable[JpkiCertificate], clock) -> None:
        self._issuers = list(issuers)
        self._clock = clock
        self._crls = [load_crl(der, self._issuers) for der in crls]

    def check(self, certificate: JpkiCertificate) -> RevocationAnswer:
        now: datetime = self._clock()
        for crl, issuer in self._crls:
            if issuer.subject_key_id and certificate.authority_key_id != issuer.subject_key_id:
                continue
            if crl.issuer != certificate.certificate.issuer:
                continue
            next_update = crl.next_update_utc
            if next_update is not None and next_update < now:
                return RevocationAnswer("unknown", "crl_expired")
            entry = crl.get_revoked_certificate_by_serial_number(certificate.serial)
            if entry is None:
                return RevocationAnswer("good")
            return RevocationAnswer("revoked", "revoked")
        return RevocationAnswer("unknown", "no_crl_for_issuer")
