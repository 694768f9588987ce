"""Engine, sessions and migrations for SQLite (default) and PostgreSQL (production).

SQLite needs care to behave under a threaded server: WAL so readers never block the writer, foreign keys
switched on (they are off by default), a busy timeout instead of instant "database is locked", and
``BEGIN IMMEDIATE`` so that a transaction that reads and then writes cannot deadlock against another one
doing the same (SQLite cannot upgrade a read lock while another reader waits to write). Slow work (password
hashing, photo checks) is therefore kept outside transactions by the callers.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_TIMEOUT_SECONDS = 15
# The PostgreSQL advisory lock every migrating process takes first (pg_advisory_lock, one bigint key,
# database-wide). Fixed and documented (server/README.md) so an operator can find a waiting starter in
# pg_locks (locktype advisory, classid 1263095635, objid 1263356231) and so no other code uses the key.
MIGRATION_LOCK_KEY = 0x4B494F53_4B4D4947  # ASCII "KIOSKMIG" = 5424954445308709191
# How long a starter waits for another process's migration before it gives up with a clear error. Long,
# because a migration of a large table may take minutes; finite, so a stuck holder is noticed.
MIGRATION_LOCK_WAIT = "600s"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy would otherwise pick psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    # Writers queue on an in-process lock first: SQLite's own busy handler polls with sleeps of up to
    # 100 ms, which under contention turns a 2 ms transaction into a one-second tail. Other processes
    # (the CLI importing a CRL) still meet the busy timeout. The lock has a timeout too, so a programming
    # error (two transactions open in one thread) fails like "database is locked" instead of hanging.
    writer = threading.Lock()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        if not writer.acquire(timeout=_LOCK_TIMEOUT_SECONDS):
            raise TimeoutError("the SQLite database stayed locked by another transaction")
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writer.release()
            raise
        connection.info["sqlite_writer"] = True

    def release(connection: Any) -> None:
        if connection.info.pop("sqlite_writer", False):
            writer.release()

    event.listen(engine, "commit", release)
    event.listen(engine, "rollback", release)


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if is_sqlite(url):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 15}, pool_size=8, max_overflow=32
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


class SchemaNotAtHead(RuntimeError):
    """The database is not at the revision this code needs (and this process was told not to migrate)."""


def head_revision() -> str:
    """The newest migration this code ships."""
    head = ScriptDirectory.from_config(alembic_config(None)).get_current_head()
    if head is None:  # pragma: no cover - the repository always has migrations
        raise RuntimeError("no migrations found")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: Engine) -> str:
    """Bring the schema to the newest migration and return the revision reached.

    Several processes may start at once against one database (``kiosk server serve --workers N``, several
    machines, a ``kiosk server migrate`` step racing a restart). On PostgreSQL, two concurrent upgrades of a
    fresh database both try to create ``alembic_version`` and the tables and one fails with
    ``UniqueViolation``; so each process first takes a session-level advisory lock
    (:data:`MIGRATION_LOCK_KEY`) on a connection of its own, held for the whole upgrade and released
    after (or by PostgreSQL when the process dies): the others wait, then find the schema at head and do
    nothing. SQLite needs the same: Alembic does not run SQLite DDL in one transaction, so two processes
    interleave their steps ("expected to match one row when updating '0002' to '0003'"); there the lock is
    an exclusive ``flock`` on a sidecar file next to the database (:func:`_sqlite_migration_lock`).
    """
    lock = _sqlite_migration_lock if is_sqlite(str(engine.url)) else _postgresql_migration_lock
    with lock(engine):
        command.upgrade(alembic_config(engine), "head")
    reached = current_revision(engine)
    if reached is None:  # pragma: no cover - alembic raises first
        raise RuntimeError("the upgrade left no revision")
    return reached


def require_head(engine: Engine) -> str:
    """Refuse to serve a database that is not at head (start-up with ``migrate_on_start = false``)."""
    reached, needed = current_revision(engine), head_revision()
    if reached != needed:
        where = engine.url.render_as_string(hide_password=True)
        state = "has never been migrated" if reached is None else f"is at revision {reached}"
        raise SchemaNotAtHead(
            f"the database {where} {state}, this server needs revision {needed}: "
            "run `kiosk server migrate` first (or set [server] migrate_on_start = true)"
        )
    return reached


@contextlib.contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """An exclusive ``flock`` on ``<database>.migrate-lock`` (created 0600 and left in place).

    A sidecar file, not the database itself: SQLite's own locks are ``fcntl`` locks on the database file,
    and where ``flock`` is emulated with ``fcntl`` (NFS) locking the database file would clash with them.
    An in-memory database belongs to one process: nothing to lock."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        yield
        return
    descriptor = os.open(f"{database}.migrate-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


@contextlib.contextmanager
def _postgresql_migration_lock(engine: Engine) -> Iterator[None]:
    """Hold PostgreSQL's advisory lock :data:`MIGRATION_LOCK_KEY` on one dedicated autocommit connection.

    Autocommit, so the lock connection is never "idle in transaction" while the migration (on another
    connection from the pool) runs; ``lock_timeout`` bounds the wait (it applies to advisory locks too).
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("SELECT set_config('lock_timeout', :wait, false)"), {"wait": MIGRATION_LOCK_WAIT})
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
