"""The kiosk's copy of its audit trail: every clerk action, hash-chained in a local SQLite file, shipped to
the central server in order whenever it is reachable.

How to use it (the clerk flow, on any thread but the UI thread — an append is a short fsync'd commit)::

    entry = audit.append("clerk07", "clerk", "pickup.handover", "ok",
                         subject=pickup_id, details={"checks": {"auth_chain": "passed"}, "pins_set": 2})

``actor`` is the clerk's account name (or ``"system"`` with role ``"system"``), ``action`` one of
``contract.audit.ACTIONS``, ``outcome`` one of ``ok``/``refused``/``failed``/``cancelled``, ``subject`` an
opaque reference (a pickup id, a receipt id, ``contract.audit.masked_application_id(...)``, a staff-call id)
and ``details`` a small object of codes and counts. Anything that looks like personal data raises
``AuditInvalid`` (a ValueError) and nothing is written: the trail's rules are ``contract.audit``'s.

Why it looks like this:

* **The chain lives here first.** ``append`` commits locally (WAL, ``synchronous=FULL``: the entry is on
  disk when it returns) and never waits on the network; the flusher thread ships what is new
  (``AuditShipper``, run with each outbox pass), in order, in batches. Offline, entries simply wait.
* **One writer at a time.** A lock in the process and ``BEGIN IMMEDIATE`` across processes: the next seq
  and the previous hash are read and the entry written in one transaction, so two threads never both
  write seq 7.
* **What the server acknowledged is remembered** (``shipped_seq`` and its hash): ``verify`` catches entries
  cut off the end of the chain below that mark, which a chain alone cannot show. When the server says the
  chain it holds ends earlier than that (it was restored from a backup) and its last hash is one of ours,
  the log resends from there; when the server holds something else, shipping stops with
  ``audit_chain_broken`` and staff must look (``kiosk audit verify``): a fork is never pushed through.
* Rows keep their order of writing (``pos``) apart from their ``seq``, so an entry deleted and written
  back shows as *reordered*, not as intact.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from contract.audit import (
    FIELDS,
    GENESIS,
    AuditEntry,
    AuditInvalid,
    ChainBreak,
    ChainSummary,
    canonical_json,
    entry_from_dict,
    next_entry,
    summarise_chain,
)
from kiosk.services.errors import AuditChainBroken, CentralError
from kiosk.services.sqlite_tx import SerialisedSqlite

log = logging.getLogger(__name__)

DEFAULT_BATCH = 100
_COLUMNS = ", ".join(FIELDS)  # the columns of ``entries``, in the order of contract.audit.FIELDS
_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS entries (
    pos       INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order of writing (VACUUM keeps it)
    seq       INTEGER NOT NULL UNIQUE,   -- 1, 2, 3…
    kiosk_id  TEXT NOT NULL,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    subject   TEXT,
    details   TEXT NOT NULL,             -- canonical JSON, exactly as hashed
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
)""",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


class AuditError(Exception):
    """The audit log cannot be opened or written; ``str()`` says what to do."""


class AuditCentral(Protocol):
    """What shipping needs of ``kiosk.services.central.CentralClient``."""

    def append_audit(self, entries: list[AuditEntry]) -> Any: ...


@dataclass(frozen=True)
class ShipReport:
    """One ``ship`` call: entries the server newly ``stored``, ``duplicates`` it had, and why it stopped
    early (``blocked_by``: an error code; None when everything was shipped)."""

    shipped: int = 0
    stored: int = 0
    duplicates: int = 0
    resent_from: int | None = None
    blocked_by: str | None = None
    blocked_detail: str | None = None


@dataclass(frozen=True)
class AuditStatus:
    path: str
    kiosk_id: str | None
    entries: int
    last_seq: int
    shipped_seq: int
    oldest_unshipped_at: str | None

    @property
    def unshipped(self) -> int:
        return self.last_seq - self.shipped_seq

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kiosk_id": self.kiosk_id, "entries": self.entries, "last_seq": self.last_seq,
                "shipped_seq": self.shipped_seq, "unshipped": self.unshipped,
                "oldest_unshipped_at": self.oldest_unshipped_at}


class AuditLog(SerialisedSqlite):
    """This kiosk's audit chain on disk. Thread-safe; ``close()`` when done."""

    def __init__(
        self,
        path: str | Path,
        kiosk_id: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        busy_timeout: float = 10.0,
        on_append: Callable[[], None] | None = None,
    ) -> None:
        """``on_append`` runs after each commit (the composition root passes the flusher's wake-up)."""
        self.path = Path(path)
        self.kiosk_id = kiosk_id
        self.clock = clock
        self.on_append = on_append
        self._lock = threading.RLock()
        self._ship_lock = threading.Lock()
        self._conn = _connect(self.path, busy_timeout)
        try:
            self._prepare()
        except BaseException:
            self._conn.close()
            raise

    def _prepare(self) -> None:
        with self._write() as db:
            for statement in _SCHEMA:
                db.execute(statement)
            row = db.execute("SELECT value FROM meta WHERE name = 'kiosk_id'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('kiosk_id', ?)", (self.kiosk_id,))
            elif row[0] != self.kiosk_id:
                raise AuditError(f"{self.path}: this audit trail is kiosk {row[0]}'s, not {self.kiosk_id}'s; "
                                 "a chain belongs to one kiosk — give this kiosk its own audit.path")

    # --- writing ----------------------------------------------------------------------------------------

    def append(
        self,
        actor: str,
        role: str,
        action: str,
        outcome: str,
        subject: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Write the next entry of the chain and return it once it is on disk. Never touches the network.

        Raises ``AuditInvalid`` (nothing written) when a value breaks the trail's rules — personal data
        above all — and ``AuditError`` when the disk refuses the write.
        """
        with self._write() as db:
            previous = _last(db)
            entry = next_entry(previous, kiosk_id=self.kiosk_id, at=self.clock(), actor=actor, role=role,
                               action=action, outcome=outcome, subject=subject, details=details)
            db.execute(f"INSERT INTO entries ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                       _row(entry))
        log.info("audit: seq %d %s %s", entry.seq, entry.action, entry.outcome)
        if self.on_append is not None:
            with contextlib.suppress(Exception):
                self.on_append()
        return entry

    # --- reading ----------------------------------------------------------------------------------------

    def entries(self, *, after_seq: int = 0, limit: int | None = None) -> list[AuditEntry]:
        """Entries in the order they were written (from ``after_seq`` on). A row that no longer reads as an
        entry raises ``AuditError``: use ``verify`` to find which."""
        items = self._read_rows(after_seq=after_seq, limit=limit)
        bad = next((item for item in items if not isinstance(item, AuditEntry)), None)
        if bad is not None:
            raise AuditError(f"{self.path}: an audit entry is unreadable ({bad}); run `kiosk audit verify`")
        return [item for item in items if isinstance(item, AuditEntry)]

    def last(self) -> AuditEntry | None:
        with self._read() as db:
            return _last(db)

    def unshipped(self, limit: int = DEFAULT_BATCH) -> list[AuditEntry]:
        """The oldest entries the server has not acknowledged yet, in order (at most ``limit``)."""
        return self.entries(after_seq=self.shipped_seq(), limit=limit)

    def shipped_seq(self) -> int:
        with self._read() as db:
            return _shipped(db)[0]

    def mark_shipped(self, upto_seq: int) -> None:
        """The server holds the chain up to ``upto_seq``: remember it (and that entry's hash). Never moves
        the mark back (``_resume_from`` does, on the server's word), never past the last entry."""
        with self._write() as db:
            row = db.execute("SELECT hash FROM entries WHERE seq = ?", (upto_seq,)).fetchone()
            if row is None:
                raise ValueError(f"there is no audit entry seq {upto_seq}")
            if upto_seq > _shipped(db)[0]:
                _set_shipped(db, upto_seq, row[0])

    def status(self) -> AuditStatus:
        with self._read() as db:
            count, last = db.execute("SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM entries").fetchone()
            shipped = _shipped(db)[0]
            oldest = db.execute("SELECT at FROM entries WHERE seq > ? ORDER BY seq LIMIT 1", (shipped,)).fetchone()
        return AuditStatus(str(self.path), self.kiosk_id, count, last, shipped, oldest[0] if oldest else None)

    def verify(self) -> ChainSummary:
        """The whole local chain checked (``contract.audit``), plus the shipped mark: an entry the server
        acknowledged must still be here, with the hash it had."""
        return verify_rows(self._read_rows(), *self._shipped_mark())

    def _shipped_mark(self) -> tuple[int, str | None]:
        with self._read() as db:
            return _shipped(db)

    def _read_rows(self, *, after_seq: int = 0, limit: int | None = None) -> list[AuditEntry | AuditInvalid]:
        query = f"SELECT {_COLUMNS} FROM entries WHERE seq > ? ORDER BY pos"  # noqa: S608 - fixed columns
        with self._read() as db:
            rows = db.execute(query + (" LIMIT ?" if limit is not None else ""),
                              (after_seq, limit) if limit is not None else (after_seq,)).fetchall()
        return [_entry(row) for row in rows]

    # --- shipping ---------------------------------------------------------------------------------------

    def ship(self, central: AuditCentral, *, batch_size: int = DEFAULT_BATCH) -> ShipReport:
        """Send every unshipped entry, oldest first, ``batch_size`` at a time; stop at the first failure.

        Call it on the network worker (it waits on HTTP); appends on other threads go on meanwhile. Two
        calls at once take turns. ``CentralError`` never escapes: it is the report's ``blocked_by``.
        """
        shipped = stored = duplicates = 0
        resent_from: int | None = None
        with self._ship_lock:
            while True:
                try:
                    batch = self.unshipped(batch_size)
                    if not batch:
                        break
                    ack = central.append_audit(batch)
                except (AuditError, AuditInvalid) as exc:  # a row changed on disk: staff must look
                    log.error("audit: an unshipped entry is unreadable; run `kiosk audit verify`")
                    return ShipReport(shipped, stored, duplicates, resent_from, "audit_unreadable", str(exc))
                except AuditChainBroken as exc:
                    if resent_from is None and self._resume_from(exc.expected_seq, exc.expected_prev_hash):
                        resent_from = exc.expected_seq
                        log.warning("audit: the central server holds the chain up to seq %d only; resending",
                                    (exc.expected_seq or 1) - 1)
                        continue
                    log.error("audit: the central server refuses the chain (audit_chain_broken, expects seq %s); "
                              "run `kiosk audit verify`", exc.expected_seq)
                    return ShipReport(shipped, stored, duplicates, resent_from, exc.code, str(exc))
                except CentralError as exc:
                    return ShipReport(shipped, stored, duplicates, resent_from, exc.code, str(exc))
                if ack.last_seq == batch[-1].seq and ack.last_hash != batch[-1].hash:
                    log.error("audit: the central server acknowledged seq %d with another hash", ack.last_seq)
                    return ShipReport(shipped, stored, duplicates, resent_from, "audit_ack_mismatch",
                                      "the central server acknowledged a different entry")
                self.mark_shipped(batch[-1].seq)
                shipped += len(batch)
                stored += ack.stored
                duplicates += ack.duplicates
                if len(batch) < batch_size:
                    break
        return ShipReport(shipped, stored, duplicates, resent_from)

    def _resume_from(self, expected_seq: int | None, expected_prev: str | None) -> bool:
        """Move the shipped mark back to ``expected_seq - 1`` if the server's head is an entry of ours (it
        lost what came after, e.g. restored from a backup). False when our chain disagrees."""
        if expected_seq is None or expected_prev is None:
            return False
        with self._write() as db:
            shipped = _shipped(db)[0]
            if not 1 <= expected_seq <= shipped:
                return False  # nothing to resend: the server wants what we have not shipped, or more
            if expected_seq == 1:
                ours = GENESIS
            else:
                row = db.execute("SELECT hash FROM entries WHERE seq = ?", (expected_seq - 1,)).fetchone()
                ours = row[0] if row else None
            if ours != expected_prev:
                return False
            if expected_seq == 1:
                db.execute("DELETE FROM meta WHERE name IN ('shipped_seq', 'shipped_hash')")
            else:
                _set_shipped(db, expected_seq - 1, ours)
        return True

    # --- plumbing ---------------------------------------------------------------------------------------

    def _failure(self, exc: sqlite3.Error) -> Exception:
        return AuditError(f"{self.path}: the audit log failed ({exc}); check disk space and permissions")


class AuditShipper:
    """The flusher's per-pass hook: ``log.ship(client)`` with a backoff of its own, so that a server that
    is down costs one attempt per interval, not one per outbox pass. Runs on the flusher thread only."""

    def __init__(self, audit: AuditLog, client: AuditCentral, *, base: float = 2.0, maximum: float = 300.0,
                 clock: Callable[[], float] = time.monotonic, rng: Callable[[], float] | None = None) -> None:
        self._audit = audit
        self._client = client
        self._base, self._maximum = base, maximum
        self._clock = clock
        self._rng = rng or random.SystemRandom().random
        self._failures = 0
        self._next_try = 0.0
        self.last_report: ShipReport | None = None

    def __call__(self) -> ShipReport | None:
        """Ship now unless backing off; the report (None when it waited)."""
        if self._clock() < self._next_try:
            return None
        report = self._audit.ship(self._client)
        self.last_report = report
        if report.blocked_by is None:
            self._failures = 0
            self._next_try = 0.0
        else:
            self._failures += 1
            cap = min(self._maximum, self._base * 2.0 ** (min(self._failures, 32) - 1))
            self._next_try = self._clock() + self._rng() * cap
            log.info("audit: shipping stopped (%s); next try within %.0f s", report.blocked_by, cap)
        return report


def verify_rows(rows: list[AuditEntry | AuditInvalid], shipped_seq: int = 0,
                shipped_hash: str | None = None) -> ChainSummary:
    """A local chain's rows verified from its genesis (the kiosk keeps the whole chain: a missing first
    entry is ``deleted``), then the shipped mark: entries the server acknowledged may not be missing from
    the end (``truncated``) or differ from what was acknowledged (``modified``)."""
    summary = summarise_chain(rows, expect_seq=1, expect_prev=GENESIS)
    if summary.problem is not None or shipped_seq == 0:
        return summary
    last = summary.last_seq or 0
    if last < shipped_seq:
        missing = shipped_seq - last
        problem = ChainBreak(len(rows), shipped_seq, "truncated",
                             f"the trail ends at seq {last}, but the central server acknowledged entries up to seq "
                             f"{shipped_seq}: {missing} entr{'y was' if missing == 1 else 'ies were'} cut off the end")
        return ChainSummary(summary.kiosk_id, summary.count, summary.first_seq, summary.last_seq,
                            summary.last_hash, problem)
    index, acknowledged = next(((i, e) for i, e in enumerate(rows)
                                if isinstance(e, AuditEntry) and e.seq == shipped_seq), (None, None))
    if index is not None and acknowledged is not None and acknowledged.hash != shipped_hash:
        problem = ChainBreak(index, shipped_seq, "modified",
                             f"entry {index + 1} (seq {shipped_seq}) is not the entry the central server "
                             "acknowledged: the chain was rewritten")
        return ChainSummary(summary.kiosk_id, summary.count, summary.first_seq, summary.last_seq,
                            summary.last_hash, problem)
    return summary


def read_trail(path: str | Path) -> tuple[list[AuditEntry | AuditInvalid], int, str | None, str | None]:
    """The rows of the audit log at ``path`` opened read-only (nothing created or changed), with the
    shipped mark and the kiosk id; for ``kiosk audit verify`` / ``export``, which must not alter what they
    inspect. ``AuditError`` when there is no readable trail there."""
    location = Path(path)
    if not location.exists():
        raise AuditError(f"{location}: there is no audit trail here (check audit.path or --db)")
    try:
        conn = sqlite3.connect(f"{location.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise AuditError(f"{location}: the audit trail cannot be opened ({exc})") from exc
    try:
        rows = conn.execute(f"SELECT {_COLUMNS} FROM entries ORDER BY pos").fetchall()  # noqa: S608
        shipped_seq, shipped_hash = _shipped(conn)
        kiosk = conn.execute("SELECT value FROM meta WHERE name = 'kiosk_id'").fetchone()
    except sqlite3.DatabaseError as exc:
        raise AuditError(f"{location}: not a readable audit trail ({exc})") from exc
    finally:
        conn.close()
    return [_entry(row) for row in rows], shipped_seq, shipped_hash, kiosk[0] if kiosk else None


def open_audit_log(config: Any, *, on_append: Callable[[], None] | None = None) -> AuditLog:
    """The audit log a ``KioskConfig`` describes: ``audit.path``, for kiosk ``kiosk.id``."""
    return AuditLog(config.resolve(config.audit.path), config.kiosk.id, on_append=on_append)


def _row(entry: AuditEntry) -> tuple[Any, ...]:
    return (entry.seq, entry.kiosk_id, entry.at, entry.actor, entry.role, entry.action, entry.outcome,
            entry.subject, canonical_json(entry.details).decode("utf-8"), entry.prev_hash, entry.hash)


def _entry(row: tuple[Any, ...]) -> AuditEntry | AuditInvalid:
    """A row as an entry, or the reason it is not one (``verify`` names it; nothing raises)."""
    document = dict(zip(FIELDS, row, strict=True))
    try:
        document["details"] = json.loads(document["details"]) if isinstance(document["details"], str) else None
        return entry_from_dict(document)
    except AuditInvalid as exc:
        return exc
    except ValueError:
        return AuditInvalid("details", "is not JSON")


def _last(db: sqlite3.Connection) -> AuditEntry | None:
    row = db.execute(f"SELECT {_COLUMNS} FROM entries ORDER BY seq DESC LIMIT 1").fetchone()  # noqa: S608
    if row is None:
        return None
    entry = _entry(row)
    if not isinstance(entry, AuditEntry):
        raise AuditError(f"the last audit entry is unreadable ({entry}); run `kiosk audit verify`")
    return entry


def _shipped(db: sqlite3.Connection) -> tuple[int, str | None]:
    values = dict(db.execute("SELECT name, value FROM meta WHERE name IN ('shipped_seq', 'shipped_hash')").fetchall())
    return int(values.get("shipped_seq", 0)), values.get("shipped_hash")


def _set_shipped(db: sqlite3.Connection, seq: int, digest: str) -> None:
    db.execute("INSERT OR REPLACE INTO meta VALUES ('shipped_seq', ?)", (str(seq),))
    db.execute("INSERT OR REPLACE INTO meta VALUES ('shipped_hash', ?)", (digest,))


def _connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # 0600 from the start: -wal/-shm copy the file's mode
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error as exc:
        raise AuditError(f"{path}: the audit log cannot be opened ({exc})") from exc
    if str(mode).lower() != "wal":
        conn.close()
        raise AuditError(f"{path}: the file system does not support SQLite's WAL mode (got {mode!r})")
    return conn
