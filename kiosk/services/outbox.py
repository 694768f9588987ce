"""The never-lose-an-application pipeline: a durable, encrypted outbox in SQLite and its flusher thread.

Why each piece is there:

* ``enqueue`` commits (WAL, ``synchronous=FULL``: the commit is on disk) **before** it returns, so the
  receipt a resident is handed is backed by a record that survives a power cut.
* Each item gets a random **idempotency key at enqueue**, stored with it and sent on every attempt. Any
  attempt whose answer was lost — timeout, dropped connection, a ``kill -9`` between the server's commit
  and ours — is re-sent with the same key, and the server answers with the original receipt instead of
  storing a second application.
* A claim is a **lease** (``lease_until``) committed before the request goes out: another thread or
  process skips the item while it is in flight, and if the sender dies, the lease runs out and the item
  is sent again (same key). ``attempts`` is counted at claim time, so even a payload that crashes the
  process backs off.
* Failures are sorted once, here: network, timeout, TLS, 5xx, a 401/403 about the kiosk's certificate →
  wait and retry with exponential backoff and full jitter; other 4xx → ``dead`` (kept for staff, never
  retried automatically); 409 "already submitted" → the application is on the server, so it counts as
  delivered. A handover carries a clerk's single-use grant (not the clerk's 30-minute token, which would
  have died while the item waited); a refused grant is ``dead`` with its reason (``grant_expired``,
  ``grant_used``, ``grant_refused``; ``override_*`` for a supervisor's override), because no retry can
  revive it. A handover queued by an older kiosk, before handovers reported their checks, PINs and
  collected documents, is ``dead`` as ``handover_details_missing`` and never sent. A renewal carries the
  card's signature over a single-use nonce: any refusal (``signature_invalid``, ``nonce_expired``,
  ``certificate_revoked``…) is ``dead`` with its code — a signed renewal cannot change — while 503
  ``revocation_not_checked`` (the city has no current CRL yet) waits like any server trouble.
* Payloads are sealed with AES-GCM (``at_rest``) bound to the item id and kind; delivered items keep
  only a non-personal record (local number, kind, receipt id, delivered_at). ``secure_delete`` zeroes
  freed pages. ``last_error`` holds a short code, never text from a payload.
* One row that no longer opens or decodes (tampered, a bad restore, an older version's bytes, a NULL) is
  moved to ``dead`` with its reason (``payload_unreadable``, ``payload_undecodable``, ``payload_missing``)
  at claim time, and the pass goes on with the next item: one bad row never blocks the queue.
* **A full disk does not stop delivery.** The sealed payload lives in its own table (``payloads``), so a
  claim, a retry or a "delivered" mark rewrites one small ``items`` row, not the photo (measured with the
  payload inline: a claim of a 1.3 MB item wrote 2.7 MB to the WAL). What delivery still needs — WAL
  frames for that row and, with ``secure_delete``, for zeroing the payload's pages — comes from a
  **reserve file** beside the database (``<outbox>-reserve``, about the largest application plus the WAL's
  checkpoint window): when a delivery-side write finds the disk full, the reserve is deleted and the write
  retried once. Enqueueing never touches the reserve. The flusher re-creates it when space is back.
* ``capacity()`` / ``can_accept(size)`` tell the flow **before** a resident starts whether an application
  (default: the largest possible) can be stored: the file system must hold a margin plus its WAL copy, and
  the file system plus the database's free pages a margin plus its WAL and database copies; the reserve
  must be in place. Read-only and cheap: the UI thread may ask.
* The flusher is a non-daemon thread (``stop()``/``join()``): the interpreter never kills it halfway
  through a commit, and the UI thread never waits for it — the UI only calls ``enqueue``/``status``,
  which take short SQLite transactions and never a network call.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import random
import secrets
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from contract.payloads import (
    CONTACT_NAME_MAX,
    EMAIL_MAX,
    HANDOVER_DETAIL_FIELDS,
    PHOTO_BASE64_MAX,
    PayloadInvalid,
    validate_application,
    validate_handover_item,
)
from contract.renewal import MAX_CERTIFICATE_BASE64, MAX_SIGNATURE_BASE64, validate_renewal_request
from kiosk.core.ports import StorageFull
from kiosk.services.at_rest import PayloadCipher, PayloadUnreadable, load_key
from kiosk.services.errors import (
    CentralError,
    Conflict,
    GrantRefused,
    Rejected,
    RenewalRefused,
    is_kiosk_level,
)
from kiosk.services.sqlite_tx import SerialisedSqlite

log = logging.getLogger(__name__)

KINDS = ("application", "handover", "renewal")
QUEUED, DELIVERED, DEAD = "queued", "delivered", "dead"
# Server codes of a 409 that mean "the server already has this application" (it arrived, under another
# key — e.g. a retry from a restored backup): delivered, not dead.
ALREADY_SUBMITTED = frozenset({"already_submitted", "application_already_submitted", "duplicate_application"})
_SCHEMA_VERSION = "2"  # 2: payloads in their own table (1: in items.payload, still read)
_KEY_CHECK = b"outbox key check"
# The largest sealed item: the largest photo in base64, contact fields at their limits with every
# character JSON-escaped (\uXXXX), the other fields, and the AES-GCM version byte, nonce and tag — plus, for
# a renewal, the auth certificate and the signature at their limits.
MAX_APPLICATION_BYTES = (
    PHOTO_BASE64_MAX + 6 * (CONTACT_NAME_MAX + EMAIL_MAX + 20) + 1024 + MAX_CERTIFICATE_BASE64 + MAX_SIGNATURE_BASE64
)
# What stays free for everything else on the disk (logs, the OS) when the kiosk decides to take one more.
DEFAULT_MARGIN_BYTES = 16 * 1024 * 1024
# The WAL grows by up to SQLite's checkpoint window (1000 pages of 4 KiB) before it is reused.
_WAL_WINDOW_BYTES = 4 * 1024 * 1024 + 256 * 1024
# SQLite reports ENOSPC as SQLITE_FULL, except when the WAL index (-shm) cannot grow.
_FULL_DISK_ERRORS = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR_SHMSIZE})
T = TypeVar("T")

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS items (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- the short local receipt number
    id              TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload         BLOB,                               -- schema 1 only (now in payloads); NULL once delivered
    created_at      REAL NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    lease_until     REAL,                               -- in flight until then (crash: sent again)
    last_error      TEXT,                               -- a short code, never personal data
    state           TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'delivered', 'dead')),
    receipt_id      TEXT,
    delivered_at    REAL,
    CHECK (state != 'delivered' OR payload IS NULL)
)""",
    "CREATE INDEX IF NOT EXISTS items_due ON items (state, next_attempt_at)",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB)",
    # The sealed payload apart from the bookkeeping: leases and marks never rewrite it. Deleted on delivery.
    "CREATE TABLE IF NOT EXISTS payloads (item_seq INTEGER PRIMARY KEY, blob BLOB NOT NULL)",
)


class OutboxError(Exception):
    """The outbox cannot be opened or used; ``str()`` says what to do."""


class OutboxFull(OutboxError, StorageFull):
    """The disk (or the database's size limit) is full: nothing new can be stored until space is freed."""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: the n-th wait is uniform in [0, min(maximum, base·2ⁿ⁻¹)).

    Full jitter spreads the retries of many kiosks that lost the same server at the same moment.
    """

    base: float = 2.0
    maximum: float = 300.0

    def __post_init__(self) -> None:
        if not 0 < self.base <= self.maximum:
            raise ValueError("backoff needs 0 < base <= maximum")

    def cap(self, attempts: int) -> float:
        return min(self.maximum, self.base * 2.0 ** (min(max(attempts, 1), 64) - 1))

    def delay(self, attempts: int, rng: Callable[[], float]) -> float:
        return rng() * self.cap(attempts)


@dataclass(frozen=True)
class Receipt:
    """What the resident is given at once: the application is stored and queued."""

    item_id: str
    local_number: str
    kind: str
    created_at: float
    state: str = QUEUED


@dataclass(frozen=True)
class OutboxItem:
    """A claimed item, decrypted for delivery. Lives only as long as the delivery attempt."""

    item_id: str
    local_number: str
    kind: str
    idempotency_key: str
    payload: Mapping[str, Any]
    attempts: int
    created_at: float

    def __repr__(self) -> str:  # never print the payload
        return f"OutboxItem({self.local_number}, {self.kind}, attempt {self.attempts})"


@dataclass(frozen=True)
class Delivered:
    """The server's acknowledgement: ``receipt_id`` (if any) and a non-personal note."""

    receipt_id: str | None
    note: str | None = None


@dataclass(frozen=True)
class DeadItem:
    item_id: str
    local_number: str
    kind: str
    created_at: float
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class OutboxStatus:
    depth: int
    oldest_age_seconds: float | None
    dead: tuple[DeadItem, ...]
    delivered: int
    last_error: str | None
    last_error_at: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Backlog:
    """Queued items, the oldest one's age in seconds (None when none is queued) and dead items."""

    depth: int
    oldest_age_seconds: float | None
    dead: int


@dataclass(frozen=True)
class Capacity:
    """Whether one more application fits, asked before a resident starts (``Outbox.capacity``).

    A new application is written twice: into the WAL (new file-system space, unless the WAL file has room
    left from before — not counted, to stay on the safe side), then into the database, where free pages left
    by delivered items are reused. So it fits when ``free_bytes`` (the file system) covers the margin plus
    one copy, and ``free_bytes + reusable_bytes`` (plus the database's free pages) covers the margin plus
    two — and the reserve that keeps delivery going on a full disk is in place (or there is room for it).
    """

    free_bytes: int
    reusable_bytes: int
    item_bytes: int
    margin_bytes: int
    reserve_bytes: int
    reserve_ready: bool

    @property
    def needed_bytes(self) -> int:
        return self.margin_bytes + 2 * self.item_bytes

    @property
    def accepting(self) -> bool:
        return (
            self.reserve_ready
            and self.free_bytes >= self.margin_bytes + self.item_bytes
            and self.free_bytes + self.reusable_bytes >= self.needed_bytes
        )

    @property
    def reason(self) -> str | None:
        """None when accepting; else ``disk_full`` or ``reserve_in_use`` (the disk filled up while delivering)."""
        if self.accepting:
            return None
        return "reserve_in_use" if not self.reserve_ready else "disk_full"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "needed_bytes": self.needed_bytes, "accepting": self.accepting,
                "reason": self.reason}


@dataclass(frozen=True)
class FlushEvent:
    """What happened to one item, for the UI (through ``post``) or a CLI report."""

    item_id: str
    local_number: str
    kind: str
    outcome: str  # "delivered" | "retry" | "dead"
    error: str | None = None
    receipt_id: str | None = None
    detail: str | None = None  # a human sentence for retryable trouble (never payload or server text)


@dataclass
class DrainReport:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    blocked_by: str | None = None  # the error code that stopped the pass (server-level trouble)
    blocked_detail: str | None = None


Deliver = Callable[[OutboxItem], Delivered]
Listener = Callable[[FlushEvent], None]


class Outbox(SerialisedSqlite):
    """Durable queue of personal payloads waiting for the central server. Safe across threads/processes."""

    def __init__(
        self,
        path: str | Path,
        key: bytes,
        *,
        backoff: Backoff | None = None,
        lease_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
        rng: Callable[[], float] | None = None,
        busy_timeout: float = 10.0,
        largest_item_bytes: int = MAX_APPLICATION_BYTES,
        margin_bytes: int = DEFAULT_MARGIN_BYTES,
        reserve_bytes: int | None = None,
    ) -> None:
        """``reserve_bytes`` defaults to the largest item plus the WAL's checkpoint window; 0 keeps none."""
        if largest_item_bytes < 1 or margin_bytes < 0 or (reserve_bytes is not None and reserve_bytes < 0):
            raise ValueError("outbox sizes must not be negative (and the largest item at least 1 byte)")
        self.path = Path(path)
        self.largest_item_bytes = largest_item_bytes
        self.margin_bytes = margin_bytes
        size = largest_item_bytes + _WAL_WINDOW_BYTES if reserve_bytes is None else reserve_bytes
        self._reserve = _Reserve(self.path.with_name(self.path.name + "-reserve"), size)
        self.backoff = backoff or Backoff()
        self.lease_seconds = lease_seconds
        self.clock = clock  # wall clock: next_attempt_at must mean the same after a reboot
        self._rng = rng or random.SystemRandom().random
        self._cipher = PayloadCipher(key)
        self._lock = threading.RLock()
        self.wake = threading.Event()  # set by enqueue/flush_now; the flusher waits on it
        self._conn = _connect(self.path, busy_timeout)
        try:
            self._prepare()
        except BaseException:
            self._conn.close()
            raise
        self.keep_reserve()

    # --- lifecycle --------------------------------------------------------------------------------------

    def _prepare(self) -> None:
        # executescript() would commit on its own, so the schema goes in statement by statement.
        def prepare(db: sqlite3.Connection) -> Any:
            for statement in _SCHEMA:
                db.execute(statement)
            found = db.execute("SELECT value FROM meta WHERE name = 'key_check'").fetchone()
            if found is None:
                db.execute("INSERT INTO meta VALUES ('key_check', ?)",
                           (self._cipher.seal("meta", "key_check", _KEY_CHECK),))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (_SCHEMA_VERSION,))
            return found

        row = self._transaction(prepare, use_reserve=True)
        if row is None:
            return
        try:
            self._cipher.open("meta", "key_check", row[0])
        except PayloadUnreadable as exc:
            raise OutboxError(
                f"{self.path}: this outbox was written with a different key; queued applications would be "
                "unreadable — restore the original key (outbox.key_file / keyring) instead of a new one"
            ) from exc

    def _transaction(self, body: Callable[[sqlite3.Connection], T], *, use_reserve: bool = False) -> T:
        """``body`` in one write transaction. With ``use_reserve`` (delivery-side writes), a full disk
        releases the reserve file and the transaction is tried once more: delivering, and recording that
        it was delivered, must not wait for someone to free disk space."""
        try:
            with self._write() as db:
                return body(db)
        except OutboxFull:
            if not use_reserve:
                raise
            with self._lock:
                released = self._reserve.release()
            if not released:
                raise
            log.warning("outbox: the disk is full; the reserve was released so that delivery goes on "
                        "(no new applications until space is freed)")
            with self._write() as db:
                return body(db)

    def _failure(self, exc: sqlite3.Error) -> Exception:
        """SQLite failures (disk full, locked too long, I/O error) as one error type with the file named."""
        if getattr(exc, "sqlite_errorcode", None) in _FULL_DISK_ERRORS:
            return OutboxFull(f"{self.path}: the outbox cannot write ({exc}); the disk is full — free space on it")
        return OutboxError(f"{self.path}: the outbox database failed ({exc}); check disk space and permissions")

    # --- the resident's side ------------------------------------------------------------------------------

    def enqueue(self, kind: str, payload: Mapping[str, Any]) -> Receipt:
        """Store ``payload`` encrypted and durably; return the receipt once it is on disk.

        An application is validated with ``contract.payloads.validate_application`` first, a handover
        (pickup id, serial, time and the clerk's grant) with ``validate_handover_item``, a renewal (nonce,
        auth certificate, signature, payload) with ``contract.renewal.validate_renewal_request``: a
        malformed one raises ``PayloadInvalid`` (a ValueError naming the field) and nothing is stored.
        """
        if kind not in KINDS:
            raise ValueError(f"unknown outbox kind {kind!r}; known: {', '.join(KINDS)}")
        if not isinstance(payload, Mapping):
            raise TypeError("an outbox payload is a JSON object (a mapping)")
        item_id = uuid.uuid4().hex
        blob = self._cipher.seal_json(item_id, kind, dict(payload))  # TypeError if not JSON-able
        if kind == "application":
            # The server's own rules (contract.payloads): a body it would refuse is refused here, before
            # anything is written, instead of becoming a dead item after the resident has left.
            validate_application(payload)
        elif kind == "handover":
            validate_handover_item(payload)
        elif kind == "renewal":
            validate_renewal_request(payload)
        now = self.clock()

        def insert(db: sqlite3.Connection) -> int:
            cursor = db.execute(
                "INSERT INTO items (id, kind, idempotency_key, payload, created_at, next_attempt_at)"
                " VALUES (?, ?, ?, NULL, ?, ?)",
                (item_id, kind, secrets.token_hex(16), now, now),
            )
            seq = cursor.lastrowid or 0
            db.execute("INSERT INTO payloads (item_seq, blob) VALUES (?, ?)", (seq, blob))
            return seq

        seq = self._transaction(insert)  # never the reserve: that is for delivering what is queued
        self.wake.set()
        return Receipt(item_id=item_id, local_number=local_number(seq), kind=kind, created_at=now)

    # --- the flusher's side -----------------------------------------------------------------------------

    def due_ids(self) -> list[str]:
        """Items that may be sent now, oldest first (not in backoff, not leased by anyone)."""
        now = self.clock()
        with self._read() as db:
            rows = db.execute(
                "SELECT id FROM items WHERE state = 'queued' AND next_attempt_at <= ?"
                " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY seq",
                (now, now),
            ).fetchall()
        return [r[0] for r in rows]

    def claim(self, item_id: str) -> OutboxItem | None:
        """Lease one due item for delivery (None if it is no longer due: someone else took it — or if its
        payload does not open or decode, in which case it is now ``dead`` with the reason)."""
        claimed = self._claim(item_id)
        return claimed if isinstance(claimed, OutboxItem) else None

    def _claim(self, item_id: str) -> OutboxItem | FlushEvent | None:
        """``claim``, telling "not due" (None) from "dead at claim" (the event saying why)."""
        now = self.clock()

        def lease(db: sqlite3.Connection) -> tuple[Any, ...] | None:
            found = db.execute(
                "SELECT i.seq, i.kind, i.idempotency_key, COALESCE(p.blob, i.payload), i.attempts, i.created_at"
                " FROM items i LEFT JOIN payloads p ON p.item_seq = i.seq"
                " WHERE i.id = ? AND i.state = 'queued' AND i.next_attempt_at <= ?"
                " AND (i.lease_until IS NULL OR i.lease_until <= ?)",
                (item_id, now, now),
            ).fetchone()
            if found is not None:
                db.execute("UPDATE items SET attempts = attempts + 1, lease_until = ? WHERE id = ?",
                           (now + self.lease_seconds, item_id))
            return found

        row = self._transaction(lease, use_reserve=True)
        if row is None:
            return None
        seq, kind, key, blob, attempts, created_at = row
        payload = self._open_payload(item_id, kind, blob)
        if isinstance(payload, str):
            log.error("outbox item %s (%s): %s; moved to the dead items", local_number(seq), kind, payload)
            self.mark_dead(item_id, payload)
            return FlushEvent(item_id, local_number(seq), kind, DEAD, payload)
        return OutboxItem(item_id, local_number(seq), kind, key, payload, attempts + 1, created_at)

    def _open_payload(self, item_id: str, kind: str, blob: object) -> Mapping[str, Any] | str:
        """The payload, or the reason it cannot be had. Any failure to open or decode is a reason, never an
        exception: an exception here would end the pass before the items queued behind this one."""
        if blob is None:
            return "payload_missing"
        if not isinstance(blob, bytes):
            return "payload_unreadable"
        try:
            plaintext = self._cipher.open(item_id, kind, blob)
        except (PayloadUnreadable, ValueError):
            return "payload_unreadable"
        try:
            document = json.loads(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return "payload_undecodable"
        return document if isinstance(document, dict) else "payload_undecodable"

    def mark_delivered(self, item_id: str, receipt_id: str | None, note: str | None = None) -> None:
        """Acknowledged: wipe the payload, keep a non-personal delivery record."""
        now = self.clock()

        def mark(db: sqlite3.Connection) -> None:
            changed = db.execute(
                "UPDATE items SET state = 'delivered', payload = NULL, receipt_id = ?, delivered_at = ?,"
                " lease_until = NULL, last_error = ? WHERE id = ? AND state = 'queued'",
                (receipt_id, now, note, item_id),
            ).rowcount
            if changed:
                db.execute("DELETE FROM payloads WHERE item_seq = (SELECT seq FROM items WHERE id = ?)", (item_id,))

        self._transaction(mark, use_reserve=True)

    def mark_retry(self, item_id: str, error: str) -> float:
        """Put the item back with backoff; returns the time of its next attempt."""
        now = self.clock()

        def retry(db: sqlite3.Connection) -> float:
            row = db.execute("SELECT attempts FROM items WHERE id = ?", (item_id,)).fetchone()
            attempts = row[0] if row else 1
            when = now + self.backoff.delay(attempts, self._rng)
            db.execute(
                "UPDATE items SET next_attempt_at = ?, lease_until = NULL, last_error = ?"
                " WHERE id = ? AND state = 'queued'",
                (when, error, item_id),
            )
            self._note_error(db, error, now)
            return when

        return self._transaction(retry, use_reserve=True)

    def mark_dead(self, item_id: str, error: str) -> None:
        """Permanent refusal: kept (encrypted) for staff, never retried automatically."""
        now = self.clock()

        def dead(db: sqlite3.Connection) -> None:
            db.execute("UPDATE items SET state = 'dead', lease_until = NULL, last_error = ?"
                       " WHERE id = ? AND state = 'queued'", (error, item_id))
            self._note_error(db, error, now)

        self._transaction(dead, use_reserve=True)

    @staticmethod
    def _note_error(db: sqlite3.Connection, error: str, now: float) -> None:
        db.execute("INSERT OR REPLACE INTO meta VALUES ('last_error', ?)", (error,))
        db.execute("INSERT OR REPLACE INTO meta VALUES ('last_error_at', ?)", (repr(now),))

    def retry_delay(self, failures: int) -> float:
        """A backoff draw for the n-th consecutive failure (used by the flusher's pause)."""
        return self.backoff.delay(failures, self._rng)

    def deliver(self, item: OutboxItem, deliver: Deliver) -> FlushEvent:
        """Send one claimed item and record the outcome. The single place failures are sorted."""
        def event(outcome: str, error: str | None = None, receipt: str | None = None,
                  detail: str | None = None) -> FlushEvent:
            # Local number, kind, outcome and code only: never payload or server text.
            log.info("outbox item %s (%s, attempt %d): %s%s", item.local_number, item.kind, item.attempts,
                     outcome, f" ({error})" if error else "")
            return FlushEvent(item.item_id, item.local_number, item.kind, outcome, error, receipt, detail)

        try:
            result = deliver(item)
        except GrantRefused as exc:
            # The clerk's authorisation is gone (expired, used, unknown): staff must see it, not a retry loop.
            self.mark_dead(item.item_id, exc.code)
            return event(DEAD, exc.code)
        except RenewalRefused as exc:
            # A signed renewal is fixed: a refused nonce, certificate or signature stays refused.
            self.mark_dead(item.item_id, exc.code)
            return event(DEAD, exc.code)
        except Conflict as exc:
            if exc.server_code in ALREADY_SUBMITTED:
                # The server has this application (another key: a second try by the resident, another
                # kiosk, a restored backup). Delivered, with the note and the first application's receipt.
                self.mark_delivered(item.item_id, exc.receipt_id, exc.server_code)
                return event(DELIVERED, exc.server_code, exc.receipt_id)
            self.mark_dead(item.item_id, exc.code)
            return event(DEAD, exc.code)
        except Rejected as exc:
            if exc.status in (401, 403):
                if item.kind == "handover" and not is_kiosk_level(exc.status, exc.server_code):
                    reason = GrantRefused(exc.status, exc.server_code, exc.message).code
                    self.mark_dead(item.item_id, reason)
                    return event(DEAD, reason)
                if item.kind == "renewal" and not is_kiosk_level(exc.status, exc.server_code):
                    self.mark_dead(item.item_id, exc.code)
                    return event(DEAD, exc.code)
                # About this kiosk (its certificate, its registration), not the item: wait for the fix.
                self.mark_retry(item.item_id, exc.code)
                return event("retry", exc.code)
            self.mark_dead(item.item_id, exc.code)
            return event(DEAD, exc.code)
        except CentralError as exc:
            self.mark_retry(item.item_id, exc.code)
            return event("retry", exc.code, detail=str(exc))
        except (KeyError, TypeError, ValueError) as exc:
            # The payload does not fit its kind (a bug upstream): retrying cannot help. A handover queued
            # before grants existed (with a clerk token) has no grant, one queued before handovers carried
            # their checks has none (``QueuedByOlderKiosk``): say so, staff must record it by hand.
            missing_grant = isinstance(exc, PayloadInvalid) and exc.field == "grant"
            reason = "grant_missing" if missing_grant else "malformed_payload"
            if isinstance(exc, QueuedByOlderKiosk):
                reason = exc.reason
            log.error("outbox item %s: malformed %s payload (%s)", item.local_number, item.kind,
                      type(exc).__name__)
            self.mark_dead(item.item_id, reason)
            return event(DEAD, reason)
        except Exception as exc:
            # Unknown trouble: keep the item and back off. Only the type is logged (messages may hold data).
            log.error("outbox item %s: unexpected %s while delivering", item.local_number, type(exc).__name__)
            self.mark_retry(item.item_id, "internal_error")
            return event("retry", "internal_error")
        self.mark_delivered(item.item_id, result.receipt_id, result.note)
        return event(DELIVERED, result.note, result.receipt_id)

    def drain(
        self, deliver: Deliver, *, stop: threading.Event | None = None, listener: Listener | None = None
    ) -> DrainReport:
        """One pass over the items due now, oldest first, each tried at most once.

        The pass stops at the first retryable failure: when the server is down, one probe per backoff
        interval is enough, instead of timing out once per queued application.
        """
        report = DrainReport()
        for item_id in self.due_ids():
            if stop is not None and stop.is_set():
                break
            item = self._claim(item_id)
            if item is None:
                continue
            # A row that does not open or decode is dead already: counted, reported, and the pass goes on.
            result = item if isinstance(item, FlushEvent) else self.deliver(item, deliver)
            if listener is not None:
                with contextlib.suppress(Exception):
                    listener(result)
            if result.outcome == DELIVERED:
                report.delivered += 1
            elif result.outcome == DEAD:
                report.dead += 1
            else:
                report.retried += 1
                report.blocked_by = result.error
                report.blocked_detail = result.detail
                break
        return report

    def next_due_in(self) -> float | None:
        """Seconds until the earliest queued item may be tried (0 if now; None if nothing is queued)."""
        with self._read() as db:
            row = db.execute(
                "SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until, 0))) FROM items WHERE state = 'queued'"
            ).fetchone()
        return None if row[0] is None else max(0.0, row[0] - self.clock())

    # --- staff's side ---------------------------------------------------------------------------------

    def status(self) -> OutboxStatus:
        with self._read() as db:
            return _status_of(db, self.clock())

    def backlog(self) -> Backlog:
        """What the heartbeat reports: counts and the oldest queued item's age, one cheap read (no payload, no
        row list: ``status()`` lists every dead item)."""
        with self._read() as db:
            depth, oldest, dead = db.execute(
                "SELECT SUM(state = 'queued'), MIN(CASE WHEN state = 'queued' THEN created_at END),"
                " SUM(state = 'dead') FROM items WHERE state IN ('queued', 'dead')"
            ).fetchone()
        now = self.clock()
        return Backlog(int(depth or 0), None if oldest is None else max(0.0, now - oldest), int(dead or 0))

    def flush_now(self) -> int:
        """Cut every backoff short (leases of items in flight are respected); returns how many items."""
        now = self.clock()
        with self._write() as db:
            count = db.execute("UPDATE items SET next_attempt_at = ? WHERE state = 'queued'"
                               " AND next_attempt_at > ?", (now, now)).rowcount
        self.wake.set()
        return count

    def purge(self, older_than_seconds: float) -> tuple[int, int]:
        """Delete dead items and delivery records older than this; returns (dead, delivered) counts."""
        cutoff = self.clock() - older_than_seconds

        def purge(db: sqlite3.Connection) -> tuple[int, int]:
            db.execute("DELETE FROM payloads WHERE item_seq IN"
                       " (SELECT seq FROM items WHERE state = 'dead' AND created_at < ?)", (cutoff,))
            dead = db.execute("DELETE FROM items WHERE state = 'dead' AND created_at < ?", (cutoff,)).rowcount
            done = db.execute("DELETE FROM items WHERE state = 'delivered' AND delivered_at < ?",
                              (cutoff,)).rowcount
            return dead, done

        counts = self._transaction(purge, use_reserve=True)  # freeing space must work on a full disk
        self.checkpoint()
        return counts

    def checkpoint(self) -> None:
        """Fold the WAL into the database and truncate it (old page images leave the -wal file)."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # --- disk space -----------------------------------------------------------------------------------

    def capacity(self, size: int | None = None) -> Capacity:
        """Whether an application of ``size`` bytes (default: the largest possible) can be stored now.

        For the flow to ask before a resident starts. Reads only (a ``statvfs`` and two pragmas): cheap
        enough for the UI thread, and it never creates or deletes anything.
        """
        wanted = self.largest_item_bytes if size is None else max(0, size)
        with self._lock, self._translated():
            page_size = self._conn.execute("PRAGMA page_size").fetchone()[0]
            free_pages = self._conn.execute("PRAGMA freelist_count").fetchone()[0]
        on_disk = _free_bytes(self.path.parent)
        reserve = self._reserve.size
        # A missing reserve is no obstacle when there is room to put it back beside one more application.
        ready = reserve == 0 or self._reserve.present() or on_disk >= reserve + self.margin_bytes + 2 * wanted
        return Capacity(free_bytes=on_disk, reusable_bytes=page_size * free_pages, item_bytes=wanted,
                        margin_bytes=self.margin_bytes, reserve_bytes=reserve, reserve_ready=ready)

    def can_accept(self, size: int | None = None) -> bool:
        """True when an application of ``size`` bytes (default: the largest) may be started now."""
        return self.capacity(size).accepting

    def keep_reserve(self) -> bool:
        """Put the reserve file back if it is missing and the disk has room for it and the margin; True when
        it is in place. Called at open and by the flusher after each pass (never on the UI thread)."""
        with self._lock:
            return self._reserve.ensure(self.margin_bytes)


def _status_of(db: sqlite3.Connection, now: float) -> OutboxStatus:
    """Counts and ages only: no payload is read, so this needs no key (``peek_status`` relies on it)."""
    depth, oldest = db.execute("SELECT COUNT(*), MIN(created_at) FROM items WHERE state = 'queued'").fetchone()
    delivered = db.execute("SELECT COUNT(*) FROM items WHERE state = 'delivered'").fetchone()[0]
    dead_rows = db.execute(
        "SELECT id, seq, kind, created_at, attempts, last_error FROM items WHERE state = 'dead' ORDER BY seq"
    ).fetchall()
    meta = dict(db.execute("SELECT name, value FROM meta WHERE name IN ('last_error', 'last_error_at')").fetchall())
    dead = tuple(DeadItem(r[0], local_number(r[1]), r[2], r[3], r[4], r[5]) for r in dead_rows)
    return OutboxStatus(
        depth=depth,
        oldest_age_seconds=None if oldest is None else max(0.0, now - oldest),
        dead=dead,
        delivered=delivered,
        last_error=meta.get("last_error"),
        last_error_at=float(meta["last_error_at"]) if "last_error_at" in meta else None,
    )


def peek_status(path: str | Path, *, clock: Callable[[], float] = time.time) -> OutboxStatus | None:
    """The status of the outbox at ``path`` opened read-only (no key, nothing created); None if there is
    no outbox there yet. For ``kiosk doctor``, which must not change what it inspects."""
    location = Path(path)
    if not location.exists():
        return None
    conn = sqlite3.connect(f"{location.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    try:
        return _status_of(conn, clock())
    except sqlite3.DatabaseError as exc:
        raise OutboxError(f"{location}: not a readable outbox ({exc})") from exc
    finally:
        conn.close()


def open_outbox(config: Any) -> Outbox:
    """The outbox a ``KioskConfig`` describes (key loaded or created per ``outbox.key_source``).

    The lease outlives one whole attempt (connect + read timeout and a margin), so a second sender only
    takes over an item whose first sender is really gone. ``outbox.margin_bytes`` and
    ``outbox.reserve_bytes``, when the configuration has them, replace the defaults (16 MiB; the largest
    application plus the WAL's checkpoint window).
    """
    section = config.outbox
    key = load_key(section.key_source, config.resolve(section.key_file))
    lease = config.timeouts.http_connect_seconds + config.timeouts.http_read_seconds + 10.0
    backoff = Backoff(section.backoff_base_seconds, section.backoff_max_seconds)
    sizes: dict[str, int] = {}
    for name in ("margin_bytes", "reserve_bytes"):
        value = getattr(section, name, None)
        if value is not None:
            sizes[name] = int(value)
    return Outbox(config.resolve(section.path), key, backoff=backoff, lease_seconds=lease, **sizes)


def flusher_from_config(config: Any, outbox: Outbox, *, listener: Listener | None = None,
                        audit: Any = None) -> Flusher:
    """The kiosk's network worker as ``kiosk run`` should start it: ``flusher_from_config(...).start()``,
    and ``stop()`` + ``join()`` at shutdown. ``listener`` is called on the flusher thread: pass the UI's
    ``post`` wrapper, never a function that touches widgets. ``audit`` (a ``kiosk.services.audit_log.AuditLog``)
    is shipped with each pass over the same client, and each append wakes the flusher."""
    from kiosk.services.central import CentralClient

    client = CentralClient.from_config(config)
    each_pass = None
    if audit is not None:
        from kiosk.services.audit_log import AuditShipper

        each_pass = AuditShipper(audit, client)
        audit.on_append = outbox.wake.set
    return Flusher(outbox, central_delivery(client), poll_seconds=config.outbox.poll_seconds, listener=listener,
                   cleanup=client.close, each_pass=each_pass)


def local_number(seq: int) -> str:
    """The short number on the resident's slip (unique within this kiosk's outbox)."""
    return f"{seq:06d}"


def _free_bytes(directory: Path) -> int:
    """Bytes an unprivileged writer may still use on the file system holding ``directory``."""
    try:
        info = os.statvfs(directory)
    except OSError:
        return 0
    return int(info.f_bavail) * int(info.f_frsize)


class _Reserve:
    """A file of ``size`` bytes beside the outbox, given back to the file system when a delivery-side write
    finds the disk full, so that queued items can still be delivered and marked delivered.

    Really allocated (``posix_fallocate``, else written with zeros), never sparse: a sparse file would free
    nothing. Created under a temporary name and renamed, so a crash never leaves a short reserve behind.
    """

    def __init__(self, path: Path, size: int) -> None:
        self.path = path
        self.size = size

    def present(self) -> bool:
        try:
            return self.path.stat().st_size >= self.size
        except OSError:
            return False

    def release(self) -> bool:
        """Delete the reserve; True if it was there (so a retry may now find room)."""
        if self.size == 0:
            return False
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            log.error("outbox: the reserve file cannot be deleted (%s)", exc.strerror or type(exc).__name__)
            return False
        return True

    def ensure(self, margin: int) -> bool:
        if self.size == 0 or self.present():
            return True
        if _free_bytes(self.path.parent) < self.size + margin:
            return False
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")  # two processes never share one
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _allocate(fd, self.size)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            log.warning("outbox: the reserve file cannot be made (%s)", exc.strerror or type(exc).__name__)
            return False
        return True


def _allocate(fd: int, size: int) -> None:
    """Blocks that really belong to the file: fallocate where the file system has it, else zeros."""
    try:
        os.posix_fallocate(fd, 0, size)
        return
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            raise
    chunk = b"\0" * (1 << 20)
    written = 0
    while written < size:
        written += os.write(fd, chunk[: min(len(chunk), size - written)])


def _connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Create the file 0600 ourselves: SQLite gives -wal/-shm the database file's permissions.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA journal_size_limit=16777216")
    except sqlite3.Error as exc:
        raise OutboxError(f"{path}: the outbox database cannot be opened ({exc})") from exc
    if str(mode).lower() != "wal":
        conn.close()
        raise OutboxError(f"{path}: the file system does not support SQLite's WAL mode (got {mode!r})")
    return conn


# --- delivery to the central server --------------------------------------------------------------------


class QueuedByOlderKiosk(PayloadInvalid):
    """An item an older kiosk version queued lacks a field the server now requires; ``reason`` is the dead
    item's code (``handover_details_missing``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, "missing (queued by an older kiosk version)")
        self.reason = reason


def central_delivery(client: Any) -> Deliver:
    """The ``Deliver`` function for a ``CentralClient``: one kind, one contract call, the stored key."""

    def deliver(item: OutboxItem) -> Delivered:
        payload = item.payload
        if item.kind == "application":
            result = client.submit_application(payload, item.idempotency_key)
            return Delivered(result.receipt_id, "duplicate" if result.duplicate else None)
        if item.kind == "handover":
            if "grant" not in payload:
                raise PayloadInvalid("grant", "missing (queued with a clerk token, before handover grants)")
            # Queued by a kiosk before handovers reported their checks (issue 10): dead-lettered, never sent.
            # Inventing outcomes ("passed") would record checks nobody made, and the server refuses a handover
            # without them; staff record such a handover by hand (``handover_details_missing``).
            missing = [name for name in HANDOVER_DETAIL_FIELDS if name not in payload]
            if missing:
                raise QueuedByOlderKiosk(missing[0], "handover_details_missing")
            ack = client.record_handover(
                payload["pickup_id"],
                card_auth_cert_serial=payload["card_auth_cert_serial"],
                handed_over_at=payload["handed_over_at"],
                grant=payload["grant"],
                checks=payload["checks"],
                pins_set=payload["pins_set"],
                collected=payload["collected"],
                override=payload.get("override"),
                idempotency_key=item.idempotency_key,
            )
            return Delivered(ack.receipt_id, "duplicate" if ack.duplicate else None)
        if item.kind == "renewal":
            receipt = client.submit_renewal(payload, item.idempotency_key)
            return Delivered(receipt.receipt_id, "duplicate" if receipt.duplicate else None)
        raise ValueError(f"no delivery for kind {item.kind!r}")

    return deliver


# --- the background thread -----------------------------------------------------------------------------


class Flusher:
    """Delivers the outbox in the background: one network worker, never in the caller's thread.

    While the server is in trouble it pauses with its own exponential backoff (consecutive failures,
    full jitter) so that a long outage costs one probe per interval, not one per queued item.
    ``wait`` is injectable so tests can drive time with a fake clock.
    """

    def __init__(
        self,
        outbox: Outbox,
        deliver: Deliver,
        *,
        poll_seconds: float = 30.0,
        listener: Listener | None = None,
        wait: Callable[[float], None] | None = None,
        cleanup: Callable[[], None] | None = None,
        name: str = "outbox-flusher",
        each_pass: Callable[[], object] | None = None,
    ) -> None:
        """``each_pass`` runs on this thread at the start of every pass (the audit log's shipping); what it
        raises is logged, never the end of the thread or of the outbox's delivery."""
        self._outbox = outbox
        self._deliver = deliver
        self._poll = poll_seconds
        self._listener = listener
        self._wait = wait or self._wait_for_wake
        self._stop = threading.Event()
        self._failures = 0
        self._cleanup = cleanup  # e.g. closing the HTTP session, on the flusher's own thread at its end
        self._each_pass = each_pass
        self._thread = threading.Thread(target=self._run, name=name, daemon=False)

    def start(self) -> Flusher:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the thread to end; an HTTP request in flight finishes (bounded by the read timeout)."""
        self._stop.set()
        self._outbox.wake.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True if it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> Flusher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.join()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _wait_for_wake(self, seconds: float) -> None:
        self._outbox.wake.wait(seconds)

    def _run_each_pass(self) -> None:
        if self._each_pass is None:
            return
        try:
            self._each_pass()
        except Exception as exc:  # only the type: a message could hold anything
            log.error("outbox flusher: the per-pass hook failed (%s)", type(exc).__name__)

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self._cleanup is not None:
                self._cleanup()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._outbox.wake.clear()
            pause = self._poll
            self._run_each_pass()
            try:
                report = self._outbox.drain(self._deliver, stop=self._stop, listener=self._listener)
                self._outbox.keep_reserve()
                if report.blocked_by is not None:
                    self._failures += 1
                    pause = self._outbox.retry_delay(self._failures)
                else:
                    if report.delivered or report.dead:
                        self._failures = 0
                    due = self._outbox.next_due_in()
                    if due is not None:
                        pause = min(pause, due)
                    if report.delivered or report.dead:
                        continue  # new items may have come in meanwhile: look again at once
            except Exception as exc:  # e.g. the disk is full; keep the thread alive and try later
                self._failures += 1
                pause = self._outbox.backoff.cap(self._failures)
                log.error("outbox flusher: %s; next try in %.0f s", type(exc).__name__, pause)
            if not self._stop.is_set():
                self._wait(pause)
