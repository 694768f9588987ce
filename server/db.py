"""Engine, sessions and migrations for SQLite (default) and PostgreSQL (production).

SQLite needs care to behave under a threaded server: WAL so readers never block the writer, foreign keys
switched on (they are off by default), a busy timeout instead of instant "database is locked", and
``BEGIN IMMEDIATE`` for writing transactions so that a transaction that reads and then writes cannot
deadlock against another one doing the same (SQLite cannot upgrade a read lock while another reader waits
to write). Slow work (password hashing, photo checks, photo files) is therefore kept outside transactions by
the callers.

Two session factories share one engine and pool: ``make_session_factory`` (read-write: on SQLite the
writer lock, ``BEGIN IMMEDIATE``) and ``make_read_session_factory`` (read-only: a deferred ``BEGIN``, which
in WAL mode reads a snapshot and waits for nobody). Most requests only read — who is this kiosk, is this
a retry, where is an application — so only the one write of a request queues for SQLite's single writer.
Read-only is enforced, not a convention: ``PRAGMA query_only`` on SQLite (switched only when a pooled
connection changes role), a look at every statement's first word on PostgreSQL, and on both backends the
session raises before any SQL is sent when asked to flush a change or to execute an INSERT, UPDATE or
DELETE. On PostgreSQL reads run in autocommit: no BEGIN/ROLLBACK round trips, no snapshot held open.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import threading
import time
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

from contract.file_modes import SQLITE_SIDE_FILES, private_file_problem
from server.keys import SecretFileError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_TIMEOUT_SECONDS = 15
# The PostgreSQL advisory lock every migrating process takes first (pg_advisory_lock, one bigint key,
# database-wide). Fixed and documented (server/README.md) so an operator can find a waiting starter in
# pg_locks (locktype advisory, classid 1263095635, objid 1263356231) and so no other code uses the key.
MIGRATION_LOCK_KEY = 0x4B494F53_4B4D4947  # ASCII "KIOSKMIG" = 5424954445308709191
# How long a starter waits for another process's migration before it gives up with a clear error. Long,
# because a migration of a large table may take minutes; finite, so a stuck holder is noticed.
MIGRATION_LOCK_WAIT = "600s"
# The execution option that marks the read-only engine view (see make_read_session_factory).
READ_ONLY = "kiosk_read_only"
# How long a waiting writer sleeps between tries of another process's SQLite writer lock (seconds): short,
# because a write transaction holds it for about a millisecond (SQLite's own busy handler sleeps 1, 2, 5 …
# up to 100 ms, which turns a queue of two into a tail).
_CROSS_PROCESS_POLL = (0.0002, 0.0005, 0.001, 0.002)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def normalise_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (SQLAlchemy would otherwise pick psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class DatabaseFileError(SecretFileError):
    """The SQLite database file cannot be used by this process (said in one line, like a bad secret file)."""


class PrivateFileError(DatabaseFileError):
    """A SQLite database file (or its -wal/-shm/-journal) is readable by other users, or owned by another
    user than the service's: the server refuses it rather than serve residents' data from a leaky file."""


def _file_database(database: str | None) -> Path | None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def prepare_sqlite_file(database: str | None) -> None:
    """Create a missing SQLite database file empty with mode 0600 (SQLite would create it with 0644 under
    the usual umask, and makes its -wal and -shm with the database's mode), then check it and its side files
    by the shared rule (``contract.file_modes``): no group or other permission bits, owned by this user. Run
    as root (an administrator's command), the owner expected is the database's own owner, so a root shell
    neither trips on the service's files nor is told to take them over (SQLite gives side files it creates
    as root to the database's owner). A missing folder is left to SQLite's own error."""
    path = _file_database(database)
    if path is None:
        return
    try:
        with contextlib.suppress(FileExistsError, FileNotFoundError):
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        main = path.lstat()
    except FileNotFoundError:
        return
    except PermissionError as exc:
        raise DatabaseFileError(f"the database {path} cannot be reached by this user ({exc.strerror}): run the "
                                "server as the user that owns its state folder") from None
    uid = os.geteuid()
    owner = main.st_uid if uid == 0 else uid
    problems = []
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_SIDE_FILES)):
        try:
            found = candidate.lstat()
        except FileNotFoundError:
            continue
        problem = private_file_problem(str(candidate), found.st_mode, found.st_uid, uid=owner, user=_user(owner))
        if problem is not None:
            problems.append(str(problem))
    if problems:
        raise PrivateFileError("the database holds residents' data and must be private: " + "; ".join(problems))


def open_sidecar(database: str, suffix: str) -> int:
    """Open (creating 0600) one of our lock files beside a database. Created by root — an administrator's
    command on the service's database — it is handed to the database's owner, as SQLite does with the -wal
    and -shm it creates as root: else the service could no longer open it and would stop at its next start."""
    descriptor = os.open(database + suffix, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    if os.geteuid() == 0:
        try:
            owner = os.stat(database)
            found = os.fstat(descriptor)
            if (found.st_uid, found.st_gid) != (owner.st_uid, owner.st_gid):
                os.fchown(descriptor, owner.st_uid, owner.st_gid)
        except OSError:
            pass  # no database file yet (it is created right after, by this process): nothing to hand over
    return descriptor


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


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
    # 100 ms, which under contention turns a 2 ms transaction into a one-second tail. Writers of other
    # server processes (``serve --workers N``) queue on an ``flock`` next to the database (_WriterFileLock);
    # other programs (the CLI importing a CRL) still meet the busy timeout. The lock has a timeout too, so a
    # programming error (two transactions open in one thread) fails like "database is locked" instead of
    # hanging. Read-only transactions take neither: in WAL mode a deferred BEGIN reads a snapshot.
    writer = threading.Lock()
    file_lock = _WriterFileLock.for_database(engine.url.database)

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        info = connection.info
        if connection.get_execution_options().get(READ_ONLY, False):
            if not info.get("query_only"):
                connection.exec_driver_sql("PRAGMA query_only=1")
                info["query_only"] = True
            connection.exec_driver_sql("BEGIN")
            return
        if not writer.acquire(timeout=_LOCK_TIMEOUT_SECONDS):
            raise TimeoutError("the SQLite database stayed locked by another transaction")
        try:
            if file_lock is not None:
                file_lock.acquire(_LOCK_TIMEOUT_SECONDS)
            try:
                if info.get("query_only"):
                    connection.exec_driver_sql("PRAGMA query_only=0")
                    info["query_only"] = False
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                if file_lock is not None:
                    file_lock.release()
                raise
        except BaseException:
            writer.release()
            raise
        info["sqlite_writer"] = True

    def release(connection: Any) -> None:
        if connection.info.pop("sqlite_writer", False):
            if file_lock is not None:
                file_lock.release()
            writer.release()

    event.listen(engine, "commit", release)
    event.listen(engine, "rollback", release)


class _WriterFileLock:
    """An exclusive ``flock`` on ``<database>.write-lock``, held by this process's one writing transaction.

    Why: with several server processes on one SQLite file, SQLite's busy handler is the only queue, and it
    sleeps in growing steps; this lock is taken right after the in-process lock and polled in sub-millisecond
    steps, so the next process's writer starts almost as soon as the last one commits. Opened once per
    engine (after the fork: every worker builds its own engine, and a flock is per open file). A sidecar
    file for the same reason as the migration lock (SQLite's own locks are fcntl locks on the database)."""

    def __init__(self, database: str) -> None:
        self._fd = open_sidecar(database, ".write-lock")

    @classmethod
    def for_database(cls, database: str | None) -> _WriterFileLock | None:
        if not database or database == ":memory:" or database.startswith("file:"):
            return None  # an in-memory database belongs to one process
        return cls(database)

    def acquire(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        tries = 0
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError("the SQLite database stayed locked by another server process") from None
                time.sleep(_CROSS_PROCESS_POLL[min(tries, len(_CROSS_PROCESS_POLL) - 1)])
                tries += 1

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)


# Connections kept open per process. A sync route runs in one of AnyIO's 40 worker threads, and now that
# reads run concurrently (not one at a time behind the writer lock) most of them hold a connection at
# once: a pool smaller than that opens and closes "overflow" connections all the time (a SQLite connection
# costs its PRAGMAs, a PostgreSQL one a login). PostgreSQL keeps fewer per process: its server-side cost
# is multiplied by the workers (the default max_connections is 100).
SQLITE_POOL = 40
POSTGRESQL_POOL = 20


def make_engine(url: str) -> Engine:
    """The engine of one process. No ``pool_pre_ping`` on PostgreSQL: it costs a round trip per checkout
    (three per application); after a database restart the requests in flight fail once, SQLAlchemy then
    discards the whole pool, and the kiosks' outboxes retry."""
    url = normalise_url(url)
    if is_sqlite(url):
        prepare_sqlite_file(make_url(url).database)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 15}, pool_size=SQLITE_POOL, max_overflow=10
        )
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, pool_size=POSTGRESQL_POOL, max_overflow=20)
    _guard_postgresql_reads(engine)
    return engine


_READ_STATEMENTS = ("select", "with", "show", "values")


def _guard_postgresql_reads(engine: Engine) -> None:
    """A read-only (autocommit) connection sends nothing but queries: even a raw ``text()`` UPDATE, which
    the session cannot recognise, is refused before it reaches the database."""

    @event.listens_for(engine, "before_cursor_execute")
    def before(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY, False):
            first = statement.lstrip(" \t\r\n(").split(None, 1)[0].lower() if statement.strip() else ""
            if first not in _READ_STATEMENTS:
                raise _refused()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Read-write sessions (on SQLite: the writer lock and ``BEGIN IMMEDIATE`` at the first statement)."""
    return sessionmaker(engine, expire_on_commit=False)


class ReadOnlySession(Session):
    """A session that refuses to write: changed objects at flush, and INSERT/UPDATE/DELETE statements. A
    write through a read-only session is a programming error (on SQLite it would try to upgrade a snapshot
    outside the writer queue, and SQLite refuses it anyway: ``query_only``)."""

    def flush(self, objects: Any = None) -> None:
        if self.new or self.dirty or self.deleted:
            raise _refused()
        super().flush(objects)

    def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if getattr(statement, "is_dml", False):
            raise _refused()
        return super().execute(statement, *args, **kwargs)


def _refused() -> RuntimeError:
    return RuntimeError("a read-only session was asked to write; use context.sessions()")


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Read-only sessions on the same engine and pool: no writer lock, a deferred ``BEGIN`` (SQLite, WAL)
    or autocommit (PostgreSQL: each SELECT its own snapshot, as READ COMMITTED gives anyway, without the
    BEGIN and ROLLBACK round trips). For lookups only (identity, replays, status, GETs)."""
    options: dict[str, Any] = {READ_ONLY: True}
    if not is_sqlite(str(engine.url)):
        options["isolation_level"] = "AUTOCOMMIT"
    return sessionmaker(engine.execution_options(**options), class_=ReadOnlySession, expire_on_commit=False)


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
    descriptor = open_sidecar(database, ".migrate-lock")
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
