"""The staff exit leads to the maintenance menu (never a desktop), and the UI thread feeds systemd's watchdog."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kivy.clock import Clock

from kiosk.app.systemd_notify import SystemdNotifier, feed_watchdog_from
from kiosk.core import events as ev
from kiosk.core.maintenance import MaintenanceLine
from kiosk.core.view import Screen
from kiosk.ui.app import EXIT_RESTART, KioskApp
from kiosk.ui.keys import STAFF_TEXTS
from kiosk.ui.samples import sample_state
from kiosk.ui.staff import StaffExitGuard, hash_staff_pin
from kiosk.ui.static_flow import StaticFlow
from tests.ui.helpers import run_with, tap, visible

pytestmark = pytest.mark.ui

PIN = "246802"


class RecordingMaintenance:
    """The menu's port with canned lines: what the UI does with them is under test, not the doctor."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.go = threading.Event()  # a probe takes a moment: the test says when it is over
        self.go.set()

    def run(self, section: str) -> list[MaintenanceLine]:
        self.asked.append(section)
        assert self.go.wait(30)
        if section == "readers":
            return [MaintenanceLine("reader Sim Reader 00 00", "ok", "card present; extended APDUs: yes")]
        return [MaintenanceLine("pcscd", "ok", "running"),
                MaintenanceLine("outbox", "warn", "3 waiting, oldest 75 min", "check the network")]


def open_menu(app: KioskApp) -> Iterator[Any]:
    app.open_staff_exit()
    yield 2
    dialog = app.overlay("staff")
    keys = {w.text: w for w in dialog.ids.pad.children}
    for digit in PIN:
        yield from tap(keys[digit])
    yield from tap(keys[STAFF_TEXTS["exit.ok"]])
    yield lambda: app.overlay("maintenance") is not None


def texts(menu: Any) -> list[str]:
    return [label.text for label in reversed(menu.ids.results.children)]


def test_the_staff_pin_opens_the_menu_whose_checks_show_their_findings_and_back_returns() -> None:
    maintenance = RecordingMaintenance()
    guard = StaffExitGuard(hash_staff_pin(PIN, iterations=1000))

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        yield from open_menu(app)
        assert app.overlay("staff") is None  # the PIN dialog is gone; the app still runs
        menu = app.overlay("maintenance")
        assert menu.ids.summary.text == STAFF_TEXTS["maint.prompt"]
        maintenance.go.clear()
        yield from tap(menu.ids.checks)
        assert menu.ids.summary.text == STAFF_TEXTS["maint.running"] and menu.ids.checks.disabled
        maintenance.go.set()
        yield lambda: not menu.running
        assert texts(menu) == ["正常 OK  pcscd: running",
                               "注意 WARN  outbox: 3 waiting, oldest 75 min\n対処 / Fix: check the network"]
        yield from tap(menu.ids.readers)
        yield lambda: not menu.running
        assert texts(menu) == ["正常 OK  reader Sim Reader 00 00: card present; extended APDUs: yes"]
        assert all(visible(label) for label in menu.ids.results.children)
        yield from tap(menu.ids.back)
        assert app.overlay("maintenance") is None and app.exit_code == 0

    flow = run_with(sample_state(Screen.ATTRACT, "ja"), script, staff_guard=guard, maintenance=maintenance)
    assert maintenance.asked == ["checks", "readers"]
    # nothing of this reached the resident's flow but touches (which keep the session awake)
    assert [e for e in flow.events if not isinstance(e, ev.Touched)] == []


def test_restart_ends_the_app_with_the_restart_code_for_the_service() -> None:
    guard = StaffExitGuard(hash_staff_pin(PIN, iterations=1000))
    exits: list[int] = []

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        yield from open_menu(app)
        menu = app.overlay("maintenance")
        assert menu.ids.restart.text == STAFF_TEXTS["maint.restart"]
        app.bind(on_stop=lambda *_: exits.append(app.exit_code))
        yield from tap(menu.ids.restart)
        yield 600  # the app stops here

    run_with(sample_state(Screen.ATTRACT, "en"), script, staff_guard=guard, maintenance=RecordingMaintenance())
    assert exits and set(exits) == {EXIT_RESTART}


def test_a_ui_thread_that_hangs_stops_the_watchdog_while_other_threads_run(tmp_path: Path) -> None:
    """What systemd sees: WATCHDOG=1 every half WatchdogSec from the UI clock; a hung UI thread sends none
    (so WatchdogSec later the unit is killed and restarted), although the card and network threads go on."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(tmp_path / "notify"))
    listener.settimeout(0.05)
    pings: list[float] = []
    beats: list[float] = []
    done = threading.Event()

    def systemd() -> None:
        while not done.is_set():
            try:
                if b"WATCHDOG=1" in listener.recv(512):
                    pings.append(time.monotonic())
            except TimeoutError:
                pass

    def other_thread() -> None:  # stands for the card worker / outbox flusher
        while not done.is_set():
            beats.append(time.monotonic())
            time.sleep(0.05)

    threads = [threading.Thread(target=systemd, daemon=True), threading.Thread(target=other_thread, daemon=True)]
    for thread in threads:
        thread.start()
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "1000000"})
    stall: dict[str, float] = {}

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        event = feed_watchdog_from(notifier, Clock.schedule_interval)
        yield lambda: len(pings) >= 4
        stall["start"] = time.monotonic()
        time.sleep(3.0)  # the UI thread hangs (this script runs on it)
        stall["end"] = time.monotonic()
        yield lambda: any(p > stall["end"] for p in pings) and len([p for p in pings if p > stall["end"]]) >= 2
        event.cancel()

    try:
        run_with(sample_state(Screen.ATTRACT, "en"), script)
    finally:
        done.set()
        for thread in threads:
            thread.join(2)
        listener.close()
        notifier.close()
    before = [p for p in pings if p < stall["start"]]
    during = [p for p in pings if stall["start"] + 0.3 < p < stall["end"]]
    assert len(before) >= 4 and max(b - a for a, b in itertools.pairwise(before)) < 1.0  # within WatchdogSec
    assert during == []  # not one ping while the UI thread hung: past WatchdogSec (1 s) systemd acts
    assert len([b for b in beats if stall["start"] < b < stall["end"]]) >= 10  # the other thread kept going
