"""``kiosk outbox status | flush | purge``: human and JSON output, exit codes, nothing personal printed.

The command is registered on a parser built here, exactly as ``kiosk/cli/main.py`` will register it.
"""

from __future__ import annotations

import argparse
import json
import os
import stat
from pathlib import Path

import pytest

from kiosk.app.cli import outbox_cmd
from kiosk.config import load_config
from kiosk.services.errors import Rejected
from kiosk.services.outbox import Delivered, OutboxItem, flusher_from_config, open_outbox
from tests.services import synthetic
from tests.services.fake_central import wait_until


def kiosk(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="kiosk")
    outbox_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)


def refuse(item: OutboxItem) -> Delivered:
    raise Rejected(422, "invalid_photo", "not a JPEG")


@pytest.fixture
def config_file(tmp_path: Path, pki, central) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f"""
[timeouts]
http_connect_seconds = 1
http_read_seconds = 2

[server]
url = "{central.url}"
ca_bundle = "{pki.ca_cert}"
client_cert = "{pki.client_cert}"
client_key = "{pki.client_key}"

[outbox]
path = "state/outbox.sqlite3"
key_file = "state/outbox.key"
backoff_base_seconds = 0.01
backoff_max_seconds = 0.05
""")
    return path


def test_status_of_a_fresh_outbox_creates_key_and_database(config_file: Path, capsys) -> None:
    assert kiosk(["outbox", "status", "--config", str(config_file)]) == 0
    out = capsys.readouterr().out
    assert "0 queued, 0 delivered, 0 dead" in out
    key = config_file.parent / "state" / "outbox.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_status_flush_purge_round_trip(config_file: Path, central, capsys) -> None:
    config = load_config(config_file)
    applications = [synthetic.application(n) for n in range(3)]
    with open_outbox(config) as outbox:
        for application in applications:
            outbox.enqueue("application", application)
        dead = outbox.enqueue("application", synthetic.application(9))
        outbox.deliver(outbox.claim(dead.item_id), refuse)

    assert kiosk(["outbox", "status", "--config", str(config_file), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["depth"] == 3 and status["oldest_age_seconds"] >= 0
    assert [(d["local_number"], d["last_error"]) for d in status["dead"]] == [("000004", "invalid_photo")]
    assert status["capacity"]["accepting"] is True and status["capacity"]["reason"] is None

    assert kiosk(["outbox", "status", "--config", str(config_file)]) == 0
    human = capsys.readouterr().out
    assert "3 queued" in human and "1 dead" in human and "000004" in human and "invalid_photo" in human
    assert "new applications: accepted" in human

    assert kiosk(["outbox", "flush", "--config", str(config_file)]) == 0
    assert "delivered 3, refused (dead) 0, still queued 0" in capsys.readouterr().out
    assert len(central.ledger.applications) == 3

    assert kiosk(["outbox", "purge", "--older-than", "0", "--config", str(config_file), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"dead_removed": 1, "delivery_records_removed": 3}

    everything = human + json.dumps(status)
    for application in applications:
        for needle in synthetic.personal_needles(application).values():
            assert needle.decode("utf-8", "ignore") not in everything


def test_flush_with_the_server_down_reports_why_and_exits_1(config_file: Path, central, capsys) -> None:
    with open_outbox(load_config(config_file)) as outbox:
        outbox.enqueue("application", synthetic.application(1))
    central.stop()
    assert kiosk(["outbox", "flush", "--config", str(config_file)]) == 1
    out = capsys.readouterr().out
    assert "still queued 1" in out and "cannot be reached" in out
    assert kiosk(["outbox", "flush", "--config", str(config_file), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["blocked_by"] == "unreachable"


def test_exposed_key_file_is_refused_with_the_fix(config_file: Path, capsys) -> None:
    kiosk(["outbox", "status", "--config", str(config_file)])
    key = config_file.parent / "state" / "outbox.key"
    os.chmod(key, 0o644)
    capsys.readouterr()
    assert kiosk(["outbox", "status", "--config", str(config_file)]) == 2
    assert f"chmod 600 {key}" in capsys.readouterr().err


def test_purge_needs_a_sane_number_of_days(config_file: Path, capsys) -> None:
    for bad in ("-1", "soon"):
        with pytest.raises(SystemExit):
            kiosk(["outbox", "purge", "--older-than", bad, "--config", str(config_file)])
    assert "days" in capsys.readouterr().err


def test_flush_without_server_settings_says_which(tmp_path: Path, capsys) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text('[outbox]\npath = "o.sqlite3"\nkey_file = "o.key"\n')
    assert kiosk(["outbox", "flush", "--config", str(path)]) == 2
    assert "server.ca_bundle" in capsys.readouterr().err


def test_the_kiosk_wiring_from_configuration(config_file: Path, central) -> None:
    """What ``kiosk run`` does: open the outbox and start its flusher from the same configuration."""
    config = load_config(config_file)
    events = []
    with open_outbox(config) as outbox:
        flusher = flusher_from_config(config, outbox, listener=events.append).start()
        try:
            outbox.enqueue("application", synthetic.application(5))
            assert wait_until(lambda: outbox.status().depth == 0)
        finally:
            flusher.stop()
            assert flusher.join(10)
    assert [e.outcome for e in events] == ["delivered"]
    assert list(central.ledger.applications) == [synthetic.application_id(5)]
