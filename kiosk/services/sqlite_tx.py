"""Short, serialised SQLite transactions on one connection — the plumbing the outbox and the audit trail
share, so both take the write lock up front and report a database failure as their own error type.

``BEGIN IMMEDIATE`` takes SQLite's write lock at the start of a write transaction: two processes never
both read "due" and then both write (no lock-upgrade deadlock). A thread lock serialises the threads of
this process on the connection. SQLite's messages never contain bound parameters, so no personal data
leaks through a translated error.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator
from typing import Self


class SerialisedSqlite:
    """Mixin: ``_conn`` (the connection) and ``_lock`` (a ``threading.Lock``) are set by the subclass, which
    also says how a SQLite failure reads to its callers (``_failure``)."""

    _conn: sqlite3.Connection
    _lock: threading.Lock | threading.RLock

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _failure(self, exc: sqlite3.Error) -> Exception:
        """The subclass's error for a failed SQLite call (raised ``from exc``)."""
        raise NotImplementedError

    @contextlib.contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._failure(exc) from exc

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction, committed on success and rolled back on any failure."""
        with self._lock, self._translated():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: a consistent snapshot of several queries."""
        with self._lock, self._translated():
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                if self._conn.in_transaction:
                    self._conn.execute("COMMIT")


__all__ = ["SerialisedSqlite"]
