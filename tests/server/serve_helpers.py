"""``kiosk server serve`` as a process of its own, for tests of what only the real command does (workers, the
metrics directory, log formats): a config file, start, wait until every worker is up, stop with SIGINT."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from server.pki_demo import DemoPki
from server.serve import free_port
from tests.conftest import REPO

REGISTERED = ("kiosk-01", "kiosk-02")


def write_config(directory: Path, pki: DemoPki, url: str, *, port: int, server: Mapping[str, str] | None = None,
                 extra: str = "") -> Path:
    """A server.toml for ``url`` with the demo PKI, both test kiosks registered and the face rules off (the
    tests' photos are noise). ``server``: more ``[server]`` lines (values already TOML); ``extra``: more
    sections."""
    kiosks = "\n".join(f'{k} = "{pki.kiosks[k].fingerprint}"' for k in REGISTERED)
    more = "\n".join(f"{key} = {value}" for key, value in (server or {}).items())
    config = directory / "server.toml"
    config.write_text(
        f"""[server]
database_url = "{url}"
secret_file = "state/server.secret"
port = {port}
{more}

[tls]
certfile = "{pki.server_cert}"
keyfile = "{pki.server_key}"
kiosk_ca = "{pki.ca_cert}"
client_cert = "optional"

[photos]
face_checks = false

{extra}

[kiosks]
{kiosks}
""",
        encoding="utf-8",
    )
    return config


@dataclass
class ServeProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path
    pki: DemoPki

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def client(self, kiosk: str | None = "kiosk-01") -> requests.Session:
        """A fresh session (a new TLS connection, which the kernel hands to any worker)."""
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self.pki.ca_cert)
        if kiosk is not None:
            session.cert = (str(self.pki.kiosks[kiosk].cert), str(self.pki.kiosks[kiosk].key))
        return session

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)


@contextmanager
def serve_process(config: Path, pki: DemoPki, *, workers: int = 1, env: Mapping[str, str] | None = None,
                  started: str = "Application startup complete") -> Iterator[ServeProcess]:
    """Run ``python -m server.cli serve --config CONFIG --workers N`` until the block ends; standard output
    and error go to ``server.log`` beside the config. Waits for ``started`` once per worker."""
    port = _port_of(config)
    log = config.parent / "server.log"
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--config", str(config), "--workers", str(workers)],
            env=environment, stdout=sink, stderr=subprocess.STDOUT,
        )
    running = ServeProcess(process, f"https://127.0.0.1:{port}", log, pki)
    try:
        deadline = time.monotonic() + 60
        while running.text().count(started) < workers:
            assert process.poll() is None, running.text()
            assert time.monotonic() < deadline, "the server did not start:\n" + running.text()
            time.sleep(0.1)
        yield running
    finally:
        running.stop()


def _port_of(config: Path) -> int:
    for line in config.read_text(encoding="utf-8").splitlines():
        if line.startswith("port = "):
            return int(line.split("=", 1)[1])
    raise ValueError("the config names no port")


__all__ = ["REGISTERED", "ServeProcess", "free_port", "serve_process", "write_config"]
