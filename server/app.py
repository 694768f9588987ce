"""The app factory. ``create_app(settings)`` has no side effects; the lifespan does the work at start:
load (or create) the server secret, open the database, migrate it to head, register the kiosks listed in
settings, load the kiosk CA and the JPKI auth CAs (renewals) and open the photo store — in that order, so
a misconfigured server refuses to start rather than answering wrongly — then start the background photo
check (``server/photo_checks.py``), which the lifespan stops again before the database is closed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from server.db import make_engine, make_read_session_factory, make_session_factory, require_head, upgrade_to_head
from server.deps import Clock, ServerContext
from server.errors import install_error_handlers
from server.keys import ServerKeys, load_or_create_secret
from server.logs import RequestContextMiddleware
from server.metrics import MetricsMiddleware, RequestMetrics
from server.metrics import router as metrics_router
from server.middleware import BodyLimitMiddleware, PathGuardMiddleware, RequestLogMiddleware
from server.models import Kiosk
from server.photo_checks import PhotoCheckJob
from server.photo_store import photo_store
from server.ratelimit import LookupLimiter
from server.renewal_checks import load_auth_cas
from server.routes import all_routers
from server.settings import Settings
from server.tls import load_ca_file

API_VERSION = "1.0.0"
TITLE = "My Number kiosk — reference central server"
DESCRIPTION = """\
The contract the kiosk speaks. Every `/v1` call comes over HTTPS with a registered kiosk client certificate
(mTLS); clerk calls add `Authorization: Bearer <token>` from `POST /v1/clerk/sessions`. Errors are
`{"error": code, "message": text}`; times are ISO 8601 UTC. Writes that kiosks retry take an
`Idempotency-Key` header (16–64 characters `[A-Za-z0-9-]`).
"""


def utc_now() -> datetime:
    return datetime.now(UTC)


def register_kiosk(session: Session, *, kiosk_id: str, fingerprint: str, now: datetime) -> Kiosk:
    """Insert or update one kiosk's certificate fingerprint (used by settings, the CLI and tests).

    A kiosk an operator disabled stays disabled: neither a server restart with the kiosk still listed in
    ``[kiosks]`` nor a new certificate (``add-kiosk``) brings it back; ``kiosk server kiosk-enable`` does."""
    kiosk = session.get(Kiosk, kiosk_id)
    if kiosk is None:
        other = session.scalar(select(Kiosk).where(Kiosk.cert_sha256 == fingerprint))
        if other is not None and other.kiosk_id != kiosk_id:
            raise ValueError(f"this certificate is already registered for kiosk {other.kiosk_id}")
        # ``other`` is this very kiosk when another process registered it after our first read (read
        # committed: the second statement sees its row) — then there is nothing to insert
        kiosk = other
    if kiosk is None:
        kiosk = Kiosk(kiosk_id=kiosk_id, cert_sha256=fingerprint, enabled=True, registered_at=now)
        session.add(kiosk)
    else:
        kiosk.cert_sha256 = fingerprint
    return kiosk


def _register_listed_kiosks(sessions: sessionmaker[Session], settings: Settings, clock: Clock) -> None:
    """Register ``[kiosks]`` at start. Several processes start at once (``serve --workers N``, several
    hosts): when another one inserted the same kiosk between our read and our insert, the second pass finds
    the row and updates it instead."""
    for attempt in (1, 2):
        try:
            with sessions() as session, session.begin():
                for kiosk_id, fingerprint in settings.kiosks.items():
                    register_kiosk(session, kiosk_id=kiosk_id, fingerprint=fingerprint, now=clock())
            return
        except IntegrityError:
            if attempt == 2:
                raise


def build_context(settings: Settings, clock: Clock) -> ServerContext:
    keys = ServerKeys.from_secret(load_or_create_secret(settings.secret_file))
    engine = make_engine(settings.database_url)
    try:
        if settings.migrate_on_start:
            upgrade_to_head(engine)
        else:
            require_head(engine)
    except BaseException:
        engine.dispose()
        raise
    sessions = make_session_factory(engine)
    if settings.kiosks:
        _register_listed_kiosks(sessions, settings, clock)
    cas = tuple(load_ca_file(settings.kiosk_ca_file)) if settings.kiosk_ca_file is not None else ()
    lookups = LookupLimiter(
        burst=settings.status_lookup_burst, refill_seconds=settings.status_lookup_refill.total_seconds()
    )
    nonces = LookupLimiter(
        burst=settings.renewal_nonce_burst, refill_seconds=settings.renewal_nonce_refill.total_seconds()
    )
    reads = make_read_session_factory(engine)
    photos = photo_store(settings)
    checks = PhotoCheckJob(
        sessions=sessions, reads=reads, store=photos, keys=keys, clock=clock, face_checks=settings.photo_face_checks
    )
    return ServerContext(
        settings=settings,
        engine=engine,
        sessions=sessions,
        keys=keys,
        clock=clock,
        kiosk_cas=cas,
        lookups=lookups,
        jpki_auth_cas=load_auth_cas(settings.jpki_auth_ca_files),
        nonces=nonces,
        reads=reads,
        photos=photos,
        photo_checks=checks,
    )


def _openapi_with_mtls(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema plus the OpenAPI 3.1 ``mutualTLS`` scheme required on every ``/v1`` operation."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["kioskCertificate"] = {
        "type": "mutualTLS",
        "description": "A client certificate issued by the kiosk CA whose SHA-256 fingerprint is registered.",
    }
    for path, operations in schema.get("paths", {}).items():
        if not path.startswith("/v1/"):
            continue
        for operation in operations.values():
            requirements = operation.get("security") or [{}]
            operation["security"] = [{"kioskCertificate": [], **req} for req in requirements]
    app.openapi_schema = schema
    return schema


def create_app(settings: Settings, *, clock: Clock | None = None, photo_checks: bool = True) -> FastAPI:
    """Build the ASGI app. Nothing touches disk or database until the lifespan starts.

    ``photo_checks``: run the background photo check in a thread of this process (tests, the demo, the
    benchmark's in-process server); ``serve`` passes False and runs it in a process of its own instead."""
    now = clock or utc_now

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = build_context(settings, now)
        app.state.context = context
        if photo_checks:
            context.photo_checks.start()
        try:
            yield
        finally:
            app.state.context = None
            context.photo_checks.stop()
            context.engine.dispose()

    app = FastAPI(
        title=TITLE,
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.context = None
    install_error_handlers(app)
    for router in all_routers():
        app.include_router(router)
    app.include_router(metrics_router)  # GET /metrics (server/metrics.py), not part of the kiosk contract
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(PathGuardMiddleware)  # inside the request log, so refused paths are logged too
    app.add_middleware(RequestLogMiddleware)
    app.state.metrics = RequestMetrics()
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)  # outside the log: sees its 413/500 too
    app.add_middleware(RequestContextMiddleware)  # outermost: every log line of a request knows its id
    app.openapi = lambda: _openapi_with_mtls(app)  # type: ignore[method-assign]
    return app
