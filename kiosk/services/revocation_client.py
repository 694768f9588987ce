"""Revocation through the city's central server: ``CentralClient`` → ``RevocationChecker``.

Why through the server: a kiosk is not a legal JPKI verifier (公的個人認証法 §17); the city is, and its
server holds the CRLs (workflows-and-peers.md C.7). The verifier in ``drivers`` knows nothing about HTTP,
so this adapter translates both ways:

* the certificate is named by what the server indexes CRLs with — the issuer's key identifier (the
  certificate's AKI, which also separates the CA generations that share one DN) and the serial, in hex;
  nothing personal leaves the kiosk (the auth certificate carries no name or address);
* every failure to get an answer — offline, timeout, TLS trouble, a refusal, a broken answer — becomes
  ``RevocationUnavailable``, which the verifier reports as "not checked", never as "passed"; the
  resident is told revocation could not be checked, and the card is not verified if the check is required.

It runs on the card worker thread inside ``verify``; the client's connect/read time-outs (configuration)
bound how long the resident waits. Give it a ``CentralClient`` of its own: clients are not shared
between threads.
"""

from __future__ import annotations

import logging
from typing import Protocol

from drivers.mynumber.certificates import JpkiCertificate
from drivers.mynumber.verifier import RevocationAnswer, RevocationUnavailable
from kiosk.services.central import CertificateStatus
from kiosk.services.errors import CentralError, safe_code

LOG = logging.getLogger(__name__)


class CertificateStatusSource(Protocol):
    """The one method of ``CentralClient`` this adapter needs (so tests can pass a stub)."""

    def certificate_status(self, issuer_key_id: str, serial: str) -> CertificateStatus: ...


class CentralRevocationChecker:
    """``drivers.mynumber.verifier.RevocationChecker`` answered by the central server."""

    def __init__(self, client: CertificateStatusSource) -> None:
        self._client = client

    def check(self, certificate: JpkiCertificate) -> RevocationAnswer:
        if not certificate.authority_key_id:
            # Without the issuer's key id the server cannot pick the right CA generation's CRL.
            return RevocationAnswer("unknown", "no_issuer_key_id")
        try:
            answer = self._client.certificate_status(certificate.authority_key_id.hex(),
                                                     format(certificate.serial, "x"))
        except CentralError as exc:
            LOG.warning("revocation not checked: %s", exc.code)
            raise RevocationUnavailable(exc.code) from exc
        reason = answer.details.get("reason")
        if answer.status == "good":
            return RevocationAnswer("good")
        if answer.status == "revoked":
            return RevocationAnswer("revoked", safe_code(str(reason), "revoked") if reason else "revoked")
        return RevocationAnswer("unknown", safe_code(str(reason), "status_unknown") if reason else "status_unknown")


__all__ = ["CentralRevocationChecker", "CertificateStatusSource"]
