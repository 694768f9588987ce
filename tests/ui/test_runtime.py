"""``kiosk.app.wiring``: the CLI's entry points — no display, signals, the window it opens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.app.wiring import run_app
from kiosk.config import load_config
from kiosk.ui.window import EXIT_NO_DISPLAY, display_problem, sdl_video_driver, window_opened

pytestmark = pytest.mark.ui

REPO = Path(__file__).resolve().parents[2]
RUN_DEMO = "from kiosk.config import load_config; from kiosk.app.wiring import run_app; " \
           "raise SystemExit(run_app(load_config(), demo=True))"


def test_without_a_display_run_app_says_how_to_proceed(monkeypatch, capsys) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert run_app(load_config(), demo=True) == EXIT_NO_DISPLAY
    message = capsys.readouterr().err
    assert "kiosk demo --tour DIR" in message and "SDL_VIDEODRIVER=offscreen" in message


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, False),
    ({"DISPLAY": ":0"}, True),
    ({"WAYLAND_DISPLAY": "wayland-0"}, True),
    ({"SDL_VIDEODRIVER": "kmsdrm"}, True),
])
def test_display_detection(environ: dict[str, str], expected: bool) -> None:
    assert (display_problem(environ, "linux") is None) is expected
    assert display_problem({}, "win32") is None


def test_the_test_window_is_the_offscreen_one_that_was_asked_for() -> None:
    assert sdl_video_driver() == "offscreen"
    assert window_opened()  # offscreen is accepted because SDL_VIDEODRIVER asks for it


def test_sigterm_stops_the_kiosk_cleanly() -> None:
    """systemd's stop (SIGTERM) must end the app, even though a window close request is refused."""
    env = dict(os.environ, SDL_VIDEODRIVER="offscreen", PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-c", RUN_DEMO], cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed right before the main loop starts
        assert line.startswith("kiosk demo:"), line + process.stderr.read() if process.stderr else line
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_running_kiosk_delivers_its_outbox_and_stops_the_flusher(tmp_path: Path) -> None:
    """`kiosk run` / `kiosk demo` start the outbox flusher: an application queued while the kiosk was
    down reaches the central server with no CLI step, and stopping the kiosk joins the flusher."""
    import dataclasses
    import threading

    from kiosk.app.local_central import start_local_central
    from kiosk.app.wiring import build_runtime
    from kiosk.config import load_config
    from kiosk.services.outbox import open_outbox, peek_status
    from tests.services import synthetic

    base = load_config()
    central = start_local_central(base, tmp_path / "var")
    try:
        config = dataclasses.replace(base, server=central.section, outbox=dataclasses.replace(
            base.outbox, path=str(tmp_path / "outbox.sqlite3"), key_file=str(tmp_path / "outbox.key")))
        with open_outbox(config) as outbox:
            outbox.enqueue("application", synthetic.application(7, jpeg_quality=77))
        runtime = build_runtime(config, demo=True, delay="off", speaker=None, staff_hash="", revocation=None)
        assert runtime.flusher is not None
        runtime.start()
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                status = peek_status(tmp_path / "outbox.sqlite3")
                if status is not None and status.delivered == 1:
                    break
                time.sleep(0.1)
            assert status is not None and (status.delivered, status.depth) == (1, 0)
        finally:
            runtime.stop()
        assert not [t for t in threading.enumerate() if t.name == "outbox-flusher"]
    finally:
        central.stop()


def test_without_a_central_server_nothing_is_opened() -> None:
    from kiosk.app.wiring import build_runtime
    from kiosk.config import load_config

    config = load_config()
    assert not config.server.configured
    runtime = build_runtime(config, demo=True, delay="off", speaker=None, staff_hash="", revocation=None)
    assert runtime.flusher is None and runtime.outbox is None
