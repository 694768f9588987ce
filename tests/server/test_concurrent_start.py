"""Several server processes on one database: migrations as their own step, a locked upgrade at start-up,
``migrate_on_start = false``, and ``kiosk server serve --workers N`` (mTLS identity and idempotency in
every worker)."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from server.cli import main
from server.db import current_revision, head_revision, make_engine
from server.pki_demo import DemoPki
from server.serve import _bind, free_port
from server.settings import Settings
from tests.conftest import REPO
from tests.server.helpers import application_body, idempotency_key, noise_jpeg
from tests.server.pgcluster import PgCluster

pytestmark = pytest.mark.server

STARTERS = 8
# What each starting process runs: the server's own start-up step (serve.prepare_database), released at one
# shared moment so the upgrades really overlap (interpreter start-up alone would spread them out).
_START_AT_ONCE = """
import sys, time
from server.serve import prepare_database
from server.settings import Settings
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
print(prepare_database(Settings(database_url=sys.argv[1])))
"""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database nobody has migrated yet."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"start_{secrets.token_hex(4)}")


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _revision(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_processes_starting_at_once_on_a_fresh_database_all_reach_head(fresh_url: str) -> None:
    start_at = f"{time.time() + 4.0:.3f}"
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", _START_AT_ONCE, fresh_url, start_at],
            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(STARTERS)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in starters]
    failures = [err[-2000:] for code, _out, err in results if code != 0]
    assert failures == [], failures[0] if failures else ""
    head = head_revision()
    assert [out.strip() for _code, out, _err in results] == [head] * STARTERS
    assert _revision(fresh_url) == head


def test_kiosk_server_migrate_prints_the_revision_reached(fresh_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    head = head_revision()
    assert main(["migrate", "--db", fresh_url]) == 0
    assert capsys.readouterr().out == f"database upgraded from an empty database to revision {head}\n"
    assert _revision(fresh_url) == head
    assert main(["migrate", "--db", fresh_url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"previous": head, "revision": head}


def test_migrate_reads_the_database_from_the_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "server.toml"
    config.write_text(f'[server]\ndatabase_url = "sqlite:///{tmp_path / "from-config.db"}"\n', encoding="utf-8")
    assert main(["migrate", "--config", str(config)]) == 0
    assert capsys.readouterr().out.endswith(f"revision {head_revision()}\n")
    assert _revision(f"sqlite:///{tmp_path / 'from-config.db'}") == head_revision()


def _server_config(directory: Path, pki: DemoPki, url: str, *, port: int, migrate_on_start: bool = True) -> Path:
    kiosks = "\n".join(f'{k} = "{pki.kiosks[k].fingerprint}"' for k in ("kiosk-01", "kiosk-02"))
    config = directory / "server.toml"
    config.write_text(
        f"""[server]
database_url = "{url}"
secret_file = "server.secret"
port = {port}
migrate_on_start = {"true" if migrate_on_start else "false"}

[tls]
certfile = "{pki.server_cert}"
keyfile = "{pki.server_key}"
kiosk_ca = "{pki.ca_cert}"

[photos]
face_checks = false

[kiosks]
{kiosks}
""",
        encoding="utf-8",
    )
    return config


def test_migrate_on_start_false_leaves_an_unmigrated_database_alone_and_says_what_to_do(
    fresh_url: str, demo_pki: DemoPki, tmp_path: Path
) -> None:
    config = _server_config(tmp_path, demo_pki, fresh_url, port=free_port(), migrate_on_start=False)
    refused = subprocess.run(  # its own process, with a timeout: a server that starts anyway must not hang the test
        [sys.executable, "-m", "server.cli", "serve", "--config", str(config), "--workers", "2"],
        env=_env(), capture_output=True, text=True, timeout=60, check=False,
    )
    assert refused.returncode == 1
    message = refused.stderr.strip().splitlines()[-1]
    assert message.startswith("kiosk server serve: the database ")
    assert "Traceback" not in refused.stderr
    assert "has never been migrated" in message
    assert f"needs revision {head_revision()}: run `kiosk server migrate` first" in message
    password = make_url(fresh_url).password
    assert password is None or str(password) not in message  # the URL is named without its password
    assert _tables(fresh_url) == set()
    assert _revision(fresh_url) is None


def test_migrate_on_start_is_read_from_the_server_section() -> None:
    assert Settings().migrate_on_start is True
    assert Settings.from_mapping({"server": {"migrate_on_start": False}}).migrate_on_start is False
    with pytest.raises(ValueError, match="migrate_on_start must be true or false"):
        Settings.from_mapping({"server": {"migrate_on_start": "no"}})


# --- serve --workers -------------------------------------------------------------------------------------

WORKERS = 2
_PID = re.compile(r"\[(\d+)\] INFO server\.access .*route=/v1/kiosks/heartbeat status=200 kiosk=(kiosk-0[12])")


@pytest.fixture
def two_workers(
    fresh_url: str, demo_pki: DemoPki, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], str, Path]]:
    """``kiosk server serve --workers 2`` as its own process (fresh database: the parent migrates it)."""
    port = free_port()
    config = _server_config(tmp_path, demo_pki, fresh_url, port=port)
    log = tmp_path / "server.log"
    with log.open("w", encoding="utf-8") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--config", str(config), "--workers", str(WORKERS)],
            env=_env(), stdout=sink, stderr=subprocess.STDOUT, text=True,
        )
    base = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while (log.read_text(encoding="utf-8").count("Application startup complete") < WORKERS
               or "photo checks running" not in log.read_text(encoding="utf-8")):
            assert process.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "the workers did not start:\n" + log.read_text(encoding="utf-8")
            time.sleep(0.1)
        yield process, base, log
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _client(pki: DemoPki, kiosk: str) -> requests.Session:
    """A fresh session: a new TLS connection, which the kernel hands to either worker."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(pki.ca_cert)
    session.cert = (str(pki.kiosks[kiosk].cert), str(pki.kiosks[kiosk].key))
    return session


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie lingers where nothing reaps it, e.g. in a container)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _children(pid: int) -> set[int]:
    """Every child of the server: the workers and the photo-check process."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _workers(pid: int) -> set[int]:
    """The children that serve requests (the photo-check process names itself ``photo-checks``)."""
    return {child for child in _children(pid) if _comm(child) != "photo-checks"}


@pytest.mark.slow
def test_every_worker_knows_the_kiosk_by_its_certificate(
    two_workers: tuple[subprocess.Popen[str], str, Path], demo_pki: DemoPki
) -> None:
    process, base, log = two_workers
    children = _children(process.pid)
    workers = _workers(process.pid)
    assert len(workers) == WORKERS
    assert [_comm(pid) for pid in children - workers] == ["photo-checks"]
    heartbeat = {"version": "1.0.0", "reader_state": "ok", "outbox_depth": 0}

    def beat(index: int) -> tuple[int, str]:
        kiosk = ("kiosk-01", "kiosk-02")[index % 2]
        with _client(demo_pki, kiosk) as session:
            response = session.post(f"{base}/v1/kiosks/heartbeat", json=heartbeat, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["kiosk_id"] == kiosk
        return response.status_code, kiosk

    served: dict[int, set[str]] = {}
    for _round in range(10):
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(beat, range(16)))
        served = {}
        for pid, kiosk in _PID.findall(log.read_text(encoding="utf-8")):
            served.setdefault(int(pid), set()).add(kiosk)
        if len(served) == WORKERS:
            break
    assert set(served) == workers, f"requests reached only {sorted(served)} of the workers {sorted(workers)}"
    assert all(kiosks == {"kiosk-01", "kiosk-02"} for kiosks in served.values()), served

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    assert not any(_running(pid) for pid in children), "a worker or the photo checks outlived the server"


@pytest.mark.slow
def test_identical_submissions_across_workers_give_one_201_and_the_rest_200(
    two_workers: tuple[subprocess.Popen[str], str, Path], demo_pki: DemoPki
) -> None:
    _process, base, log = two_workers

    def submit(body: dict[str, object], key: str) -> tuple[int, str]:
        with _client(demo_pki, "kiosk-01") as session:
            response = session.post(f"{base}/v1/applications", json=body, headers={"Idempotency-Key": key}, timeout=60)
        return response.status_code, response.json().get("receipt_id", response.text)

    photo = noise_jpeg(600, 800)
    for _round in range(5):  # until one round's submissions reached both workers
        body, key = application_body(photo), idempotency_key()
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(submit, [body] * 8, [key] * 8))
        assert sorted(status for status, _ in results) == [200] * 7 + [201], results
        assert len({receipt for _, receipt in results}) == 1
        text = log.read_text(encoding="utf-8")
        assert "status=500" not in text
        pids = set(re.findall(r"\[(\d+)\] INFO server\.access .*route=/v1/applications status=20[01]", text))
        if len(pids) == WORKERS:
            break
    assert len(pids) == WORKERS, "every submission went to one worker"


@pytest.mark.slow
def test_a_worker_that_dies_stops_the_whole_server(two_workers: tuple[subprocess.Popen[str], str, Path]) -> None:
    """No half-capacity server left running unnoticed: the service manager sees the exit and restarts it."""
    process, _base, log = two_workers
    first, second = sorted(_workers(process.pid))
    checker = _children(process.pid) - {first, second}
    os.kill(first, signal.SIGKILL)
    assert process.wait(timeout=30) == 1
    assert not _running(second), "the other worker outlived the server"
    assert not any(_running(pid) for pid in checker), "the photo-check process outlived the server"
    assert f"worker(s) {first} ended (exit -9): stopping the server" in log.read_text(encoding="utf-8")


@pytest.mark.slow
def test_workers_do_not_outlive_a_killed_server(two_workers: tuple[subprocess.Popen[str], str, Path]) -> None:
    process, _base, _log = two_workers
    workers = _children(process.pid)
    process.kill()
    process.wait(timeout=30)
    deadline = time.monotonic() + 20
    while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in workers if _running(pid)]
    for pid in left:  # do not leave them running when the assertion fails
        os.kill(pid, signal.SIGKILL)
    assert left == [], "workers kept running after their server was killed"


def test_the_shared_listener_is_made_like_asyncio_makes_one() -> None:
    """asyncio turns Nagle off only on sockets whose proto says TCP; without it every response waited ~40 ms
    for the client's delayed ACK (seen as a 52 ms p50 for one kiosk with ``--workers``)."""
    listener = _bind(Settings(host="127.0.0.1", port=free_port()))
    try:
        assert listener.proto == socket.IPPROTO_TCP
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert listener.get_inheritable()
    finally:
        listener.close()
