"""The kiosk as a systemd service: the unit verifies, the installer stages it, and the watchdog restarts a
kiosk whose UI stopped answering (under a harness that does what systemd does with the unit's settings)."""

from __future__ import annotations

import configparser
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, require
from tests.deploy.watchdog_harness import WatchdogSupervisor

UNIT = REPO / "deploy" / "systemd" / "mynumber-kiosk.service"
RUN_DEMO = ("from kiosk.config import load_config; from kiosk.app.wiring import run_app; "
            "raise SystemExit(run_app(load_config(), demo=True))")


def unit_settings(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    analyze = shutil.which("systemd-analyze")
    require(analyze is not None, "systemd-analyze is missing (apt package systemd; scripts/setup installs it)")
    assert analyze is not None
    return subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False)


def test_the_kiosk_unit_passes_systemd_analyze_verify_without_a_warning() -> None:
    result = verify(UNIT)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_systemd_analyze_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a misspelt key and a missing program are reported."""
    broken = tmp_path / "mynumber-kiosk.service"
    text = UNIT.read_text(encoding="utf-8").replace("WatchdogSec=", "WatchDogSeconds=")
    broken.write_text(text.replace("/usr/bin/cage", "/usr/bin/no-such-cage"), encoding="utf-8")
    result = verify(broken)
    assert "WatchDogSeconds" in result.stderr and "no-such-cage" in result.stderr


def test_the_unit_locks_the_session_down_and_restarts_a_hung_kiosk() -> None:
    service = unit_settings(UNIT)["Service"]
    assert service["Type"] == "notify" and service["NotifyAccess"] == "all"  # READY/WATCHDOG from cage's child
    assert int(service["WatchdogSec"]) > 0 and service["Restart"] == "always"
    assert service["RestartPreventExitStatus"] == "2"  # a configuration error waits for the operator
    assert service["User"] == "mynumber-kiosk" and service["NoNewPrivileges"] == "yes"
    command = service["ExecStart"].split()
    assert command[0] == "/usr/bin/cage" and "-s" not in command  # no VT switching out of the kiosk
    assert command[command.index("--") + 1:] == ["/opt/mynumber-kiosk/bin/kiosk", "run"]
    assert "SDL_VIDEO_ALLOW_SCREENSAVER=0" in service["Environment"]  # the screen never blanks
    assert service["StateDirectory"] == "mynumber-kiosk" and service["UMask"] == "0077"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_install_kiosk_stages_a_working_kiosk_the_unit_and_the_config(tmp_path: Path) -> None:
    root = tmp_path / "root"
    result = subprocess.run([str(REPO / "scripts" / "install-kiosk"), "--root", str(root), "--no-enable"], cwd=REPO,
                            capture_output=True, text=True, timeout=840, check=False,
                            env=dict(os.environ, PYTHON=sys.executable))
    assert result.returncode == 0, result.stdout + result.stderr
    staged_unit = root / "etc" / "systemd" / "system" / "mynumber-kiosk.service"
    assert staged_unit.read_bytes() == UNIT.read_bytes()
    config = root / "etc" / "mynumber-kiosk" / "kiosk.toml"
    assert config.read_bytes() == (REPO / "config" / "kiosk.toml").read_bytes()
    assert oct(config.stat().st_mode & 0o777) == "0o640"
    kiosk = root / "opt" / "mynumber-kiosk" / "bin" / "kiosk"
    env = dict(os.environ, KIOSK_CONFIG=str(config), KIOSK_STATE_DIR=str(tmp_path / "state"))
    doctor = subprocess.run([str(kiosk), "doctor", "--config", str(config), "--json"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert "configuration" in doctor.stdout, doctor.stderr
    again = subprocess.run([str(REPO / "scripts" / "install-kiosk"), "--root", str(root), "--no-enable"], cwd=REPO,
                           capture_output=True, text=True, timeout=840, check=False,
                           env=dict(os.environ, PYTHON=sys.executable))
    assert again.returncode == 0 and "wrote" not in again.stdout  # an operator's config is never overwritten


@pytest.mark.ui
@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_frozen_kiosk_stops_feeding_the_watchdog_and_is_restarted(tmp_path: Path) -> None:
    env = dict(os.environ, SDL_VIDEODRIVER="offscreen", PYTHONUNBUFFERED="1", KIOSK_STATE_DIR=str(tmp_path / "st"))
    supervisor = WatchdogSupervisor([sys.executable, "-c", RUN_DEMO], env, tmp_path, watchdog_seconds=3.0)
    try:
        first = supervisor.current
        assert supervisor.run_until(lambda: first.ready_at is not None and len(first.pings) >= 3, 120), \
            supervisor.log()
        gaps = [b - a for a, b in zip([first.ready_at, *first.pings], first.pings, strict=False)]
        assert max(gaps) < 3.0  # fed well within WatchdogSec while it runs
        first.process.send_signal(signal.SIGSTOP)  # the kiosk hangs (every thread, the UI thread with them)
        assert supervisor.run_until(lambda: len(supervisor.incarnations) == 2, 30)
        assert first.killed_by_watchdog and first.process.returncode is not None
        second = supervisor.current
        assert supervisor.run_until(lambda: second.ready_at is not None and len(second.pings) >= 2, 120), \
            supervisor.log()
        second.process.terminate()  # systemctl stop: a clean end, exit 0
        assert second.process.wait(30) == 0
    finally:
        supervisor.close()
