"""Read-only sessions and SQLite's writer queue (``server/db.py``).

Read-only sessions take no writer lock and are read-only for real (the database refuses a write, and the
session refuses to flush one); on SQLite in WAL mode a read runs while a write transaction is open. Writers
of two engines — as two server processes — queue on the ``flock`` next to the database, not on SQLite's
sleeping busy handler.
"""

from __future__ import annotations

import fcntl
import secrets
import stat
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from server.db import make_engine, make_read_session_factory, make_session_factory, upgrade_to_head
from server.models import Kiosk
from tests.server.pgcluster import PgCluster

pytestmark = pytest.mark.server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'sessions.db'}"
    else:
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        url = cluster.create_database(f"sessions_{secrets.token_hex(4)}")
    engine = make_engine(url)
    upgrade_to_head(engine)
    with make_session_factory(engine)() as session:
        session.add(Kiosk(kiosk_id="k-1", cert_sha256="a" * 64, registered_at=datetime.now(UTC)))
        session.commit()
    try:
        yield engine
    finally:
        engine.dispose()


def test_a_read_only_session_cannot_write(engine: Engine) -> None:
    reads = make_read_session_factory(engine)
    with reads() as session:
        assert session.scalar(select(Kiosk.kiosk_id)) == "k-1"
        with pytest.raises((DBAPIError, RuntimeError)):  # SQLite: query_only; PostgreSQL: the statement check
            session.execute(text("UPDATE kiosks SET office = 'x'"))
    with reads() as session:
        kiosk = session.get(Kiosk, "k-1")
        assert kiosk is not None
        kiosk.office = "x"
        with pytest.raises(RuntimeError, match="read-only session"):
            session.commit()
    # the pooled connections go back to writing normally afterwards
    with make_session_factory(engine)() as session:
        session.execute(text("UPDATE kiosks SET office = 'y'"))
        session.commit()
    with reads() as session:
        assert session.scalar(select(Kiosk.office)) == "y"


def test_a_read_does_not_wait_for_an_open_write(engine: Engine) -> None:
    writes, reads = make_session_factory(engine), make_read_session_factory(engine)
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with writes() as session:
            session.execute(text("UPDATE kiosks SET office = 'during'"))
            holding.set()
            release.wait(10)
            session.commit()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(10)
        began = time.monotonic()
        with reads() as session:
            assert session.scalar(select(Kiosk.office)) is None  # the last committed state
        assert time.monotonic() - began < 1.0
    finally:
        release.set()
        thread.join(10)
    with reads() as session:
        assert session.scalar(select(Kiosk.office)) == "during"


def test_writers_of_two_processes_queue_on_the_file_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'two.db'}"
    first, second = make_engine(url), make_engine(url)  # two engines: two open files, like two processes
    try:
        upgrade_to_head(first)
        lock = tmp_path / "two.db.write-lock"
        assert stat.S_IMODE(lock.stat().st_mode) == 0o600
        holding, release, order = threading.Event(), threading.Event(), []

        def hold() -> None:
            with make_session_factory(first)() as session:
                session.execute(text("SELECT 1"))
                holding.set()
                release.wait(10)
                order.append("first commits")
                session.commit()

        thread = threading.Thread(target=hold)
        thread.start()
        assert holding.wait(10)
        with lock.open("rb") as probe, pytest.raises(BlockingIOError):
            fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by the open write transaction
        threading.Timer(0.3, release.set).start()
        with make_session_factory(second)() as session:
            session.execute(text("SELECT 1"))  # waits for the other engine's writer
            order.append("second began")
            session.commit()
        thread.join(10)
        assert order == ["first commits", "second began"]
    finally:
        first.dispose()
        second.dispose()
