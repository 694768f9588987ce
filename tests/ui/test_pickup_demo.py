"""The counter as ``kiosk demo --counter`` builds it, by touch: the local reference server seeds DEMO clerk
accounts and the pickups of the new-card demo residents; the clerk signs in on the on-screen keyboard, looks
up DEMO-0001, puts the new card on the reader from the demo tray, the resident sets the PINs on the panel,
the clerk compares the photos and hands the card over, and the server records it."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.app.local_central import start_local_central
from kiosk.app.wiring import build_runtime
from kiosk.config import load_config, state_dir
from kiosk.core.view import Screen
from kiosk.ui.frames import settle
from tests.conftest import REPO
from tests.ui.card_check_script import WAIT_FRAMES, insert_from_tray, on
from tests.ui.helpers import run_runtime, tap

pytestmark = [pytest.mark.ui, pytest.mark.server]

CONFIG = REPO / "config" / "counter-demo.toml"


def keys_of(screen: Any) -> dict[str, Any]:
    return {key.text: key for key in screen.ids.keyboard.children}


def type_keys(runtime: Any, text: str) -> Iterator[Any]:
    yield from settle(runtime.app.root)
    keys = keys_of(runtime.app.root.current)
    for char in text:
        yield from tap(keys[char])


def type_pin(runtime: Any, pin: str) -> Iterator[Any]:
    """A PIN twice on the resident's panel (number pad or, for the sign password, the keyboard)."""
    for _ in range(2):
        yield from settle(runtime.app.root)
        screen = runtime.app.root.current
        pad = screen.ids.keyboard if screen.sign else screen.ids.pad
        keys = {key.text: key for key in pad.children}
        for char in pin:
            yield from tap(keys[char])
        yield from tap(screen.ids.submit)


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("KIOSK_STATE_DIR", str(folder))
    return folder


def test_the_counter_demo_hands_over_a_new_card_end_to_end(state: Path) -> None:
    config = load_config(CONFIG)
    central = start_local_central(config, state_dir())
    seen: dict[str, Any] = {}
    try:
        runtime = build_runtime(dataclasses.replace(config, server=central.section), demo=True, speaker=None,
                                staff_hash="")  # revocation asked of the local server, as in the demo
        password = central.accounts["demo-clerk"]

        def script() -> Iterator[Any]:
            app = runtime.app
            yield from settle(app.root)
            yield on(runtime, Screen.CLERK_SIGN_IN)
            yield 30
            seen["sign_in_clerk_theme"] = app.theme.clerk
            yield from type_keys(runtime, "demo-clerk")
            yield from tap(app.root.current.ids.submit)  # next: the password
            yield from type_keys(runtime, password)
            yield (lambda: app.view.clerk is not None and app.view.clerk.password_entered == len(password)), WAIT_FRAMES
            yield from settle(app.root)
            seen["password_dots"] = app.root.current.ids.password.value
            yield from tap(app.root.current.ids.submit)
            yield on(runtime, Screen.CLERK_HOME)
            seen["band"] = app.root.ids.clerk_band.text
            yield from type_keys(runtime, "DEMO-0001")
            yield from tap(app.root.current.ids.look_up)
            yield on(runtime, Screen.PICKUP_APPLICATION)
            yield from settle(app.root)
            seen["holder"] = app.root.current.ids.name.value
            yield from insert_from_tray(runtime, "new-card")
            yield from tap(app.root.current.ids.read_card)
            yield on(runtime, Screen.PICKUP_CHECKS)
            yield from settle(app.root)
            seen["checks"] = {c.name: c.status for c in app.view.pickup.checks}
            yield from tap(app.root.current.ids.next)
            yield on(runtime, Screen.PIN_SETUP)
            yield from settle(app.root)
            seen["panel_theme_clerk"] = app.theme.clerk
            seen["panel_name"] = app.view.pickup.holder_name
            yield from tap(app.root.current.ids.submit)  # start
            for pin in ("SIGN2026", "1357", "2468", "3579"):
                yield (lambda: app.view.pickup is not None and app.view.pickup.pin_target is not None), WAIT_FRAMES
                yield from type_pin(runtime, pin)
            yield on(runtime, Screen.PICKUP_COMPARE)
            yield from settle(app.root)
            seen["photos"] = (app.root.current.application_texture is not None,
                              app.root.current.card_texture is not None)
            seen["checks_after_pins"] = {c.name: c.status for c in app.view.pickup.checks}
            yield from tap(app.root.current.ids.same)
            yield on(runtime, Screen.PICKUP_FINISH)
            yield from settle(app.root)
            seen["needs_override"] = app.view.pickup.needs_override
            assert seen["needs_override"] == (), app.view.pickup.checks
            yield from tap(app.root.current.ids.notification_card)
            yield from settle(app.root)
            yield from tap(app.root.current.ids.hand_over)
            yield on(runtime, Screen.PICKUP_DONE)
            yield (lambda: app.view.pickup is not None and app.view.pickup.handover == "delivered"), WAIT_FRAMES
            seen["done"] = app.view.pickup.handover
            yield from tap(app.root.current.ids.next)
            yield (lambda: app.view.screen in (Screen.TAKE_CARD, Screen.CLERK_HOME)), WAIT_FRAMES
            seen["after"] = app.view.pickup

        run_runtime(runtime, script)
        database = state / "demo-server.db"
        with sqlite3.connect(database) as db:
            seen["server"] = db.execute("SELECT status FROM pickups WHERE notice_number = 'DEMO-0001'").fetchone()
    finally:
        central.stop()
    assert seen["sign_in_clerk_theme"] is True and seen["panel_theme_clerk"] is False
    assert seen["password_dots"].startswith("●" * len(password))
    assert "demo-clerk" in seen["band"]
    assert seen["holder"].replace(" ", "") == "新規交付子"
    assert seen["checks"]["card_verified"] == "passed" and seen["checks"]["card_identity"] == "passed"
    assert seen["panel_name"] is None  # the resident's panel carries no name
    assert seen["photos"] == (True, True)
    assert seen["checks_after_pins"]["basic4_match"] == "passed"
    assert seen["checks_after_pins"]["pins_set"] == "passed"
    assert seen["done"] == "delivered"
    assert seen["after"] is None or seen["after"].holder_name is None
    assert seen["server"] == ("handed_over",)
