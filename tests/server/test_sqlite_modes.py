"""The server's SQLite database holds residents' data: it and its -wal/-shm are created 0600 and owned by the
service's user; a database someone made readable by others is refused at start with the command that fixes it;
and a root shell administering the service's database leaves every file to the service's user."""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from server.cli import main as cli_main
from server.db import PrivateFileError, make_engine, prepare_sqlite_file, upgrade_to_head
from server.pki_demo import DemoPki
from server.serve import BackgroundServer
from server.settings import Settings
from tests.conftest import REPO
from tests.server.helpers import now_iso
from tests.server.serve_helpers import free_port, write_config

pytestmark = pytest.mark.server


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _database_files(database: Path) -> dict[str, int]:
    return {p.name: _mode(p) for p in database.parent.iterdir() if p.name.startswith(database.name)}


def test_a_new_database_and_its_wal_and_shm_are_private(demo_pki: DemoPki, tmp_path: Path) -> None:
    database = tmp_path / "server.db"
    old_umask = os.umask(0o022)  # the usual umask, under which SQLite alone would make 0644 files
    try:
        settings = Settings(
            database_url=f"sqlite:///{database}", secret_file=tmp_path / "server.secret",
            tls_certfile=demo_pki.server_cert, tls_keyfile=demo_pki.server_key, kiosk_ca_file=demo_pki.ca_cert,
            kiosks={"kiosk-01": demo_pki.kiosks["kiosk-01"].fingerprint},
        )
        with BackgroundServer(settings) as server:
            import requests

            with requests.Session() as session:
                session.trust_env = False
                session.verify = str(demo_pki.ca_cert)
                session.cert = (str(demo_pki.kiosks["kiosk-01"].cert), str(demo_pki.kiosks["kiosk-01"].key))
                call = {"call_id": str(uuid.uuid4()), "called_at": now_iso()}
                assert session.post(f"{server.base_url}/v1/staff-calls", json=call).status_code == 201
            found = _database_files(database)  # while the server runs: the WAL and the shared memory exist
    finally:
        os.umask(old_umask)
    assert {"server.db", "server.db-wal", "server.db-shm"} <= set(found)
    assert set(found.values()) == {0o600}, found
    assert database.stat().st_uid == os.geteuid()


def test_kiosk_server_migrate_creates_a_private_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = tmp_path / "migrated.db"
    assert cli_main(["migrate", "--db", f"sqlite:///{database}"]) == 0
    assert "revision" in capsys.readouterr().out
    assert set(_database_files(database).values()) == {0o600}


def test_a_database_readable_by_others_is_refused_with_the_fix(demo_pki: DemoPki, tmp_path: Path) -> None:
    database = tmp_path / "server.db"
    engine = make_engine(f"sqlite:///{database}")
    upgrade_to_head(engine)
    engine.dispose()
    database.chmod(0o644)  # e.g. copied into place with cp, or made by an older version
    config = write_config(tmp_path, demo_pki, f"sqlite:///{database}", port=free_port())
    refused = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", "--config", str(config)],
        env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=60, check=False,
    )
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines()[-1] == (
        f"kiosk server serve: the database holds residents' data and must be private: {database}: mode 0644 lets "
        f"other users read it (must be 0600); fix: chmod 600 {database}"
    )
    database.chmod(0o600)
    wal = database.with_name(database.name + "-wal")
    wal.write_bytes(b"")
    wal.chmod(0o640)
    with pytest.raises(PrivateFileError, match=f"{wal}: mode 0640 lets other users read it"):
        make_engine(f"sqlite:///{database}")


def _open_as(uid: int, url: str, answer: multiprocessing.connection.Connection) -> None:
    try:
        os.seteuid(uid)  # a forked child only: the test process keeps its own user
        make_engine(url).dispose()
        answer.send("accepted")
    except BaseException as exc:  # whatever it is, the test must hear it
        answer.send(f"{type(exc).__name__}: {exc}")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: files owned by another user")
def test_root_administers_the_service_database_without_taking_it_over() -> None:
    service = pwd.getpwnam("nobody")
    top = Path(tempfile.mkdtemp(prefix="kiosk-modes-"))  # not under pytest's 0700 folders: another user looks in
    try:
        _administer(service, top)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _administer(service: pwd.struct_passwd, top: Path) -> None:
    top.chmod(0o711)
    folder = top / "state"
    folder.mkdir(mode=0o755)
    database = folder / "server.db"
    prepare_sqlite_file(str(database))  # as the service would have made it...
    os.chown(database, service.pw_uid, service.pw_gid)  # ...as its own user
    engine = make_engine(f"sqlite:///{database}")  # root: e.g. `sudo kiosk server add-clerk …`
    upgrade_to_head(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("SELECT count(*) FROM kiosks")
    owners = {p.name: p.stat().st_uid for p in folder.iterdir()}
    engine.dispose()
    assert set(owners) >= {"server.db", "server.db-wal", "server.db-shm", "server.db.write-lock",
                           "server.db.migrate-lock"}
    assert set(owners.values()) == {service.pw_uid}, owners  # SQLite's side files and our lock files alike

    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    child = context.Process(target=_open_as, args=(65533, f"sqlite:///{database}", writer))
    child.start()
    assert reader.poll(30), "the child did not answer"
    said = reader.recv()
    child.join(10)
    assert said.startswith("PrivateFileError: the database holds residents' data and must be private: ")
    assert f"{database}: owned by uid {service.pw_uid}, not by the service user" in said
    assert said.endswith(f"chown 65533 {database}")
