"""Fixtures for the services tier: a generated PKI, a real HTTPS fake central server, clients, outboxes.

Every test here must leave no thread behind (checked after each test): the flusher, the fake server and
its handler threads are all non-daemon, so a leak would hang the interpreter at exit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.services.central import CentralClient
from kiosk.services.outbox import Backoff, Outbox
from tests.services.certs import LoopbackPki, make_pki
from tests.services.fake_central import FakeCentral
from tests.services.kiosk_process import KioskProcess

TEST_KEY = bytes(range(32))  # test-only at-rest key


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> LoopbackPki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def central(pki: LoopbackPki) -> Iterator[FakeCentral]:
    server = FakeCentral(pki).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_client(pki: LoopbackPki) -> Iterator[Callable[..., CentralClient]]:
    clients: list[CentralClient] = []

    def make(url: str, *, read_timeout: float = 2.0, **overrides: object) -> CentralClient:
        options: dict[str, object] = {
            "ca_bundle": pki.ca_cert, "client_cert": pki.client_cert, "client_key": pki.client_key,
            "connect_timeout": 2.0, "read_timeout": read_timeout,
        }
        options.update(overrides)
        client = CentralClient(url, **options)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def make_outbox(tmp_path: Path) -> Iterator[Callable[..., Outbox]]:
    opened: list[Outbox] = []

    def make(name: str = "outbox.sqlite3", **options: object) -> Outbox:
        options.setdefault("backoff", Backoff(0.01, 0.05))
        options.setdefault("lease_seconds", 5.0)
        options.setdefault("reserve_bytes", 256 * 1024)  # the default (~14 MB) per test would add up
        outbox = Outbox(tmp_path / name, TEST_KEY, **options)  # type: ignore[arg-type]
        opened.append(outbox)
        return outbox

    yield make
    for outbox in opened:
        outbox.close()


@pytest.fixture
def kiosk_processes() -> Iterator[list[KioskProcess]]:
    """Flusher subprocesses started by a test; killed and reaped afterwards even if the test failed."""
    started: list[KioskProcess] = []
    yield started
    for process in started:
        process.close()


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5.0
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert not extra, f"threads left running: {[t.name for t in extra]}"

