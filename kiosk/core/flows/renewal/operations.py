"""The renewal's card work and its disk and network work, each with a typed result (``kiosk.core.ports``).

Card operations run on the reader's worker thread and call only the verifier's and driver's domain verbs;
the PIN they carry is zeroed when they end. Tasks run on the task worker (a nonce is an HTTPS round trip,
the outbox commit an fsync).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from contract.renewal import digest_info, encode_nonce, renewal_message
from drivers.mynumber.session import PinStatus, zero
from drivers.mynumber.trust import REASON_UNKNOWN_CA_GENERATION, REASON_UNKNOWN_ISSUER, REASON_UNTRUSTED_ROOT
from kiosk.core.ports import OpenCard, QueuedApplication, ServiceContext

ELIGIBLE, NOT_YET, EXPIRED, NOT_GENUINE = "eligible", "not_yet", "expired", "not_genuine"
# a chain that ends at a CA this kiosk does not hold says nothing about the card being forged
UNKNOWN_CA_GENERATION, ISSUER_UNKNOWN = "unknown_ca_generation", "issuer_unknown"
_CHAIN_STATUS = {REASON_UNKNOWN_CA_GENERATION: UNKNOWN_CA_GENERATION, REASON_UNKNOWN_ISSUER: ISSUER_UNKNOWN,
                 REASON_UNTRUSTED_ROOT: ISSUER_UNKNOWN}


@dataclass(frozen=True, slots=True)
class RenewalFacts:
    """May this card be renewed here, now? From its auth certificate (no PIN, no personal data).

    ``card`` is a SHA-256 of the certificate: how the flow knows the card put back is the same card."""

    status: str  # eligible | not_yet | expired | not_genuine | unknown_ca_generation | issuer_unknown
    auth: PinStatus
    not_after: datetime | None
    renewal_from: datetime | None
    card: str


@dataclass(frozen=True, slots=True)
class CheckRenewal:
    """The certificate's checks (chain, validity, key usage) and its renewal window; the auth PIN counter."""

    def run(self, card: OpenCard) -> RenewalFacts:
        verifier = card.verifier
        verifier.prefetch()
        certificate, validity = verifier.auth_certificate, verifier.auth_validity
        auth = card.card.jpki.auth_pin_status()
        fingerprint = hashlib.sha256(certificate.der).hexdigest() if certificate is not None else ""
        if verifier.certificate_failed:
            chain = next((c for c in verifier.prefetch() if c.name == "auth_chain" and c.status == "failed"), None)
            if validity is not None and validity.status == "expired":
                status = EXPIRED
            else:
                status = _CHAIN_STATUS.get(chain.reason, NOT_GENUINE) if chain is not None else NOT_GENUINE
        elif validity is not None and validity.in_renewal_window:
            status = ELIGIBLE
        else:
            status = NOT_YET
        return RenewalFacts(status, auth, certificate.not_after if certificate is not None else None,
                            validity.renewal_from if validity is not None else None, fingerprint)

    def wipe(self) -> None:
        return None


@dataclass(slots=True, repr=False)
class SignedRenewal:
    """What the server verifies: the auth certificate and its key's signature over the request."""

    certificate: bytes
    signature: bytes


@dataclass(slots=True, repr=False)
class SignRenewal:
    """The card signs ``renewal_message(nonce, payload)`` with its auth key (the auth PIN unlocks it).

    Refused without a PIN reaching the card when the certificate failed (``CardVerifier``). The payload is
    signed as it is: the flow must send exactly these bytes (``contract.renewal.canonical_payload``)."""

    pin: bytearray = field(repr=False)
    nonce: bytes = field(repr=False)
    payload: dict[str, Any] = field(repr=False)

    def run(self, card: OpenCard) -> SignedRenewal:
        try:
            signature = card.verifier.sign_with_auth_key(digest_info(renewal_message(self.nonce, self.payload)),
                                                         self.pin)
        finally:
            zero(self.pin)
        certificate = card.verifier.auth_certificate
        if certificate is None:  # cannot happen: a malformed certificate failed, and nothing was signed
            raise RuntimeError("no auth certificate to send with the signature")
        return SignedRenewal(certificate.der, signature)

    def wipe(self) -> None:
        zero(self.pin)


@dataclass(frozen=True, slots=True, repr=False)
class RenewalNonceAnswer:
    nonce: bytes


@dataclass(slots=True)
class GetRenewalNonce:
    """A single-use nonce from the central server: the signature covers it, so it cannot be replayed."""

    def run(self, services: ServiceContext) -> RenewalNonceAnswer:
        return RenewalNonceAnswer(bytes(services.central().renewal_nonce().nonce))

    def wipe(self) -> None:
        """Carries nothing."""


@dataclass(slots=True, repr=False)
class EnqueueRenewal:
    """Commit the signed renewal to the outbox; the receipt is shown only after this returned."""

    nonce: bytes = field(repr=False)
    signed: SignedRenewal | None = field(repr=False)
    payload: dict[str, Any] = field(repr=False)

    def run(self, services: ServiceContext) -> QueuedApplication:
        if self.signed is None:
            raise ValueError("the renewal was wiped before it was stored")
        body = {"nonce": encode_nonce(self.nonce),
                "auth_certificate": base64.b64encode(self.signed.certificate).decode("ascii"),
                "signature": base64.b64encode(self.signed.signature).decode("ascii"),
                "payload": self.payload}
        try:
            receipt = services.outbox.enqueue("renewal", body)
        finally:
            self.wipe()
        return QueuedApplication(receipt.item_id, receipt.local_number, receipt.state)

    def wipe(self) -> None:
        self.payload.clear()
        self.signed = None


__all__ = ["ELIGIBLE", "EXPIRED", "ISSUER_UNKNOWN", "NOT_GENUINE", "NOT_YET", "UNKNOWN_CA_GENERATION", "CheckRenewal",
           "EnqueueRenewal", "GetRenewalNonce", "RenewalFacts", "RenewalNonceAnswer", "SignRenewal", "SignedRenewal"]
