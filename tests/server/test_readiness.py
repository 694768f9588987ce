"""``GET /readyz``: ready only when the database answers, its schema is at head and the photo folder takes files;
otherwise 503 naming the failed check — while ``/healthz`` still says the process is alive. No kiosk
certificate needed (``client_cert = "optional"``). And ``python -m server.probe``, which containers run."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from alembic import command
from alembic.script import ScriptDirectory

from server.cli import main as cli_main
from server.db import alembic_config, head_revision, make_engine
from server.pki_demo import DemoPki
from server.probe import main as probe_main
from server.serve import BackgroundServer, free_port
from server.settings import Settings
from tests.conftest import require
from tests.server.pgcluster import PgCluster, find_pg_bin, start_cluster

pytestmark = pytest.mark.server


def _settings(url: str, pki: DemoPki, directory: Path, **changes: object) -> Settings:
    return Settings(
        database_url=url,
        secret_file=directory / "server.secret",
        tls_certfile=pki.server_cert,
        tls_keyfile=pki.server_key,
        kiosk_ca_file=pki.ca_cert,
        client_cert_mode="optional",
        photo_face_checks=False,
    ).replace(**changes)


def _get(server: BackgroundServer, pki: DemoPki, path: str) -> requests.Response:
    """Without any client certificate."""
    with requests.Session() as session:
        session.trust_env = False
        session.verify = str(pki.ca_cert)
        return session.get(server.base_url + path, timeout=30)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'server.db'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"ready_{secrets.token_hex(4)}")


@pytest.fixture
def running(fresh_url: str, demo_pki: DemoPki, tmp_path: Path) -> Iterator[BackgroundServer]:
    with BackgroundServer(_settings(fresh_url, demo_pki, tmp_path)) as server:
        yield server


def _downgrade(url: str, target: str) -> None:
    engine = make_engine(url)
    try:
        command.downgrade(alembic_config(engine), target)
    finally:
        engine.dispose()


def test_a_migrated_server_is_ready_and_alive_without_a_client_certificate(
    running: BackgroundServer, demo_pki: DemoPki
) -> None:
    ready = _get(running, demo_pki, "/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True, "schema": True, "photo_store": True}
    assert body["checks"]["schema"]["message"] == f"at {head_revision()}"
    assert _get(running, demo_pki, "/healthz").json() == {"status": "ok", "database": "ok"}


def test_a_schema_behind_head_is_alive_but_not_ready_until_migrated(
    running: BackgroundServer, demo_pki: DemoPki, fresh_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    head = head_revision()
    previous = ScriptDirectory.from_config(alembic_config(None)).get_revision(head).down_revision
    assert isinstance(previous, str)
    _downgrade(fresh_url, previous)  # e.g. an older backup restored under a running server

    refused = _get(running, demo_pki, "/readyz")
    assert refused.status_code == 503
    body = refused.json()
    expected = f"database schema at {previous}, expected {head}: run `kiosk server migrate`"
    assert body["error"] == "not_ready"
    assert body["failed"] == ["schema"]
    assert body["message"] == expected
    assert body["checks"]["database"]["ok"] is True
    assert _get(running, demo_pki, "/healthz").status_code == 200  # alive: not a reason to restart it
    assert probe_main(["readyz", "--url", running.base_url]) == 1
    assert f"503 {expected}" in capsys.readouterr().err

    assert cli_main(["migrate", "--db", fresh_url]) == 0
    assert _get(running, demo_pki, "/readyz").status_code == 200
    assert probe_main(["readyz", "--url", running.base_url]) == 0
    assert capsys.readouterr().out.strip().endswith(": 200 ready")

    _downgrade(fresh_url, "base")  # a database nobody has migrated
    never = _get(running, demo_pki, "/readyz").json()
    assert never["message"] == f"database schema at none (never migrated), expected {head}: run `kiosk server migrate`"
    assert cli_main(["migrate", "--db", fresh_url]) == 0


def test_a_photo_folder_that_takes_no_file_is_not_ready(demo_pki: DemoPki, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the photo folder's parent should be", encoding="utf-8")
    settings = _settings(f"sqlite:///{tmp_path / 'server.db'}", demo_pki, tmp_path, photo_directory=blocker / "photos")
    with BackgroundServer(settings) as server:
        body = _get(server, demo_pki, "/readyz").json()
    assert body["failed"] == ["photo_store"]
    assert body["message"] == f"the photo folder {blocker / 'photos'} takes no new file (Not a directory)"
    database_store = _settings(f"sqlite:///{tmp_path / 'server.db'}", demo_pki, tmp_path,
                               photo_directory=blocker / "photos", photo_store="database")
    with BackgroundServer(database_store) as server:  # photos in the rows: the folder does not matter
        assert _get(server, demo_pki, "/readyz").status_code == 200


@pytest.mark.postgres
@pytest.mark.slow
def test_a_database_that_stops_answering_makes_the_server_not_ready(demo_pki: DemoPki, tmp_path: Path) -> None:
    require(find_pg_bin() is not None, "PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    cluster = start_cluster()  # its own: this test stops it
    try:
        url = cluster.create_database("ready_then_gone")
        with BackgroundServer(_settings(url, demo_pki, tmp_path)) as server:
            assert _get(server, demo_pki, "/readyz").status_code == 200
            cluster.stop()
            body = _get(server, demo_pki, "/readyz").json()
    finally:
        cluster.stop()
    assert body["failed"] == ["database", "schema"]
    assert body["checks"]["database"]["message"] == "the database does not answer (OperationalError)"
    assert cluster.password not in str(body)


def test_the_probe_reads_the_address_from_the_config(
    running: BackgroundServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "probe.toml"
    config.write_text(f'[server]\nhost = "0.0.0.0"\nport = {running.port}\n', encoding="utf-8")  # probed on loopback
    assert probe_main(["healthz", "--config", str(config)]) == 0
    assert f"https://127.0.0.1:{running.port}/healthz: 200 ok" in capsys.readouterr().out
    closed = free_port()
    assert probe_main(["--url", f"https://127.0.0.1:{closed}"]) == 1
    assert f"https://127.0.0.1:{closed}/readyz: no answer (ConnectionRefusedError" in capsys.readouterr().err
    assert probe_main(["--url", f"http://127.0.0.1:{running.port}"]) == 1
    assert "speaks HTTPS only" in capsys.readouterr().err
