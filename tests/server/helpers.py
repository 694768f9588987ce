"""Helpers for the server tier: synthetic photos, a movable clock, log capture, and the live-server handle."""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import requests
from sqlalchemy import select, update

from server import security
from server.app import build_context, create_app
from server.deps import ServerContext
from server.models import Clerk, ClerkSession, Kiosk
from server.pki_demo import DemoPki
from server.serve import BackgroundServer
from server.settings import Settings
from server.tls import with_tls_extension
from tests.contract.images import bomb_jpeg as bomb_jpeg  # re-exported for the server tests
from tests.contract.images import noise_jpeg as noise_jpeg
from tests.contract.images import png_photo as png_photo
from tests.contract.images import tiny_jpeg as tiny_jpeg
from tests.support.clock import MovableClock as MovableClock  # re-exported for the server tests

# --- photos (the generators are tests/contract/images.py) ------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- synthetic identifiers ---------------------------------------------------------------------------------


def application_id() -> str:
    """23 random digits (a synthetic 申請書ID)."""
    return "".join(secrets.choice("0123456789") for _ in range(23))


def idempotency_key() -> str:
    return str(uuid.uuid4())


def notice_number() -> str:
    return "N-" + secrets.token_hex(6).upper()


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


# --- clock and logs ---------------------------------------------------------------------------------------


class LogCapture(logging.Handler):
    """Keeps every formatted record from the server's loggers (the privacy test searches them)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)

    def text(self) -> str:
        return "\n".join(self.lines)


SERVER_LOGGERS = ("server", "uvicorn", "uvicorn.error", "uvicorn.access", "alembic", "sqlalchemy")


# --- in-process calls (no TLS; the client certificate is injected as the ASGI TLS extension) -----------------


@contextmanager
def in_process(settings: Settings, client_pem: str | None) -> Iterator[Callable[..., httpx.Response]]:
    """Call the app without a socket, as if a TLS server had verified ``client_pem`` (or no certificate)."""
    app = create_app(settings)
    context = build_context(settings, lambda: datetime.now(UTC))
    app.state.context = context
    asgi = with_tls_extension(app, {"client_cert_chain": [client_pem] if client_pem else []})

    def call(method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=asgi)
            async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(send())

    try:
        yield call
    finally:
        context.engine.dispose()


# --- live server -------------------------------------------------------------------------------------------


@dataclass
class LiveServer:
    """The running HTTPS server of one database backend, with what tests need around it."""

    backend: str
    db_url: str
    pki: DemoPki
    foreign_client: tuple[Path, Path]
    background: BackgroundServer
    clock: MovableClock
    logs: LogCapture
    secret_file: Path
    _sessions: list[requests.Session] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.background.base_url

    @property
    def context(self) -> ServerContext:
        context = self.background.app.state.context
        assert context is not None
        return context

    def session(self, kiosk: str | None = "kiosk-01", *, cert: tuple[Path, Path] | None = None) -> requests.Session:
        """A requests session presenting ``kiosk``'s certificate; closed when the server stops."""
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override session.verify
        session.verify = str(self.pki.ca_cert)
        if cert is not None:
            session.cert = (str(cert[0]), str(cert[1]))
        elif kiosk is not None:
            credentials = self.pki.kiosks[kiosk]
            session.cert = (str(credentials.cert), str(credentials.key))
        self._sessions.append(session)
        return session

    def url(self, path: str) -> str:
        return self.base_url + path

    def add_clerk(self, role: str = "clerk") -> tuple[str, str]:
        username = f"{role}-{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(16)
        with self.context.sessions() as session:
            security.add_clerk(session, username=username, password=password, role=role, now=self.clock())
            session.commit()
        return username, password

    def token(self, role: str = "clerk", kiosk: str = "kiosk-01") -> str:
        username, password = self.add_clerk(role)
        response = self.session(kiosk).post(
            self.url("/v1/clerk/sessions"), json={"username": username, "password": password}
        )
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    def quick_token(self, username: str, kiosk: str = "kiosk-01") -> str:
        """A token for an existing clerk, written straight to the database (skips two scrypt runs)."""
        token = secrets.token_urlsafe(32)
        with self.context.sessions() as session:
            clerk = session.scalar(select(Clerk).where(Clerk.username == username))
            assert clerk is not None
            session.add(
                ClerkSession(
                    token_sha256=security.token_digest(token),
                    clerk_id=clerk.id,
                    kiosk_id=kiosk,
                    created_at=self.clock(),
                    expires_at=self.clock() + timedelta(hours=1),
                )
            )
            session.commit()
        return token

    def submit(self, body: dict[str, Any], *, key: str | None = None, kiosk: str = "kiosk-01") -> requests.Response:
        return self.session(kiosk).post(
            self.url("/v1/applications"), json=body, headers={"Idempotency-Key": key or idempotency_key()}
        )

    def reset_sign_in_limits(self) -> None:
        """Forget every kiosk's failed sign-ins (tests share one server; each starts with a full budget)."""
        with self.context.sessions() as session:
            session.execute(update(Kiosk).values(sign_in_failures=0, sign_in_window_start=None))
            session.commit()

    def close_sessions(self) -> None:
        for session in self._sessions:
            session.close()
        self._sessions.clear()


def application_body(photo: bytes, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "application_id": application_id(),
        "photo_jpeg_base64": b64(photo),
        "contact": {"name": "試験 花子", "email": "hanako.test@example.invalid", "phone": "+81 3 0000 0000"},
        "submitted_at": now_iso(),
    }
    body.update(overrides)
    return body


def basic4(**overrides: str) -> dict[str, str]:
    values = {"name": "試験　太郎", "address": "東京都千代田区試験町1丁目2−3", "birth_date": "19800101", "sex": "1"}
    values.update(overrides)
    return values
