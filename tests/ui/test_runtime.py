"""``kiosk.ui.runtime``: the CLI's entry points — no display, signals, the window it opens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.config import load_config
from kiosk.ui.runtime import EXIT_NO_DISPLAY, display_problem, run_app, sdl_video_driver, window_opened

pytestmark = pytest.mark.ui

REPO = Path(__file__).resolve().parents[2]
RUN_DEMO = "from kiosk.config import load_config; from kiosk.ui.runtime import run_app; " \
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
