"""The Alembic migrations and the SQLAlchemy models describe the same schema, on both backends."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from server.db import alembic_config, make_engine, upgrade_to_head
from server.models import Base
from tests.server.pgcluster import PgCluster

pytestmark = pytest.mark.server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"fresh_{secrets.token_hex(4)}")


def test_models_and_migrations_agree(fresh_url: str) -> None:
    engine = make_engine(fresh_url)
    try:
        upgrade_to_head(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
        assert differences == []
        assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    finally:
        engine.dispose()


def test_upgrade_is_idempotent_and_downgrade_works(fresh_url: str) -> None:
    from alembic import command

    engine = make_engine(fresh_url)
    try:
        upgrade_to_head(engine)
        upgrade_to_head(engine)  # a restart must not fail
        command.downgrade(alembic_config(engine), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade_to_head(engine)
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pragmas.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_a_populated_database_upgrades_and_downgrades_keeping_its_rows(fresh_url: str) -> None:
    """A city's database holds kiosks, clerks, pickups and grants that reference one another: later
    migrations must not copy-and-drop those tables (on SQLite that breaks the foreign keys)."""
    from datetime import UTC, datetime

    from alembic import command
    from sqlalchemy import text

    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC).replace(tzinfo=None)
    engine = make_engine(fresh_url)
    config = alembic_config(engine)
    try:
        command.upgrade(config, "0004")
        with engine.begin() as db:
            db.execute(text("INSERT INTO kiosks (kiosk_id, cert_sha256, enabled, registered_at)"
                            " VALUES ('m-kiosk', :fp, true, :now)"), {"fp": "e" * 64, "now": now})
            db.execute(text("INSERT INTO clerks (id, username, password_hash, role, failed_attempts, created_at)"
                            " VALUES (1, 'm-clerk', 'scrypt$x', 'clerk', 0, :now)"), {"now": now})
            db.execute(text(
                "INSERT INTO pickups (id, pickup_id, application_key, application_id_last4, notice_number, status,"
                " card_auth_cert_serial, card_issuer_key_id, basic4_match_key, created_at, updated_at)"
                " VALUES (1, 'P-0000000000000001', :k, '0001', 'N-1', 'ready', 'ab', 'cd', :m, :now, :now)"),
                {"k": "1" * 64, "m": "2" * 64, "now": now})
            db.execute(text(
                "INSERT INTO handover_grants (grant_sha256, pickup_row_id, kiosk_id, clerk_id, created_at, expires_at)"
                " VALUES (:g, 1, 'm-kiosk', 1, :now, :now)"), {"g": "3" * 64, "now": now})

        def counts() -> tuple[int, ...]:
            with engine.connect() as db:
                return tuple(db.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608
                             for table in ("kiosks", "clerks", "pickups", "handover_grants"))

        upgrade_to_head(engine)
        assert counts() == (1, 1, 1, 1)
        command.downgrade(config, "0004")
        assert counts() == (1, 1, 1, 1)
    finally:
        engine.dispose()
