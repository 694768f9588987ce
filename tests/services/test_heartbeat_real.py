"""Heartbeats end to end: the kiosk's sender and client (``kiosk.services.heartbeat``, ``CentralClient``) against
the reference server over mutual TLS, with its real database — what operators then see in ``GET /v1/kiosks``
and ``kiosk server kiosks``, a disabled kiosk refused and let back, an outage sat out, and the bytes the
server received checked for anything personal."""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from kiosk import __version__
from kiosk.core.events import CardFailed, ReaderChanged
from kiosk.core.view import ReaderState
from kiosk.services.central import CentralClient
from kiosk.services.errors import Rejected, kiosk_refusal
from kiosk.services.heartbeat import HealthState, HeartbeatSender
from kiosk.services.outbox import Outbox
from tests.services import synthetic
from tests.services.fake_central import wait_until
from tests.services.real_central import KIOSK_ID, RealCentral, unavailable_reason

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))

OPS_KIOSK = "ops-kiosk"  # a second kiosk, where the operator signs in to look at the fleet
FIELDS = {"version", "reader_state", "outbox_depth", "outbox_oldest_age_seconds", "outbox_dead", "last_error_code",
          "last_error_age_seconds"}
CODE = re.compile(r"[a-z][a-z0-9_.-]{0,63}")


class Recorder:
    """ASGI middleware: the raw body and the answer's status of every heartbeat, as the server received it."""

    def __init__(self, app: Any, received: list[tuple[int, bytes]]) -> None:
        self.app = app
        self.received = received

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("path") != "/v1/kiosks/heartbeat":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def recording_receive() -> Any:
            message = await receive()
            if message.get("type") == "http.request":
                chunks.append(message.get("body", b""))
            return message

        async def recording_send(message: Any) -> None:
            if message.get("type") == "http.response.start":
                self.received.append((int(message["status"]), b"".join(chunks)))
            await send(message)

        await self.app(scope, recording_receive, recording_send)


class FleetServer:
    """The reference server (demo PKI, SQLite, movable clock from ``RealCentral``) with the heartbeats it
    receives recorded, and a second registered kiosk for the operator. ``stop``/``start`` keep the port and
    the database, as a restarted server would."""

    def __init__(self, folder: Path) -> None:
        from server.pki_demo import create_demo_pki

        self.base = RealCentral(folder)
        ops = create_demo_pki(folder / "pki", [OPS_KIOSK]).kiosks[OPS_KIOSK]  # same CA, one more kiosk
        self.ops_cert, self.ops_key = ops.cert, ops.key
        self.settings = self.base.settings.replace(kiosks={**self.base.settings.kiosks, OPS_KIOSK: ops.fingerprint})
        self.clock = self.base.clock
        self.received: list[tuple[int, bytes]] = []
        self._running: Any = None
        self.operator = (f"operator-{secrets.token_hex(4)}", secrets.token_urlsafe(16))

    @property
    def url(self) -> str:
        return self.base.url

    def start(self) -> FleetServer:
        from server.serve import BackgroundServer

        server = BackgroundServer(self.settings, port=self.base.port, clock=self.clock)
        server.app.add_middleware(Recorder, received=self.received)
        self._running = server.start()
        return self

    def stop(self) -> None:
        if self._running is not None:
            self._running.stop()
            self._running = None

    def add_operator(self) -> None:
        from server import security

        with self._running.app.state.context.sessions() as session:
            security.add_clerk(session, username=self.operator[0], password=self.operator[1], role="operator",
                               now=self.clock())
            session.commit()

    def cli(self, *args: str) -> int:
        """``kiosk server …`` against this server's database, in this process (its own clock: real time)."""
        from server.cli import main

        return main([*args, "--db", self.settings.database_url, "--secret-file", str(self.settings.secret_file)])

    def heartbeats(self, status: int | None = None) -> list[dict[str, Any]]:
        return [json.loads(body) for code, body in list(self.received) if status is None or code == status]

    def statuses(self) -> list[int]:
        return [code for code, _body in list(self.received)]


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[FleetServer]:
    server = FleetServer(tmp_path / "server").start()
    server.add_operator()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def senders() -> Iterator[list[HeartbeatSender]]:
    started: list[HeartbeatSender] = []
    yield started
    for sender in started:
        sender.stop()


def kiosk_client(fleet: FleetServer, make_client: Any) -> CentralClient:
    return make_client(fleet.url, **fleet.base.client_options())


def start_sender(fleet: FleetServer, make_client: Any, senders: list[HeartbeatSender], health: HealthState, *,
                 outbox: Outbox | None = None, interval: float = 3600.0,
                 on_service: Any = None) -> HeartbeatSender:
    sender = HeartbeatSender(lambda: kiosk_client(fleet, make_client), interval=interval, health=health,
                             outbox=outbox, min_gap=0.1, on_service=on_service)
    senders.append(sender)
    return sender.start()


def listing(fleet: FleetServer, make_client: Any) -> dict[str, dict[str, Any]]:
    """``GET /v1/kiosks`` as the operator sees it, signed in at the other kiosk."""
    ops = make_client(fleet.url, ca_bundle=fleet.base.ca_cert, client_cert=fleet.ops_cert, client_key=fleet.ops_key)
    token = ops.sign_in_clerk(*fleet.operator).token
    with requests.Session() as session:
        session.trust_env = False
        answer = session.get(f"{fleet.url}/v1/kiosks", headers={"Authorization": f"Bearer {token}"},
                             verify=str(fleet.base.ca_cert), cert=(str(fleet.ops_cert), str(fleet.ops_key)),
                             timeout=10)
    assert answer.status_code == 200, answer.text
    return {k["kiosk_id"]: k for k in answer.json()["kiosks"]}


def assert_nothing_personal(fleet: FleetServer, applications: list[dict[str, Any]]) -> None:
    """Every heartbeat body the server received: the documented fields only, codes, counts and ages — and none
    of the queued applications' personal data in any form."""
    assert fleet.received
    for _status, raw in fleet.received:
        body = json.loads(raw)
        assert set(body) <= FIELDS, set(body) - FIELDS
        for name in ("reader_state", "last_error_code"):
            assert body.get(name) is None or CODE.fullmatch(body[name]), body
        for name in ("outbox_depth", "outbox_dead", "outbox_oldest_age_seconds", "last_error_age_seconds"):
            assert body.get(name) is None or isinstance(body[name], int | float)
        assert body["version"] == __version__
        for application in applications:
            for needle in synthetic.personal_needles(application).values():
                assert needle not in raw


def test_the_first_heartbeat_shows_the_kiosk_online_and_silence_makes_it_a_problem(
    fleet: FleetServer, make_client: Any, make_outbox: Any, senders: list[HeartbeatSender],
    capsys: pytest.CaptureFixture[str],
) -> None:
    outbox: Outbox = make_outbox()
    applications = [synthetic.application(n) for n in (1, 2)]
    for application in applications:
        outbox.enqueue("application", application)
    health = HealthState()
    health.observe(ReaderChanged(ReaderState.READY.value, "Test Reader 00"))
    # The server's clock runs 10 minutes behind, so that moving it back to the present (below) is moving it
    # past heartbeat_stale_after (3 min) — for the server and for the CLI, whose clock is the real one.
    fleet.clock.advance(timedelta(minutes=-10))
    began = time.monotonic()
    start_sender(fleet, make_client, senders, health, outbox=outbox)
    assert wait_until(lambda: fleet.statuses() == [200], timeout=10)
    first_seconds = time.monotonic() - began

    kiosk = listing(fleet, make_client)[KIOSK_ID]
    assert (kiosk["state"], kiosk["health"], kiosk["reader_state"]) == ("online", "ok", "ok")
    assert (kiosk["outbox_depth"], kiosk["outbox_dead"], kiosk["version"]) == (2, 0, __version__)
    assert first_seconds < 10.0  # sent at start (the interval is an hour)

    fleet.clock.reset()  # ten minutes later, no heartbeat since
    assert listing(fleet, make_client)[KIOSK_ID]["state"] == "silent"
    capsys.readouterr()
    assert fleet.cli("kiosks", "--problems") == 1
    out = capsys.readouterr().out
    assert re.search(rf"^{re.escape(KIOSK_ID)}\s+silent\s+ok\s+10m ago", out, re.MULTILINE), out
    assert OPS_KIOSK not in out.split("need attention")[0]  # never seen: listed without --problems only
    assert fleet.cli("kiosks", "--json") == 1
    data = json.loads(capsys.readouterr().out)
    assert data["needing_attention"] == [KIOSK_ID]
    assert_nothing_personal(fleet, applications)


def test_a_reader_error_makes_the_kiosk_unhealthy(fleet: FleetServer, make_client: Any,
                                                   senders: list[HeartbeatSender]) -> None:
    from drivers.errors import ReaderError

    health = HealthState()
    post = health.watching(lambda _event: None)
    post(ReaderChanged(ReaderState.READY.value, "Test Reader 00"))
    start_sender(fleet, make_client, senders, health)
    assert wait_until(lambda: len(fleet.heartbeats(200)) == 1, timeout=10)
    assert listing(fleet, make_client)[KIOSK_ID]["health"] == "ok"
    post(CardFailed(7, ReaderError("SCARD_E_COMM_DATA_LOST")))  # sent at once, not after the hour
    assert wait_until(lambda: len(fleet.heartbeats(200)) == 2, timeout=10)
    kiosk = listing(fleet, make_client)[KIOSK_ID]
    assert (kiosk["health"], kiosk["reader_state"], kiosk["last_error_code"]) == ("unhealthy", "reader_error",
                                                                                 "reader_error")
    assert kiosk["problems"] == ["reader_error", "recent_error"] and kiosk["needs_attention"] is True
    assert_nothing_personal(fleet, [])


def test_a_disabled_kiosk_is_refused_and_an_enabled_one_accepted_again(
    fleet: FleetServer, make_client: Any, senders: list[HeartbeatSender], caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.INFO, logger="kiosk.services.heartbeat")
    service: list[bool] = []  # what the attract screen hears (ServiceChanged in the running kiosk)
    sender = start_sender(fleet, make_client, senders, HealthState(), interval=0.2, on_service=service.append)
    assert wait_until(lambda: len(fleet.heartbeats(200)) >= 1, timeout=10)
    assert service == []  # in service from the start: nothing to tell

    assert fleet.cli("kiosk-disable", KIOSK_ID, "--reason", "Card slot jammed; technician called") == 0
    assert wait_until(lambda: fleet.statuses().count(403) >= 3, timeout=10)  # refused, and still asking
    assert sender.alive
    client = kiosk_client(fleet, make_client)
    with pytest.raises(Rejected) as refused:
        client.submit_application(synthetic.application(3), "dddddddd-1111-2222-3333-444444444444")
    assert (refused.value.status, refused.value.code) == (403, "kiosk_disabled")
    assert "taken this kiosk out of service" in str(kiosk_refusal(refused.value))
    assert listing(fleet, make_client)[KIOSK_ID]["state"] == "disabled"
    said = [r for r in caplog.records if "out of service" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.ERROR  # once, in words, not every 0.2 s
    assert service == [False]  # once, however many refusals

    accepted = len(fleet.heartbeats(200))
    assert fleet.cli("kiosk-enable", KIOSK_ID) == 0
    assert wait_until(lambda: len(fleet.heartbeats(200)) > accepted, timeout=10)
    assert listing(fleet, make_client)[KIOSK_ID]["state"] == "online"
    assert wait_until(lambda: service == [False, True], timeout=10)
    assert fleet.heartbeats(200)[-1].get("last_error_code") is None  # being disabled is no error of the kiosk
    capsys.readouterr()
    assert fleet.cli("kiosk-history", KIOSK_ID) == 0
    history = capsys.readouterr().out
    assert "disabled by cli:" in history and "Card slot jammed" in history and "enabled by cli:" in history
    assert_nothing_personal(fleet, [])


def test_the_sender_sits_out_an_outage_and_reports_it_when_the_server_is_back(
    fleet: FleetServer, make_client: Any, senders: list[HeartbeatSender], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    health = HealthState()
    health.observe(ReaderChanged(ReaderState.READY.value, "Test Reader 00"))
    sender = start_sender(fleet, make_client, senders, health, interval=0.2)
    assert wait_until(lambda: len(fleet.heartbeats(200)) >= 1, timeout=10)
    fleet.stop()
    time.sleep(1.5)
    assert sender.alive
    before = len(fleet.heartbeats(200))
    fleet.start()
    assert wait_until(lambda: len(fleet.heartbeats(200)) > before, timeout=20)
    back = fleet.heartbeats(200)[before]
    assert back["last_error_code"] == "server_unreachable" and back["last_error_age_seconds"] < 10
    kiosk = listing(fleet, make_client)[KIOSK_ID]
    assert (kiosk["state"], kiosk["last_error_code"], kiosk["problems"]) == ("online", "server_unreachable",
                                                                            ["recent_error"])
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name.startswith("kiosk.")]
    assert len(warnings) == 1 and "cannot be reached" in warnings[0].getMessage()
    assert_nothing_personal(fleet, [])
