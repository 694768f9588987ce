"""The composition root starts the heartbeat sender and stops it: ``kiosk demo`` (the real app offscreen, its
simulated reader and the local reference server) reports the kiosk online with its reader, and SIGTERM still
ends the process cleanly. A subprocess: Kivy opens one window per process."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.ui, pytest.mark.slow]

RUN_DEMO = "from kiosk.app.cli.main import main; raise SystemExit(main(['demo']))"


def _kiosk_row(database: Path) -> tuple[Any, ...] | None:
    if not database.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as db:
            return db.execute("SELECT last_heartbeat_at, reader_state, outbox_depth, version FROM kiosks").fetchone()
    except sqlite3.Error:  # the server is still creating its schema
        return None


def test_kiosk_demo_sends_heartbeats_and_stops_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "KIOSK_STATE_DIR": str(tmp_path / "state"), "SDL_VIDEODRIVER": "offscreen",
           "KIVY_NO_ARGS": "1", "KIVY_NO_CONSOLELOG": "1", "KIVY_NO_FILELOG": "1", "KIVY_HOME": str(tmp_path / "kivy"),
           "KIVY_USE_DEFAULTCONFIG": "1", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-c", RUN_DEMO], cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed when the app starts its main loop
        assert line.startswith("kiosk demo:"), line
        started = time.monotonic()
        row = None
        while time.monotonic() - started < 30:
            row = _kiosk_row(tmp_path / "state" / "demo-server.db")
            if row is not None and row[0] is not None and row[1] == "ok":
                break
            time.sleep(0.2)
        assert row is not None and row[0] is not None, "no heartbeat reached the local server"
        assert (row[1], row[2]) == ("ok", 0)  # the simulated reader, an empty outbox
        process.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        assert process.wait(timeout=20) == 0
        assert time.monotonic() - stopping < 20
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
