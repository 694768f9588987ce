"""``kiosk doctor`` tells the operator what waits in the outbox, without changing it (no daemon needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from kiosk.app.doctor import FAIL, OK, WARN, check_outbox
from kiosk.config import KioskConfig, OutboxSection, ServerSection
from kiosk.services.errors import Rejected
from kiosk.services.outbox import Outbox
from tests.services import synthetic
from tests.services.conftest import TEST_KEY

KIOSK = Path(sys.executable).with_name("kiosk")
SERVER = ServerSection(url="https://central.example.invalid", ca_bundle="ca.pem", client_cert="k.pem",
                       client_key="k.key")


def config_for(tmp_path: Path, *, server: ServerSection = SERVER) -> KioskConfig:
    return KioskConfig(server=server, outbox=OutboxSection(path=str(tmp_path / "outbox.sqlite3"),
                                                           key_file=str(tmp_path / "outbox.key")))


def test_no_outbox_yet_is_fine_and_nothing_is_created(tmp_path: Path) -> None:
    finding = check_outbox(config_for(tmp_path))
    assert finding is not None and finding.status == OK and finding.data["depth"] == 0
    assert list(tmp_path.iterdir()) == []


def test_no_central_server_is_a_warning(tmp_path: Path) -> None:
    finding = check_outbox(config_for(tmp_path, server=ServerSection()))
    assert finding is not None and finding.status == WARN and "no central server" in finding.detail


def test_depth_and_age_are_reported_and_an_old_item_is_a_warning(tmp_path: Path) -> None:
    two_hours_ago = time.time() - 7200
    with Outbox(tmp_path / "outbox.sqlite3", TEST_KEY, clock=lambda: two_hours_ago) as outbox:
        outbox.enqueue("application", synthetic.application(1))
    finding = check_outbox(config_for(tmp_path))
    assert finding is not None and finding.status == WARN
    assert finding.data["depth"] == 1 and finding.data["oldest_age_seconds"] >= 7199
    assert "1 waiting, oldest 120 min" in finding.detail


def test_a_fresh_item_is_ok_and_a_refused_one_is_a_warning(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.sqlite3", TEST_KEY) as outbox:
        outbox.enqueue("application", synthetic.application(1))
        assert check_outbox(config_for(tmp_path)).status == OK
        refused = outbox.enqueue("application", synthetic.application(2)).item_id

        def reject(_item: object) -> None:
            raise Rejected(422, "invalid_photo", "x")

        outbox.deliver(outbox.claim(refused), reject)
    finding = check_outbox(config_for(tmp_path))
    assert finding.status == WARN and finding.data["dead"] == 1 and "kiosk outbox status" in finding.fix


def test_a_file_that_is_not_an_outbox_fails_with_a_fix(tmp_path: Path) -> None:
    (tmp_path / "outbox.sqlite3").write_bytes(b"not a database" * 100)
    finding = check_outbox(config_for(tmp_path))
    assert finding.status == FAIL and "not a readable outbox" in finding.detail


def test_the_doctor_command_shows_the_outbox_in_json(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[outbox]\npath = "{tmp_path / "outbox.sqlite3"}"\n', encoding="utf-8")
    with Outbox(tmp_path / "outbox.sqlite3", TEST_KEY) as outbox:
        for n in range(3):
            outbox.enqueue("application", synthetic.application(n))
    result = subprocess.run([str(KIOSK), "doctor", "--config", str(config), "--no-probe", "--json"],
                            capture_output=True, text=True, timeout=120, check=False, env={**os.environ})
    findings = {f["check"]: f for f in json.loads(result.stdout)["findings"]}
    assert findings["outbox"]["data"]["depth"] == 3
    assert findings["outbox"]["status"] == WARN  # the demo configuration names no central server
