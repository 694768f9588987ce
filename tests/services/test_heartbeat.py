"""The heartbeat sender (``kiosk.services.heartbeat``) against the fake central server over real mutual TLS:
timing, the reader's state from card-service events, outages, the outbox's counts and the configuration.
The reference server's side (state, health, disable) is tests/services/test_heartbeat_real.py."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers import errors as card_errors
from kiosk import __version__
from kiosk.config import ConfigError, load_config
from kiosk.core.events import CardFailed, CardInserted, CardRemoved, ReaderChanged
from kiosk.core.view import ReaderState
from kiosk.services.central import CentralClient
from kiosk.services.heartbeat import HealthState, HeartbeatSender, error_code, heartbeat_from_config
from kiosk.services.outbox import Outbox
from tests.services import synthetic
from tests.services.fake_central import FakeCentral, wait_until

FIELDS = {"version", "reader_state", "outbox_depth", "outbox_oldest_age_seconds", "outbox_dead", "last_error_code",
          "last_error_age_seconds"}


@pytest.fixture
def senders() -> Iterator[list[HeartbeatSender]]:
    started: list[HeartbeatSender] = []
    yield started
    for sender in started:
        sender.stop()


@pytest.fixture
def start(central: FakeCentral, make_client: Callable[..., CentralClient],
          senders: list[HeartbeatSender]) -> Callable[..., HeartbeatSender]:
    def start_sender(health: HealthState | None = None, **options: Any) -> HeartbeatSender:
        options.setdefault("interval", 60.0)
        sender = HeartbeatSender(lambda: make_client(central.url), health=health or HealthState(), **options)
        senders.append(sender)
        return sender.start()

    return start_sender


def test_one_heartbeat_at_start_then_one_per_interval(central: FakeCentral, start) -> None:
    hourly = start(interval=3600.0)
    assert wait_until(lambda: len(central.ledger.heartbeats) == 1, timeout=10)  # at start, not in an hour
    body = central.ledger.heartbeats[0]
    assert set(body) <= FIELDS and body["version"] == __version__
    assert (body["reader_state"], body["outbox_depth"]) == ("no_reader", 0)
    hourly.stop()
    began = time.monotonic()
    start(interval=0.3)
    assert wait_until(lambda: len(central.ledger.heartbeats) >= 5, timeout=10)
    assert time.monotonic() - began >= 0.85  # three intervals of 0.3 s after the first: not a busy loop


@pytest.mark.parametrize(("events", "state"), [
    ([], "no_reader"),
    ([ReaderChanged(ReaderState.READY.value, "R1")], "ok"),
    ([ReaderChanged(ReaderState.READY.value, "R1"), CardInserted("R1")], "card_present"),
    ([ReaderChanged(ReaderState.READY.value, "R1"), CardInserted("R1"), CardRemoved("R1")], "ok"),
    ([ReaderChanged(ReaderState.READY.value, "R1"), ReaderChanged(ReaderState.READER_LOST.value, "R1")],
     "no_reader"),
    ([ReaderChanged(ReaderState.SERVICE_DOWN.value)], "reader_error"),
    ([ReaderChanged(ReaderState.READY.value, "R1"), CardFailed(1, card_errors.ReaderError("reader failed"))],
     "reader_error"),
    ([ReaderChanged(ReaderState.READY.value, "R1"), CardFailed(1, card_errors.WrongPin(0x63C2, 2))], "ok"),
])
def test_the_reader_state_follows_the_card_services_events(events: list[Any], state: str) -> None:
    health, seen = HealthState(), []
    post = health.watching(seen.append)
    for event in events:
        post(event)
    assert health.reader_state == state
    assert seen == events  # the flows still get every event, in order
    error = health.last_error()
    assert (error is not None and error[0] == "reader_error") is (state == "reader_error")


def test_a_reader_change_is_reported_at_once_not_after_the_interval(central: FakeCentral, start) -> None:
    health = HealthState()
    start(health, interval=60.0, min_gap=0.2)
    assert wait_until(lambda: len(central.ledger.heartbeats) == 1, timeout=5)
    health.watching(lambda _event: None)(ReaderChanged(ReaderState.READY.value, "R1"))
    assert wait_until(lambda: len(central.ledger.heartbeats) == 2, timeout=5)
    assert central.ledger.heartbeats[1]["reader_state"] == "ok"


def test_an_outage_is_logged_once_and_reported_when_the_server_is_back(
    central: FakeCentral, start, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sender = start(interval=0.1)
    assert wait_until(lambda: len(central.ledger.heartbeats) >= 1, timeout=5)
    central.stop()
    time.sleep(1.2)  # about ten heartbeats into the outage
    assert sender.alive
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].name == "kiosk.services.heartbeat"
    assert "cannot be reached" in warnings[0].getMessage()
    failures = [r for r in caplog.records if r.name == "kiosk.services.central" and "failed" in r.getMessage()]
    assert len(failures) >= 5  # tried all along (at DEBUG)
    before = len(central.ledger.heartbeats)
    central.start()
    assert wait_until(lambda: len(central.ledger.heartbeats) > before, timeout=10)
    back = central.ledger.heartbeats[before]
    assert back["last_error_code"] == "server_unreachable" and back["last_error_age_seconds"] < 5
    assert wait_until(lambda: any("takes heartbeats again" in r.getMessage() for r in caplog.records), timeout=5)
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1


def test_stop_returns_within_a_second(central: FakeCentral, start) -> None:
    idle = start(interval=60.0)
    assert wait_until(lambda: len(central.ledger.heartbeats) == 1, timeout=5)
    began = time.monotonic()
    assert idle.stop() is True
    assert time.monotonic() - began < 1.0 and not idle.alive
    central.stop()
    failing = start(interval=0.05)
    time.sleep(0.3)
    began = time.monotonic()
    assert failing.stop() is True
    assert time.monotonic() - began < 1.0


def test_the_outbox_counts_and_a_refused_item(central: FakeCentral, start, make_outbox) -> None:
    outbox: Outbox = make_outbox()
    outbox.enqueue("application", synthetic.application(1))
    doomed = outbox.enqueue("application", synthetic.application(2))
    sender = start(outbox=outbox, interval=60.0, min_gap=0.05)
    assert wait_until(lambda: len(central.ledger.heartbeats) == 1, timeout=5)
    first = central.ledger.heartbeats[0]
    assert (first["outbox_depth"], first["outbox_dead"]) == (2, 0)
    assert 0 <= first["outbox_oldest_age_seconds"] < 30
    item = outbox.claim(doomed.item_id)
    assert item is not None
    outbox.mark_dead(item.item_id, "validation_error")
    sender.wake()
    assert wait_until(lambda: len(central.ledger.heartbeats) == 2, timeout=5)
    second = central.ledger.heartbeats[1]
    assert (second["outbox_depth"], second["outbox_dead"], second["last_error_code"]) == (1, 1, "outbox_refused")
    text = json.dumps(central.ledger.heartbeats, ensure_ascii=False).encode("utf-8")
    for needle in (*synthetic.personal_needles(synthetic.application(1)).values(),
                   *synthetic.personal_needles(synthetic.application(2)).values()):
        assert needle not in text


def test_error_codes_never_carry_text() -> None:
    assert error_code("reader_error") == "reader_error"
    assert error_code("http_503") == "http_503"
    for text in ("Yamada Hanako", "試験", "card_123456789012", "x" * 80, ""):
        assert error_code(text) == "error"
    health = HealthState()
    health.note_error("山田 failed to pay")
    assert health.last_error() is not None and health.last_error()[0] == "error"  # type: ignore[index]


def _configured(tmp_path: Path, seconds: int) -> Any:
    base = load_config()
    files = {name: str(tmp_path / f"{name}.pem") for name in ("ca_bundle", "client_cert", "client_key")}
    server = dataclasses.replace(base.server, heartbeat_seconds=seconds, **files)
    return dataclasses.replace(base, server=server)


def test_the_configuration_decides(tmp_path: Path) -> None:
    assert load_config().server.heartbeat_seconds == 60
    assert heartbeat_from_config(load_config(), HealthState()) is None  # no central server configured
    assert heartbeat_from_config(_configured(tmp_path, 0), HealthState()) is None  # off
    with pytest.raises(ConfigError, match="heartbeat_seconds must be 0 \\(off\\) or at least 5"):
        heartbeat_from_config(_configured(tmp_path, 3), HealthState())
    with pytest.raises(ConfigError, match="heartbeat_seconds"):
        heartbeat_from_config(_configured(tmp_path, -1), HealthState())
    sender = heartbeat_from_config(_configured(tmp_path, 60), HealthState())
    assert sender is not None and not sender.alive  # built, not started
