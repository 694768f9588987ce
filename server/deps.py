"""Typed dependencies: the server context, database sessions, the calling kiosk and the signed-in clerk.

Who is calling is decided here and only here. Every ``/v1`` request must come from a registered kiosk
(client certificate issued by the kiosk CA, fingerprint registered, kiosk enabled); clerk routes also need
a bearer token. Identity checks use their own short transaction so that slow work in the route (photo
checks) never runs while SQLite's write lock is held.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from cryptography import x509
from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from drivers.mynumber.trust import TrustStore
from server import security
from server.errors import ApiError
from server.keys import ServerKeys
from server.models import Kiosk
from server.ratelimit import LookupLimiter
from server.schemas import IDEMPOTENCY_KEY_PATTERN
from server.settings import Settings
from server.tls import client_certificate, fingerprint, issued_by

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class ServerContext:
    """What the lifespan builds once: settings, database, keys, clock, the trusted kiosk CAs, the per-kiosk
    budget of status lookups that find nothing, the JPKI auth CAs renewals chain to (empty: renewals off)
    and the per-kiosk budget of renewal nonces."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    keys: ServerKeys
    clock: Clock
    kiosk_cas: tuple[x509.Certificate, ...]
    lookups: LookupLimiter
    jpki_auth_cas: TrustStore
    nonces: LookupLimiter


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


def get_kiosk(request: Request, context: ContextDep) -> KioskIdentity:
    certificate = client_certificate(request.scope)
    if certificate is None:
        raise ApiError(403, "kiosk_certificate_required", "This endpoint needs a kiosk client certificate (mTLS).")
    now = context.clock()
    if context.kiosk_cas and not any(issued_by(certificate, ca, now=now) for ca in context.kiosk_cas):
        raise ApiError(403, "kiosk_certificate_untrusted", "The client certificate is not a valid kiosk certificate.")
    digest = fingerprint(certificate)
    with context.sessions() as session:
        kiosk = session.scalar(select(Kiosk).where(Kiosk.cert_sha256 == digest))
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
    with context.sessions() as session:
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

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="16–64 characters [A-Za-z0-9-]; the same key with the same body replays the first answer.",
    ),
]
