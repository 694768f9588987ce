"""The lifecycle rules (server/lifecycle.py), the lookup budget (server/ratelimit.py), the operator's CLI
``set-application-status`` and the migration that renamed the stored states."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from server.app import build_context
from server.cli import main
from server.db import alembic_config, make_engine, upgrade_to_head
from server.deps import ServerContext
from server.identifiers import application_lookup_key, new_receipt_id
from server.lifecycle import STATES, PickupFact, TransitionRefused, check_operator_move, derive
from server.models import Application, Kiosk
from server.ratelimit import LookupLimiter, retry_after_header
from server.settings import Settings
from tests.server.helpers import application_id
from tests.server.pgcluster import PgCluster

pytestmark = pytest.mark.server

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


# --- rules ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target", "changed"),
    [
        ("received", "in_production", True),
        ("received", "refused", True),
        ("in_production", "refused", True),
        ("in_production", "received", True),
        ("refused", "received", True),
        ("in_production", "in_production", False),
        ("picked_up", "picked_up", False),
    ],
)
def test_operator_moves(current: str, target: str, changed: bool) -> None:
    assert check_operator_move(current, target) is changed


@pytest.mark.parametrize(
    ("current", "target", "hint"),
    [
        ("received", "ready_for_pickup", "add-pickup"),
        ("in_production", "picked_up", "handover"),
        ("picked_up", "refused", "cannot be set"),
        ("ready_for_pickup", "received", "cannot be set"),
        ("refused", "in_production", "cannot be set"),
        ("received", "card_ready", "unknown state"),
    ],
)
def test_moves_only_the_pickup_records_make_are_refused_with_the_way(current: str, target: str, hint: str) -> None:
    with pytest.raises(TransitionRefused, match=hint):
        check_operator_move(current, target)


def test_the_pickup_records_decide_over_the_application_row() -> None:
    later = T0 + timedelta(days=30)
    ready, handed, cancelled = (PickupFact(s, later) for s in ("ready", "handed_over", "cancelled"))
    assert derive("received", T0, []).status == "received"  # type: ignore[union-attr]
    assert derive("in_production", T0, [ready]) == derive(None, None, [ready])
    assert derive(None, None, [ready]).status == "ready_for_pickup"  # type: ignore[union-attr]
    assert derive("ready_for_pickup", T0, [cancelled, handed]).status == "picked_up"  # type: ignore[union-attr]
    assert derive(None, None, [cancelled]) is None  # a cancelled pickup alone says nothing
    assert derive(None, None, []) is None
    assert derive("ready_for_pickup", T0, [cancelled]).status == "in_production"  # type: ignore[union-attr]
    assert derive("refused", T0, [ready]).updated_at == later  # type: ignore[union-attr]
    assert derive("card_ready", T0, [ready]).status == "ready_for_pickup"  # type: ignore[union-attr]
    assert derive("handed_over", T0, []).status == "picked_up"  # type: ignore[union-attr]
    for state in STATES:
        found = derive(state, T0, [])
        assert found is not None and found.status in STATES


def test_the_budget_counts_misses_and_refills() -> None:
    limiter = LookupLimiter(burst=2, refill_seconds=10)
    assert limiter.take("k", T0) is None
    limiter.give_back("k")  # a hit
    assert limiter.take("k", T0) is None
    assert limiter.take("k", T0) is None
    assert limiter.take("k", T0) == pytest.approx(10)
    assert limiter.take("other", T0) is None
    assert limiter.take("k", T0 + timedelta(seconds=4)) == pytest.approx(6)
    assert limiter.take("k", T0 + timedelta(seconds=10)) is None
    assert limiter.take("k", T0 + timedelta(seconds=5)) is not None  # the clock stepped back: no refill
    assert limiter.take("k", T0 + timedelta(days=9)) is None
    assert limiter.take("k", T0 + timedelta(days=9)) is None
    assert limiter.take("k", T0 + timedelta(days=9)) is not None  # the burst caps the refill
    assert [retry_after_header(s) for s in (0.01, 1.0, 1.2, 11.9)] == ["1", "1", "2", "12"]
    with pytest.raises(ValueError, match="burst"):
        LookupLimiter(burst=0, refill_seconds=1)
    with pytest.raises(ValueError, match="refill"):
        LookupLimiter(burst=1, refill_seconds=0)


def test_the_budget_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "server.toml"
    path.write_text("[status_lookup]\nburst = 3\nrefill_seconds = 30\n")
    settings = Settings.from_toml(path)
    assert (settings.status_lookup_burst, settings.status_lookup_refill) == (3, timedelta(seconds=30))
    path.write_text("[status_lookup]\nbrust = 3\n")
    with pytest.raises(ValueError, match=r"status_lookup\.brust"):
        Settings.from_toml(path)
    with pytest.raises(ValueError, match="status_lookup_burst"):
        Settings(status_lookup_burst=0)


# --- the operator's command ----------------------------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path: Path) -> Iterator[tuple[list[str], ServerContext]]:
    options = ["--db", f"sqlite:///{tmp_path / 'cli.db'}", "--secret-file", str(tmp_path / "secret")]
    context = build_context(
        Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}", secret_file=tmp_path / "secret"),
        lambda: datetime.now(UTC),
    )
    try:
        yield options, context
    finally:
        context.engine.dispose()


def _insert_application(context: ServerContext, app_id: str, status: str = "received") -> str:
    """An application row as the submit route writes it (sealed fields; synthetic bytes)."""
    keys, now = context.keys, datetime.now(UTC)
    receipt = new_receipt_id()
    with context.sessions() as session:
        if session.get(Kiosk, "cli-kiosk") is None:
            session.add(Kiosk(kiosk_id="cli-kiosk", cert_sha256="c" * 64, enabled=True, registered_at=now))
            session.flush()  # no ORM relationship orders the inserts
        session.add(
            Application(
                receipt_id=receipt,
                application_key=application_lookup_key(keys, app_id),
                application_id_last4=app_id[-4:],
                application_id_sealed=keys.seal(app_id.encode(), purpose="application-id"),
                photo_sealed=keys.seal(b"synthetic", purpose="application-photo"),
                contact_sealed=None,
                status=status,
                kiosk_id="cli-kiosk",
                submitted_at=now,
                received_at=now,
                updated_at=now,
            )
        )
        session.commit()
    return receipt


def test_set_application_status_from_the_command_line(
    cli_db: tuple[list[str], ServerContext], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    options, context = cli_db
    app_id = application_id()
    receipt = _insert_application(context, app_id)
    assert main(["set-application-status", app_id, "in_production", "--json", *options]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["receipt_id"] == receipt
    assert (out["previous"], out["status"], out["changed"]) == ("received", "in_production", True)
    assert out["application_id_masked"] == "*" * 19 + app_id[-4:]
    assert main(["set-application-status", app_id, "in_production", *options]) == 0
    assert "already in_production" in capsys.readouterr().out
    monkeypatch.setenv("APP_ID", app_id)  # the id kept off the command line (and out of shell history)
    assert main(["set-application-status", "--application-id-env", "APP_ID", "refused", *options]) == 0
    printed = capsys.readouterr().out
    assert "in_production -> refused" in printed and app_id not in printed
    with context.sessions() as session:
        assert session.query(Application).one().status == "refused"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ready_for_pickup"], "add-pickup"),
        (["picked_up"], "handover"),
        (["in_production"], "no application"),
    ],
)
def test_set_application_status_refusals_say_why_without_the_id(
    cli_db: tuple[list[str], ServerContext], capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    options, context = cli_db
    app_id = application_id()
    if message != "no application":
        _insert_application(context, app_id)
    assert main(["set-application-status", app_id, *args, *options]) == 1
    err = capsys.readouterr().err
    assert message in err and app_id not in err


@pytest.mark.parametrize("bad", ["1" * 23 + "\n", " " + "1" * 23, "１" * 23, "1" * 22])
def test_set_application_status_checks_the_whole_id(
    cli_db: tuple[list[str], ServerContext], capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    options, _ = cli_db
    assert main(["set-application-status", bad, "refused", *options]) == 1
    assert "23 ASCII digits" in capsys.readouterr().err


def test_set_application_status_needs_exactly_one_id(
    cli_db: tuple[list[str], ServerContext], capsys: pytest.CaptureFixture[str]
) -> None:
    options, _ = cli_db
    assert main(["set-application-status", "refused", *options]) == 1
    assert "missing" in capsys.readouterr().err
    assert main(["set-application-status", application_id(), "refused", "--application-id-env", "X", *options]) == 1
    assert "not both" in capsys.readouterr().err


# --- the migration ------------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"life_{secrets.token_hex(4)}")


def test_migration_0003_renames_the_stored_states_and_back(fresh_url: str) -> None:
    engine = make_engine(fresh_url)
    config = alembic_config(engine)
    try:
        command.upgrade(config, "0002")
        with engine.begin() as db:
            db.execute(
                text(
                    "INSERT INTO kiosks (kiosk_id, cert_sha256, enabled, registered_at)"
                    " VALUES ('m-kiosk', :fp, true, :now)"
                ),
                {"fp": "d" * 64, "now": T0.replace(tzinfo=None)},
            )
            for n, status in enumerate(("received", "card_ready", "handed_over")):
                db.execute(
                    text(
                        "INSERT INTO applications (receipt_id, application_key, application_id_last4,"
                        " application_id_sealed, photo_sealed, status, kiosk_id, submitted_at, received_at,"
                        " updated_at) VALUES (:r, :k, '0000', :b, :b, :s, 'm-kiosk', :t, :t, :t)"
                    ),
                    {"r": f"R-{n}", "k": f"{n:064d}", "b": b"x", "s": status, "t": T0.replace(tzinfo=None)},
                )

        def states() -> list[str]:
            with engine.connect() as db:
                return [row[0] for row in db.execute(text("SELECT status FROM applications ORDER BY receipt_id"))]

        upgrade_to_head(engine)
        assert states() == ["received", "ready_for_pickup", "picked_up"]
        with engine.begin() as db:
            db.execute(text("UPDATE applications SET status = 'refused' WHERE receipt_id = 'R-0'"))
        command.downgrade(config, "0002")
        assert states() == ["received", "card_ready", "handed_over"]
    finally:
        engine.dispose()
