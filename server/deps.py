"""Typed dependencies: the server context, database sessions, the calling kiosk and the signed-in clerk.

Who is calling is decided here and only here. Every ``/v1`` request must come from a registered kiosk
(client certificate issued by the kiosk CA, fingerprint registered, kiosk enabled); clerk routes also need
a bearer token. Identity checks use their own short read-only transaction (no SQLite writer lock, see
``server/db.py``), so they never queue behind writes and slow work in the route never holds a lock.

What a certificate *is* — its fingerprint, whether the kiosk CA signed it, its validity window — does not
change, so it is worked out once per certificate and kept (``CertificateCache``); whether that fingerprint
is a registered, enabled kiosk is asked of the database on every request, so disabling a kiosk takes
effect at its next call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from cryptography import x509
from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from drivers.mynumber.trust import TrustStore
from server import security
from server.errors import ApiError
from server.idempotency import body_sha256
from server.keys import ServerKeys
from server.models import Kiosk
from server.photo_checks import PhotoCheckJob
from server.photo_store import PhotoStore
from server.ratelimit import LookupLimiter
from server.schemas import IDEMPOTENCY_KEY_PATTERN
from server.settings import Settings
from server.tls import fingerprint, issued_by, parse_certificate

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class CheckedCertificate:
    """What one client certificate is, worked out once: fingerprint, signed by a kiosk CA, validity."""

    fingerprint: str
    signed: bool
    not_before: datetime
    not_after: datetime

    def trusted_at(self, now: datetime) -> bool:
        return self.signed and self.not_before <= now <= self.not_after


@dataclass
class CertificateCache:
    """Client certificates (as the TLS extension carries them) already parsed and checked against the kiosk
    CAs — one signature verification per certificate instead of one per request. Bounded: emptied when full."""

    limit: int = 4096
    _entries: dict[Any, CheckedCertificate | None] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, encoded: Any, cas: tuple[x509.Certificate, ...]) -> CheckedCertificate | None:
        """None when the bytes are no certificate."""
        key = encoded if isinstance(encoded, str | bytes) else bytes(encoded)
        try:
            return self._entries[key]
        except KeyError:
            pass
        certificate = parse_certificate(key)
        checked = None if certificate is None else _checked(certificate, cas)
        with self._lock:
            if len(self._entries) >= self.limit:
                self._entries.clear()
            self._entries[key] = checked
        return checked


def _checked(certificate: x509.Certificate, cas: tuple[x509.Certificate, ...]) -> CheckedCertificate:
    not_before, not_after = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    # issued_by checks signature and issuer at a moment; at not_before it judges the signature alone
    signed = any(issued_by(certificate, ca, now=not_before) for ca in cas)
    return CheckedCertificate(fingerprint(certificate), signed, not_before, not_after)


@dataclass(frozen=True, slots=True)
class ServerContext:
    """What the lifespan builds once: settings, database (read-write and read-only sessions), keys, clock,
    the trusted kiosk CAs, the per-kiosk budget of status lookups that find nothing, the JPKI auth CAs
    renewals chain to (empty: renewals off), the per-kiosk budget of renewal nonces, the photo store, the
    background photo check (started by the app's lifespan, not here) and the checked client certificates."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    keys: ServerKeys
    clock: Clock
    kiosk_cas: tuple[x509.Certificate, ...]
    lookups: LookupLimiter
    jpki_auth_cas: TrustStore
    nonces: LookupLimiter
    reads: sessionmaker[Session]
    photos: PhotoStore
    photo_checks: PhotoCheckJob
    certificates: CertificateCache = field(default_factory=CertificateCache)


@dataclass(frozen=True, slots=True)
class KioskIdentity:
    kiosk_id: str


def get_context(request: Request) -> ServerContext:
    context = getattr(request.app.state, "context", None)
    if context is None:
        raise ApiError(503, "starting", "The server is not ready yet.")
    return context


ContextDep = Annotated[ServerContext, Depends(get_context)]


def get_session(context: ContextDep) -> Iterator[Session]:
    with context.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_read_session(context: ContextDep) -> Iterator[Session]:
    """A read-only session (``server/db.py``): for routes that only look things up."""
    with context.reads() as session:
        yield session


ReadSessionDep = Annotated[Session, Depends(get_read_session)]


def _client_certificate_entry(request: Request) -> Any:
    tls = request.scope.get("extensions", {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    return chain[0] if chain else None


def get_kiosk(request: Request, context: ContextDep) -> KioskIdentity:
    entry = _client_certificate_entry(request)
    checked = None if entry is None else context.certificates.check(entry, context.kiosk_cas)
    if checked is None:
        raise ApiError(403, "kiosk_certificate_required", "This endpoint needs a kiosk client certificate (mTLS).")
    if context.kiosk_cas and not checked.trusted_at(context.clock()):
        raise ApiError(403, "kiosk_certificate_untrusted", "The client certificate is not a valid kiosk certificate.")
    digest = checked.fingerprint
    with context.reads() as session:
        kiosk = session.execute(select(Kiosk.kiosk_id, Kiosk.enabled).where(Kiosk.cert_sha256 == digest)).first()
        session.close()
    if kiosk is None:
        raise ApiError(
            403,
            "kiosk_unknown",
            f"This kiosk certificate (SHA-256 {digest}) is not registered; "
            "an operator registers it with `kiosk server add-kiosk`.",
        )
    if not kiosk.enabled:
        raise ApiError(403, "kiosk_disabled", f"Kiosk {kiosk.kiosk_id} is disabled.")
    request.state.kiosk_id = kiosk.kiosk_id  # for the request log
    return KioskIdentity(kiosk.kiosk_id)


KioskDep = Annotated[KioskIdentity, Depends(get_kiosk)]

_bearer = HTTPBearer(auto_error=False, scheme_name="clerkToken", description="Token from POST /v1/clerk/sessions")


def get_clerk(
    kiosk: KioskDep,
    context: ContextDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> security.Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiError(401, "token_required", "Sign in as a clerk first (Authorization: Bearer <token>).")
    with context.reads() as session:
        principal = security.authenticate(
            session, credentials.credentials, kiosk_id=kiosk.kiosk_id, now=context.clock()
        )
        session.close()
    return principal


ClerkDep = Annotated[security.Principal, Depends(get_clerk)]


def get_operator(principal: ClerkDep) -> security.Principal:
    if principal.role != "operator":
        raise ApiError(403, "operator_role_required", "Only an operator may do this.")
    return principal


OperatorDep = Annotated[security.Principal, Depends(get_operator)]


def get_supervisor(principal: ClerkDep) -> security.Principal:
    """A signed-in supervisor: only they may override a failed pickup check (``server/overrides.py``)."""
    if principal.role != "supervisor":
        raise ApiError(403, "supervisor_required", "Only a supervisor may override a failed check.")
    return principal


SupervisorDep = Annotated[security.Principal, Depends(get_supervisor)]

async def get_body_sha256(request: Request) -> str:
    """The SHA-256 of the body as received (``idempotency.body_sha256``); FastAPI has read the body already
    to parse it, so this hashes the cached bytes."""
    return body_sha256(await request.body())


BodySha256 = Annotated[str, Depends(get_body_sha256)]

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="16–64 characters [A-Za-z0-9-]; the same key with the same body replays the first answer.",
    ),
]
