"""The sd_notify protocol as systemd reads it: a real datagram socket stands in for systemd's."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.app.logs import configure_logging, priority, stream_is_journal
from kiosk.app.systemd_notify import SystemdNotifier, feed_watchdog_from


@pytest.fixture
def systemd_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify")
    listener.bind(path)
    listener.settimeout(5)
    try:
        yield listener, path
    finally:
        listener.close()


def messages(listener: socket.socket, count: int) -> list[dict[str, str]]:
    found = []
    for _ in range(count):
        lines = listener.recv(4096).decode("utf-8").splitlines()
        found.append(dict(line.split("=", 1) for line in lines))
    return found


def test_ready_watchdog_status_and_stopping_reach_the_socket(systemd_socket) -> None:
    listener, path = systemd_socket
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path})
    assert notifier.enabled
    assert notifier.ready("kiosk-01 ready") and notifier.watchdog() and notifier.status("busy")
    assert notifier.stopping()
    assert messages(listener, 4) == [{"READY": "1", "STATUS": "kiosk-01 ready"}, {"WATCHDOG": "1"},
                                     {"STATUS": "busy"}, {"STOPPING": "1", "STATUS": "stopping"}]
    notifier.close()


def test_an_abstract_socket_name_is_used_as_linux_spells_it() -> None:
    name = f"kiosk-test-{uuid.uuid4().hex}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind("\0" + name)
    listener.settimeout(5)
    try:
        assert SystemdNotifier({"NOTIFY_SOCKET": "@" + name}).watchdog()
        assert messages(listener, 1) == [{"WATCHDOG": "1"}]
    finally:
        listener.close()


def test_outside_systemd_nothing_is_sent() -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled and notifier.watchdog_seconds is None
    assert not notifier.ready() and not notifier.watchdog()
    assert feed_watchdog_from(notifier, lambda *_: pytest.fail("scheduled without systemd")) is None


def test_a_socket_that_went_away_is_logged_once_and_never_raised(tmp_path: Path, caplog) -> None:
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    with caplog.at_level(logging.WARNING, logger="kiosk.app.systemd_notify"):
        assert not notifier.watchdog() and not notifier.watchdog() and not notifier.ready()
    assert len(caplog.records) == 1 and "could not notify systemd" in caplog.records[0].getMessage()


@pytest.mark.parametrize(("environ", "seconds"), [
    ({"WATCHDOG_USEC": "30000000"}, 30.0),
    ({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": str(os.getpid())}, 0.5),
    ({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": str(os.getppid())}, 0.5),  # cage's pid: our parent
    ({"WATCHDOG_USEC": "500000", "WATCHDOG_PID": "1"}, None),  # another process of the unit
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "soon"}, None),
    ({}, None),
])
def test_the_watchdog_interval_is_the_units_watchdogsec(environ: dict[str, str], seconds: float | None) -> None:
    assert SystemdNotifier({"NOTIFY_SOCKET": "/run/x", **environ}).watchdog_seconds == seconds


def test_the_watchdog_is_fed_twice_per_interval_by_the_given_scheduler(systemd_socket) -> None:
    listener, path = systemd_socket
    scheduled: list[tuple[object, float]] = []
    notifier = SystemdNotifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"})
    feed_watchdog_from(notifier, lambda callback, interval: scheduled.append((callback, interval)) or "event")
    [(callback, interval)] = scheduled
    assert interval == 2.0
    callback(interval)  # what the UI clock does every 2 s
    assert messages(listener, 2) == [{"WATCHDOG": "1"}, {"WATCHDOG": "1"}]  # one at once, one per tick


def test_journal_lines_carry_syslog_priorities_and_no_time(tmp_path: Path) -> None:
    stream_file = tmp_path / "journal-stream"
    with stream_file.open("w+", encoding="utf-8") as stream:
        found = os.fstat(stream.fileno())
        journal = {"JOURNAL_STREAM": f"{found.st_dev}:{found.st_ino}"}
        assert stream_is_journal(stream, journal) and not stream_is_journal(stream, {})
        assert [priority(level) for level in (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO,
                                              logging.DEBUG)] == [2, 3, 4, 6, 7]


def test_configure_logging_writes_journal_format_under_systemd(tmp_path: Path, monkeypatch) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers = []
    try:
        with (tmp_path / "journal").open("w+", encoding="utf-8") as stream:
            found = os.fstat(stream.fileno())
            monkeypatch.setenv("JOURNAL_STREAM", f"{found.st_dev}:{found.st_ino}")
            configure_logging(verbose=False, stream=stream)
            logging.getLogger("kiosk.test").info("reader ready")
            logging.getLogger("kiosk.test").warning("outbox waiting\nsecond line")
            stream.flush()
            stream.seek(0)
            assert stream.read().splitlines() == ["<6>kiosk.test: reader ready", "<4>kiosk.test: outbox waiting",
                                                  "<4>second line"]
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers, level = saved
        root.setLevel(level)
