"""``CardVerifier``: is this a genuine, valid, un-revoked My Number card, and does it hold its key?

Every check is reported on its own — passed, failed or not checked, with a machine-readable reason — so a
screen can explain the result in plain words and an operator can see which step broke. "Verified" means
every *required* check passed; what is required is configuration. A check that could not run (no PIN
for that application, revocation server offline) is "not checked", never "passed".

The certificate part needs no PIN, so it runs as a *prefetch* the moment a card is detected, while the
resident is still typing; ``verify`` then only spends the APDUs that need the PIN.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from drivers import errors
from drivers.mynumber.basic4 import Basic4, parse_basic4, parse_my_number_ef
from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.card_info import CardInfoRaw
from drivers.mynumber.certificates import (
    JpkiCertificate,
    ValidityReport,
    attributes_match,
    key_usage_ok,
    parse_certificate,
    validity,
)
from drivers.mynumber.integrity import CheckResult, check_card_info
from drivers.mynumber.session import PinStatus, zero
from drivers.mynumber.trust import TrustStore, build_chain

SHA256_DIGEST_INFO = bytes.fromhex("3031300D060960864801650304020105000420")

CHECK_CHAIN = "auth_chain"
CHECK_VALIDITY = "auth_validity"
CHECK_KEY_USAGE = "auth_key_usage"
CHECK_POSSESSION = "possession"
CHECK_CONSISTENCY = "sign_consistency"
CHECK_REVOCATION = "revocation"
CARD_INFO_CHECKS = ("my_number_digest", "basic4_digest", "card_info_signature", "card_info_certificate")
ALL_CHECKS = (CHECK_CHAIN, CHECK_VALIDITY, CHECK_KEY_USAGE, CHECK_POSSESSION, *CARD_INFO_CHECKS,
              CHECK_CONSISTENCY, CHECK_REVOCATION)
CERTIFICATE_FAILED = "certificate_failed"  # reason of checks skipped so that no PIN reaches a failed card
DEFAULT_REQUIRED = frozenset({CHECK_CHAIN, CHECK_VALIDITY, CHECK_KEY_USAGE, CHECK_POSSESSION, CHECK_REVOCATION})


class RevocationUnavailable(Exception):
    """The revocation checker could not answer (offline, timeout): the check is "not checked"."""


@dataclass(frozen=True, slots=True)
class RevocationAnswer:
    status: str  # "good" | "revoked" | "unknown"
    reason: str | None = None


class RevocationChecker(Protocol):
    """Asks the legal verifier (the city's central server) about one certificate."""

    def check(self, certificate: JpkiCertificate) -> RevocationAnswer: ...


@dataclass(frozen=True, slots=True)
class VerifierConfig:
    required: frozenset[str] = DEFAULT_REQUIRED
    renewal_months: int = 3

    def __post_init__(self) -> None:
        unknown = set(self.required) - set(ALL_CHECKS)
        if unknown:
            raise ValueError(f"unknown checks {sorted(unknown)}; known: {', '.join(ALL_CHECKS)}")


def is_verified(checks: Iterable[CheckResult], required: Collection[str]) -> bool:
    """THE rule for "verified": no check failed, and every required check passed.

    "Required" only decides whether a check that could not run ("not checked") is acceptable; a check that
    ran and failed is never acceptable, required or not (a tampered card whose integrity checks are not
    required is still a tampered card).
    """
    by_name = {check.name: check for check in checks}
    if any(check.status == "failed" for check in by_name.values()):
        return False
    return all(name in by_name and by_name[name].passed for name in required)


@dataclass(slots=True, repr=False)
class Verdict:
    """The result; holds personal data only in ``my_number``/``basic4`` (wiped by ``wipe()``)."""

    checks: list[CheckResult]
    required: frozenset[str]
    apdu_count: int
    auth_validity: ValidityReport | None = None
    auth_certificate: JpkiCertificate | None = None
    pin_statuses: list[PinStatus] = field(default_factory=list)
    my_number: str | None = None
    basic4: Basic4 | None = None

    @property
    def verified(self) -> bool:
        return is_verified(self.checks, self.required)

    def check(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    def wipe(self) -> None:
        self.my_number = None
        self.basic4 = None

    def as_dict(self) -> dict:
        return {
            "verified": self.verified,
            "checks": [{"name": c.name, "status": c.status, "reason": c.reason, "required": c.name in self.required}
                       for c in self.checks],
            "apdu_count": self.apdu_count,
        }

    def __repr__(self) -> str:
        summary = ", ".join(f"{c.name}={c.status}" for c in self.checks)
        return f"Verdict(verified={self.verified}, {summary})"


class CardVerifier:
    """Runs on the worker thread that owns the card. ``prefetch`` then ``verify``, or ``verify`` alone."""

    def __init__(self, card: MyNumberCard, trust: TrustStore, *, config: VerifierConfig | None = None,
                 revocation: RevocationChecker | None = None, clock: Callable[[], datetime] | None = None,
                 nonce: Callable[[int], bytes] = os.urandom) -> None:
        self.card = card
        self.trust = trust
        self.config = config or VerifierConfig()
        self.revocation = revocation
        self._clock = clock or (lambda: datetime.now(UTC))
        self._nonce = nonce
        self._certificate: JpkiCertificate | None = None
        self._certificate_checks: list[CheckResult] | None = None
        self._validity: ValidityReport | None = None

    # --- no PIN needed ------------------------------------------------------------------------------

    def prefetch(self) -> list[CheckResult]:
        """Read the auth certificate and check chain, validity and key usage (no PIN, no personal data)."""
        if self._certificate_checks is not None:
            return self._certificate_checks
        der = self.card.jpki.read_auth_certificate()
        now = self._clock()
        try:
            certificate = parse_certificate(der)
        except errors.ProtocolError:
            self._certificate_checks = [CheckResult(CHECK_CHAIN, "failed", "malformed_certificate"),
                                        CheckResult(CHECK_VALIDITY, "not_checked", "malformed_certificate"),
                                        CheckResult(CHECK_KEY_USAGE, "not_checked", "malformed_certificate")]
            return self._certificate_checks
        chain = build_chain(certificate, store=self.trust, at=now)
        report = validity(certificate, now, renewal_months=self.config.renewal_months)
        self._certificate, self._validity = certificate, report
        self._certificate_checks = [
            CheckResult(CHECK_CHAIN, "passed") if chain.ok else CheckResult(CHECK_CHAIN, "failed", chain.reason),
            CheckResult(CHECK_VALIDITY, "passed") if report.valid else CheckResult(CHECK_VALIDITY, "failed",
                                                                                   report.status),
            CheckResult(CHECK_KEY_USAGE, "passed") if key_usage_ok(certificate, "auth") else CheckResult(
                CHECK_KEY_USAGE, "failed", "wrong_key_usage"),
        ]
        return self._certificate_checks

    @property
    def certificate_failed(self) -> bool:
        """True once the prefetch found the auth certificate broken, untrusted, expired, of the wrong
        usage or with a key the possession proof cannot use: no PIN goes to this card."""
        checks = self.prefetch()
        if any(check.status == "failed" for check in checks):
            return True
        return self._certificate is not None and not isinstance(self._certificate.public_key, rsa.RSAPublicKey)

    @property
    def auth_certificate(self) -> JpkiCertificate | None:
        """The card's auth certificate as the prefetch parsed it (None when it was malformed)."""
        self.prefetch()
        return self._certificate

    @property
    def auth_validity(self) -> ValidityReport | None:
        """Its validity now, with the renewal window (None when the certificate was malformed)."""
        self.prefetch()
        return self._validity

    def sign_with_auth_key(self, digest_info: bytes, pin: str | bytearray, *,
                           confirm_last_try: bool = False) -> bytes:
        """A signature by the auth key over ``digest_info`` (a renewal request), refused without touching
        the card (``CertificateRefused``) when its certificate already failed: no PIN goes to such a card."""
        if self.certificate_failed:
            if isinstance(pin, bytearray):
                zero(pin)
            raise errors.CertificateRefused("the card's certificate failed; no PIN is sent to it")
        return bytes(self.card.jpki.sign_with_auth_key(digest_info, pin, confirm_last_try=confirm_last_try))

    def read_card_info(self, pin: str | bytearray, *, confirm_last_try: bool = False) -> CardInfoRaw:
        """The card-info EFs with the card-info PIN, refused (``CertificateRefused``) without touching the
        card when its certificate already failed."""
        if self.certificate_failed:
            if isinstance(pin, bytearray):
                zero(pin)
            raise errors.CertificateRefused("the card's certificate failed; no PIN is sent to it")
        return self.card.card_info.read(pin, confirm_last_try=confirm_last_try)

    # --- with PINs -------------------------------------------------------------------------------

    def verify(self, auth_pin: str | bytearray | None, *, card_info_pin: str | bytearray | None = None,
               sign_pin: str | bytearray | None = None, confirm_last_try: bool = False) -> Verdict:
        """All checks. PIN errors (WrongPin, PinGuardRefused, PinBlocked) and CardRemoved propagate:
        they are things to tell the resident, not verdicts about the card."""
        checks = list(self.prefetch())
        if self.certificate_failed:
            # Never send a resident's PIN to a card whose certificate already failed: the card is not
            # genuine (or not usable), and a forged card would learn the PIN.
            checks.append(CheckResult(CHECK_POSSESSION, "not_checked", CERTIFICATE_FAILED))
            checks.extend(CheckResult(name, "not_checked", CERTIFICATE_FAILED) for name in CARD_INFO_CHECKS)
            checks.append(CheckResult(CHECK_CONSISTENCY, "not_checked", CERTIFICATE_FAILED))
            checks.append(self._revocation())
            return Verdict(checks, self.config.required, self.card.apdu_count, self._validity, self._certificate)
        checks.append(self._possession(auth_pin, confirm_last_try))
        raw = None
        if card_info_pin is not None:
            raw = self.card.card_info.read(card_info_pin, confirm_last_try=confirm_last_try)
            checks.extend(check_card_info(raw.my_number_ef, raw.basic4_ef, raw.integrity_ef, raw.cv_certificate,
                                          self.trust.cv_roots))
        else:
            checks.extend(CheckResult(name, "not_checked", "no_card_info_pin") for name in CARD_INFO_CHECKS)
        basic4 = _parse_basic4(raw)
        checks.append(self._consistency(sign_pin, basic4, confirm_last_try))
        checks.append(self._revocation())
        verdict = Verdict(checks, self.config.required, self.card.apdu_count, self._validity, self._certificate)
        if raw is not None and raw.my_number_ef is not None:
            try:
                verdict.my_number = parse_my_number_ef(raw.my_number_ef)
            except errors.ProtocolError:
                verdict.my_number = None
        verdict.basic4 = basic4
        return verdict

    def _possession(self, auth_pin: str | bytearray | None, confirm_last_try: bool) -> CheckResult:
        """The card signs a fresh kiosk nonce with the auth key; the certificate's key must verify it."""
        if auth_pin is None:
            return CheckResult(CHECK_POSSESSION, "not_checked", "no_auth_pin")
        if self._certificate is None:
            return CheckResult(CHECK_POSSESSION, "not_checked", "no_certificate")
        challenge = self._nonce(32) + self._clock().isoformat().encode()
        digest = hashlib.sha256(challenge).digest()
        signature = self.card.jpki.sign_with_auth_key(SHA256_DIGEST_INFO + digest, auth_pin,
                                                      confirm_last_try=confirm_last_try)
        key = self._certificate.public_key
        if not isinstance(key, rsa.RSAPublicKey):
            return CheckResult(CHECK_POSSESSION, "failed", "not_an_rsa_key")
        try:
            key.verify(signature, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        except InvalidSignature:
            return CheckResult(CHECK_POSSESSION, "failed", "signature_does_not_match_certificate")
        return CheckResult(CHECK_POSSESSION, "passed")

    def _consistency(self, sign_pin: str | bytearray | None, basic4: Basic4 | None,
                     confirm_last_try: bool) -> CheckResult:
        """The signing certificate's SAN attributes equal the card-info basic 4."""
        if sign_pin is None:
            return CheckResult(CHECK_CONSISTENCY, "not_checked", "no_sign_pin")
        if basic4 is None:
            return CheckResult(CHECK_CONSISTENCY, "not_checked", "no_card_info")
        try:
            der = self.card.jpki.read_sign_certificate(sign_pin, confirm_last_try=confirm_last_try)
        except errors.NoSignCertificate:
            return CheckResult(CHECK_CONSISTENCY, "not_checked", "no_sign_certificate")
        try:
            attributes = parse_certificate(der).sign_attributes
        except errors.ProtocolError:
            return CheckResult(CHECK_CONSISTENCY, "failed", "malformed_sign_certificate")
        if attributes is None:
            return CheckResult(CHECK_CONSISTENCY, "failed", "no_attributes_in_sign_certificate")
        same, differing = attributes_match(attributes, basic4)
        if same:
            return CheckResult(CHECK_CONSISTENCY, "passed")
        return CheckResult(CHECK_CONSISTENCY, "failed", "differs:" + ",".join(differing))

    def _revocation(self) -> CheckResult:
        if self._certificate is None:
            return CheckResult(CHECK_REVOCATION, "not_checked", "no_certificate")
        if self.revocation is None:
            return CheckResult(CHECK_REVOCATION, "not_checked", "no_revocation_checker")
        try:
            answer = self.revocation.check(self._certificate)
        except RevocationUnavailable:
            return CheckResult(CHECK_REVOCATION, "not_checked", "offline")
        if answer.status == "good":
            return CheckResult(CHECK_REVOCATION, "passed")
        if answer.status == "revoked":
            return CheckResult(CHECK_REVOCATION, "failed", answer.reason or "revoked")
        return CheckResult(CHECK_REVOCATION, "not_checked", answer.reason or "status_unknown")


def _parse_basic4(raw: CardInfoRaw | None) -> Basic4 | None:
    if raw is None or not raw.basic4_ef:
        return None
    try:
        return parse_basic4(raw.basic4_ef)
    except errors.ProtocolError:
        return None


__all__ = [
    "ALL_CHECKS",
    "CERTIFICATE_FAILED",
    "DEFAULT_REQUIRED",
    "CardVerifier",
    "RevocationAnswer",
    "RevocationChecker",
    "RevocationUnavailable",
    "Verdict",
    "VerifierConfig",
    "is_verified",
]
