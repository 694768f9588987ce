"""A throw-away PostgreSQL cluster for the test session: initdb + pg_ctl in a temp dir, stopped and deleted after.

PostgreSQL refuses to run as root, so when the tests run as root the server binaries run as the ``postgres``
OS user through ``runuser -u postgres --`` and the temp dir is handed to that user. The cluster listens on a
unix socket inside the temp dir and on a free TCP port on 127.0.0.1 only, with SCRAM password auth (a random
password made for this run), so nothing else on the machine can use it by accident.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from server.serve import free_port


def find_pg_bin() -> Path | None:
    """The directory holding initdb and pg_ctl (Debian keeps them out of PATH)."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name, reverse=True)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


def _as_postgres_user() -> bool:
    return os.geteuid() == 0


def _run(command: list[str], *, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    if _as_postgres_user():
        command = ["runuser", "-u", "postgres", "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


@dataclass
class PgCluster:
    root: Path
    bin_dir: Path
    port: int
    password: str
    started: bool = False

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            password=self.password,
            dbname="postgres",
            autocommit=True,
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')  # name comes from the tests, not from input
        return self.url(name)

    def stop(self) -> None:
        if self.started:
            _run([str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "60"])
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> PgCluster:
    """initdb and start; raises RuntimeError with PostgreSQL's own log when something fails."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not found")
    if _as_postgres_user():
        try:
            account = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise FileNotFoundError("running as root but there is no 'postgres' OS user") from exc
    root = Path(tempfile.mkdtemp(prefix="kiosk-pg-"))
    password = secrets.token_urlsafe(18)
    cluster = PgCluster(root=root, bin_dir=bin_dir, port=0, password=password)
    try:
        cluster.socket_dir.mkdir()
        password_file = root / "pwfile"
        password_file.write_text(password + "\n", encoding="utf-8")
        password_file.chmod(0o600)
        if _as_postgres_user():
            for path in (root, cluster.socket_dir, password_file):
                os.chown(path, account.pw_uid, account.pw_gid)
        result = _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(cluster.data_dir),
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
                "--auth=scram-sha-256",
                f"--pwfile={password_file}",
                "--no-sync",
            ]
        )
        password_file.unlink()
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{result.stdout}\n{result.stderr}")
        for _attempt in range(3):
            cluster.port = free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {cluster.socket_dir} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            result = _run(
                [
                    str(bin_dir / "pg_ctl"),
                    "start",
                    "-D",
                    str(cluster.data_dir),
                    "-w",
                    "-t",
                    "60",
                    "-l",
                    str(root / "postgres.log"),
                    "-o",
                    options,
                ]
            )
            if result.returncode == 0:
                cluster.started = True
                return cluster
        log = (root / "postgres.log").read_text(errors="replace") if (root / "postgres.log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed:\n{result.stdout}\n{result.stderr}\n{log}")
    except BaseException:
        cluster.stop()
        raise
