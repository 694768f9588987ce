"""The reference central server (``server/``) on loopback HTTPS, for the same outbox scenarios.

Why next to the fake one: the fake injects faults a correct server never makes; this one proves the kiosk
and the real contract agree (mTLS with a registered kiosk certificate, real JPEG checks, idempotency in
its database). One fault is added from outside without touching the server's logic: an ASGI wrapper that
can hold a response *after* the route has committed — the exact moment a ``kill -9`` of the kiosk hurts.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sqlite3
import threading
from pathlib import Path
from typing import Any

from tests.support.clock import MovableClock

KIOSK_ID = "test-kiosk-01"
SYNTHETIC_BASIC4 = {"name": "試験　太郎", "address": "試験県試験市1-2-3", "birth_date": "19800101", "sex": "1"}


def unavailable_reason() -> str | None:
    """Why the reference server cannot be used here (None when it can)."""
    try:
        import server.app
        import server.pki_demo
        import server.serve  # noqa: F401
    except ImportError as exc:
        return f"the reference server is not importable yet ({exc})"
    return None


class HoldAfterCommit:
    """ASGI wrapper: when armed, the n-th answer to POST /v1/applications waits until released."""

    def __init__(self, app: Any, switch: HoldSwitch) -> None:
        self.app = app
        self.switch = switch

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("path") != "/v1/applications":
            await self.app(scope, receive, send)
            return

        async def held_send(message: Any) -> None:
            if message.get("type") == "http.response.start" and self.switch.should_hold():
                while not self.switch.released.is_set():
                    await asyncio.sleep(0.01)
            await send(message)

        await self.app(scope, receive, held_send)


class HoldSwitch:
    def __init__(self) -> None:
        self.hold_at: int | None = None
        self.answers = 0
        self.released = threading.Event()
        self.holding = threading.Event()
        self._lock = threading.Lock()

    def should_hold(self) -> bool:
        with self._lock:
            self.answers += 1
            hold = self.hold_at is not None and self.answers == self.hold_at
        if hold:
            self.holding.set()
        return hold


class RealCentral:
    """The reference server with a demo PKI from ``server.pki_demo`` and a SQLite database in ``folder``.

    Its clock (``clock``) can be moved; ``add_clerk`` and ``seed_pickup`` do the operator's part directly
    in its database, so a test can play the counter: sign in, authorise, hand over (synthetic data only).
    """

    def __init__(self, folder: Path, **settings: Any) -> None:
        """``settings``: ``server.settings.Settings`` fields to change (e.g. ``kiosk_sign_in_failures``)."""
        from server.pki_demo import create_demo_pki
        from server.serve import free_port
        from server.settings import Settings

        self.folder = folder
        pki = create_demo_pki(folder / "pki", [KIOSK_ID])
        kiosk = pki.kiosks[KIOSK_ID]
        self.ca_cert, self.client_cert, self.client_key = pki.ca_cert, kiosk.cert, kiosk.key
        self.database = folder / "server.sqlite3"
        self.settings = Settings(
            database_url=f"sqlite:///{self.database}",
            secret_file=folder / "server.secret",
            tls_certfile=pki.server_cert,
            tls_keyfile=pki.server_key,
            kiosk_ca_file=pki.ca_cert,
            kiosks={KIOSK_ID: kiosk.fingerprint},
        ).replace(**settings)
        self.port = free_port()
        self.switch = HoldSwitch()
        self.clock = MovableClock()
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> RealCentral:
        from server.serve import BackgroundServer

        server = BackgroundServer(self.settings, port=self.port, clock=self.clock)
        server.app.add_middleware(HoldAfterCommit, switch=self.switch)
        self._server = server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self.switch.released.set()
            self._server.stop()
            self._server = None

    def client_options(self) -> dict[str, Any]:
        return {"ca_bundle": self.ca_cert, "client_cert": self.client_cert, "client_key": self.client_key}

    def _context(self) -> Any:
        if self._server is None or self._server.app.state.context is None:
            raise RuntimeError("the reference server is not running")
        return self._server.app.state.context

    def add_clerk(self, role: str = "clerk", *, office: str | None = None) -> tuple[str, str]:
        """A new clerk account (synthetic; ``role`` clerk, supervisor or operator); returns (user name,
        password)."""
        from server import security

        username, password = f"{role}-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
        with self._context().sessions() as session:
            clerk = security.add_clerk(session, username=username, password=password, role=role, now=self.clock())
            clerk.office = office
            session.commit()
        return username, password

    def set_kiosk_office(self, office: str | None) -> None:
        """Put this kiosk in ``office`` (as ``kiosk server add-kiosk --office`` does)."""
        from server.models import Kiosk

        with self._context().sessions() as session:
            kiosk = session.get(Kiosk, KIOSK_ID)
            assert kiosk is not None
            kiosk.office = office
            session.commit()

    def seed_pickup(
        self,
        card_serial: str,
        *,
        notice_number: str | None = None,
        application_id: str | None = None,
        basic4: dict[str, str] | None = None,
        photo: bytes | None = None,
        issuer_key_id: str = "0c" * 20,
    ) -> str:
        """A card waiting at the counter for a synthetic resident; returns its pickup id."""
        import base64

        from server.pickup_admin import create_pickup
        from server.schemas import PickupCreate

        body = PickupCreate.model_validate({
            "application_id": application_id or "9876" + "".join(secrets.choice("0123456789") for _ in range(19)),
            "notice_number": notice_number or "N-" + secrets.token_hex(6).upper(),
            "card": {"auth_cert_serial": card_serial, "issuer_key_id": issuer_key_id},
            "basic4": basic4 or SYNTHETIC_BASIC4,
            "photo_jpeg_base64": None if photo is None else base64.b64encode(photo).decode("ascii"),
        })
        return create_pickup(self._context(), body).pickup_id

    def overrides(self) -> list[tuple[Any, ...]]:
        """(pickup_id, failed_checks, used) of every supervisor override, in the order issued."""
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            return list(db.execute(
                "SELECT p.pickup_id, o.failed_checks, o.used_at IS NOT NULL"
                " FROM check_overrides o JOIN pickups p ON p.id = o.pickup_row_id ORDER BY o.id"
            ))

    def staff_calls(self) -> list[tuple[Any, ...]]:
        """Every column of every staff call, in the order received."""
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            return list(db.execute("SELECT * FROM staff_calls ORDER BY id"))

    def staff_call_status(self, call_id: str) -> str | None:
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            row = db.execute("SELECT status FROM staff_calls WHERE call_id = ?", (call_id,)).fetchone()
        return None if row is None else str(row[0])

    def handover(self, pickup_id: str) -> dict[str, Any]:
        """What the server recorded for a pickup: status, when, by which clerk at which kiosk, and the
        counter's details (checks, PINs set, documents collected) as stored (None before a handover)."""
        import json

        with contextlib.closing(sqlite3.connect(self.database)) as db:
            row = db.execute(
                "SELECT p.status, p.handed_over_at, c.username, p.handed_over_kiosk_id, p.handover_details"
                " FROM pickups p LEFT JOIN clerks c ON c.id = p.handed_over_by WHERE p.pickup_id = ?",
                (pickup_id,),
            ).fetchone()
        status, at, clerk, kiosk, details = row
        return {"status": status, "handed_over_at": at, "clerk": clerk, "kiosk_id": kiosk,
                "details": None if details is None else json.loads(details)}

    def clerk_lock(self, username: str) -> tuple[int, bool]:
        """(failed attempts counted, locked) of a clerk account."""
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            attempts, until = db.execute("SELECT failed_attempts, locked_until FROM clerks WHERE username = ?",
                                         (username,)).fetchone()
        return int(attempts), until is not None

    def clerk_sessions_ended(self) -> bool:
        """Every clerk session issued so far has run out by the server's clock."""
        from datetime import datetime

        with contextlib.closing(sqlite3.connect(self.database)) as db:
            ends = [row[0] for row in db.execute("SELECT expires_at FROM clerk_sessions")]
        now = self.clock()
        return bool(ends) and all(datetime.fromisoformat(str(end)).replace(tzinfo=now.tzinfo) <= now for end in ends)

    def audit_trail(self) -> list[tuple[Any, ...]]:
        """(actor, action, outcome, subject, details) of every audit entry received, in chain order."""
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            return list(db.execute("SELECT actor, action, outcome, subject, details FROM audit_entries"
                                   " ORDER BY kiosk_id, seq"))

    def pickup_status(self, pickup_id: str) -> str:
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            return str(db.execute("SELECT status FROM pickups WHERE pickup_id = ?", (pickup_id,)).fetchone()[0])

    def count(self, table: str) -> int:
        if table not in ("applications", "idempotency_records", "staff_calls", "handover_grants"):
            raise ValueError(table)
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])  # noqa: S608 - fixed names

    # --- renewals (additions for tests/services/test_renewal_card_to_server.py) ---------------------------

    def trust_jpki_auth_cas(self, ca_files: list[Path]) -> RealCentral:
        """Configure the JPKI authentication CAs renewals must chain to (before ``start``); the server loads
        them from these files (it never imports the simulator)."""
        if self._server is not None:
            raise RuntimeError("configure the JPKI auth CAs before start()")
        self.settings = self.settings.replace(jpki_auth_ca_files=tuple(ca_files))
        return self

    def import_crl(self, crl: bytes, ca: bytes) -> None:
        """Store a CRL as ``kiosk server import-crl`` does (verified against ``ca``)."""
        from server.revocation import import_crl

        with self._context().sessions() as session:
            import_crl(session, crl, ca, now=self.clock())
            session.commit()

    def renewals(self) -> list[tuple[Any, ...]]:
        """(receipt_id, kiosk_id, certificate_serial, status, nonce used) of every renewal, in order received."""
        with contextlib.closing(sqlite3.connect(self.database)) as db:
            return list(db.execute(
                "SELECT r.receipt_id, r.kiosk_id, r.certificate_serial, r.status, n.used_at IS NOT NULL"
                " FROM renewals r JOIN renewal_nonces n ON n.id = r.nonce_id ORDER BY r.id"
            ))


def _simulator_auth_cas() -> list[Any]:
    from drivers.sim import pki

    return [pki.certificate_authority("auth", generation) for generation in pki.CA_GENERATIONS]


def import_simulator_crls(server: RealCentral) -> None:
    """Current, empty CRLs of the simulator's test auth CAs, imported as `kiosk server import-crl` does."""
    from datetime import UTC, datetime, timedelta

    from drivers.sim import pki

    now = datetime.now(UTC)
    for ca in _simulator_auth_cas():
        server.import_crl(pki.make_crl(ca, [], this_update=now - timedelta(minutes=1),
                                       next_update=now + timedelta(days=1)), ca.der)


def city_trusting_the_simulator(folder: Path, *, crls: bool = True, **settings: Any) -> RealCentral:
    """The reference server (started) trusting the simulator's test JPKI auth CAs, loaded from PEM files as
    a city's server loads J-LIS's; with ``crls``, their current CRLs imported, so revocation is checked.
    ``settings``: as for ``RealCentral``."""
    from cryptography.hazmat.primitives import serialization

    cas = folder / "jpki-auth"
    cas.mkdir(parents=True)
    files = []
    for ca in _simulator_auth_cas():
        path = cas / f"{ca.name}.pem"
        path.write_bytes(ca.certificate.public_bytes(serialization.Encoding.PEM))
        files.append(path)
    server = RealCentral(folder / "server", **settings).trust_jpki_auth_cas(files).start()
    if crls:
        import_simulator_crls(server)
    return server
