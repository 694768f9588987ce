"""The operator commands against the real PC/SC stack: sim serve, demo, doctor, card readers/probe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.pcsc.conftest import wait_for_card

pytestmark = pytest.mark.pcsc
KIOSK = Path(sys.executable).with_name("kiosk")
ADULT = REPO / "config" / "cards" / "adult.toml"


def kiosk(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(KIOSK), *args], capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL, env=os.environ.copy())


@pytest.fixture
def sim_serve(vpcd_readers):
    """``kiosk sim serve`` as a separate process, stopped with SIGTERM (the card is removed)."""
    process = subprocess.Popen([str(KIOSK), "sim", "serve", "--profile", str(ADULT), "--reader-index", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_card(vpcd_readers[1], present=True, timeout=20)
        yield vpcd_readers[1]
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
        assert process.returncode == 0, err
        assert "card removed" in out
        wait_for_card(vpcd_readers[1], present=False)


def test_sim_serve_then_readers_and_probe(sim_serve) -> None:
    readers = json.loads(kiosk("card", "readers", "--json").stdout)["readers"]
    assert {r["reader"]: r["card"] for r in readers}[sim_serve] is True
    probe = kiosk("card", "probe", "--reader", sim_serve, "--json")
    assert probe.returncode == 0, probe.stderr
    document = json.loads(probe.stdout)
    assert document["my_number_card"] is True
    assert [a["key"] for a in document["applications"]] == ["jpki", "card_info", "card_surface", "juki"]
    assert document["apdu_count"] == 4


def test_doctor_sees_the_served_card(sim_serve) -> None:
    result = kiosk("doctor", "--json")
    document = json.loads(result.stdout)
    by_check = {f["check"]: f for f in document["findings"]}
    card = by_check[f"card in {sim_serve}"]
    assert card["status"] == "ok" and card["data"]["applications"][:2] == ["jpki", "card_info"]
    assert by_check["pcscd"]["status"] == "ok"


def test_demo_once_serves_and_checks(vpcd_readers) -> None:
    began = time.monotonic()
    result = kiosk("demo", "--once", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    findings = {f["check"]: f for f in json.loads(result.stdout)["findings"]}
    card = findings[f"card in {vpcd_readers[0]}"]
    assert card["status"] == "ok" and card["data"]["my_number_card"] is True
    assert time.monotonic() - began < 60
    wait_for_card(vpcd_readers[0], present=False)


def test_doctor_reports_a_wrong_config_key_with_its_fix(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text("[timeouts]\nidle_second = 30\n")
    result = kiosk("doctor", "--config", str(config), "--no-probe")
    assert result.returncode == 1
    assert "unknown key 'timeouts.idle_second' — did you mean 'timeouts.idle_seconds'?" in result.stdout
    assert "fix:" in result.stdout
