"""``RevocationChecker`` over CRLs held in memory: for ``kiosk card verify --crl`` and the tests.

A kiosk is not a legal JPKI verifier (workflows-and-peers.md C.7): in production it asks the central server
(kiosk/services/revocation_client.py), which holds the CRLs. This adapter only lets the same verifier run
offline against CRL files. Every rule — which CA signed a CRL, what makes a CRL unusable, when it is stale —
is ``contract.crl``, the code the server's CRL import runs; nothing is decided here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from contract.crl import CrlRejected, VerifiedCrl, find_for_issuer, verify_against_any
from drivers.errors import ProtocolError
from drivers.mynumber.certificates import JpkiCertificate
from drivers.mynumber.verifier import RevocationAnswer


class CrlError(ProtocolError):
    """A CRL that is malformed, not signed by a trusted CA, or refused by ``contract.crl.verify_crl``."""

    code = "crl_error"


class CrlRevocationChecker:
    """Answers from CRLs verified against trusted CAs; a stale CRL or none for the issuer gives "unknown"."""

    def __init__(self, crls: Iterable[bytes], issuers: Iterable[JpkiCertificate],
                 clock: Callable[[], datetime]) -> None:
        cas = [issuer.certificate for issuer in issuers]
        self._clock = clock
        self._crls: list[VerifiedCrl] = []
        for der in crls:
            try:
                self._crls.append(verify_against_any(der, cas))
            except CrlRejected as exc:
                raise CrlError(f"CRL refused: {exc}") from exc

    def check(self, certificate: JpkiCertificate) -> RevocationAnswer:
        crl = find_for_issuer(self._crls, issuer_key_id=certificate.authority_key_id,
                              issuer=certificate.certificate.issuer)
        if crl is None:
            return RevocationAnswer("unknown", "no_crl_for_issuer")
        answer = crl.status(certificate.serial, self._clock())
        return RevocationAnswer(answer.status, answer.reason)
