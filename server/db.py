"""Engine, sessions and migrations for SQLite (default) and PostgreSQL (production).

SQLite needs care to behave under a threaded server: WAL so readers never block the writer, foreign keys
switched on (they are off by default), a busy timeout instead of instant "database is locked", and
``BEGIN IMMEDIATE`` so that a transaction that reads and then writes cannot deadlock against another one
doing the same (SQLite cannot upgrade a read lock while another reader waits to write). Slow work (password
hashing, photo checks) is therefore kept outside transactions by the callers.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_TIMEOUT_SECONDS = 15


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


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade_to_head(engine: Engine) -> None:
    """Bring the schema to the newest migration (the app does this at start)."""
    command.upgrade(alembic_config(engine), "head")
