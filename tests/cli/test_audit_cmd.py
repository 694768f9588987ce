"""``kiosk audit verify | export`` as staff and an auditor run them: exit 0 on an intact trail, 1 naming the
first modified, deleted or reordered entry — in the kiosk's trail and in an export — and exports an
auditor can read back."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.audit import parse_export, verify_export
from kiosk.app.cli.main import main
from kiosk.services.audit_log import AuditLog

KIOSK = Path(sys.executable).with_name("kiosk")
PICKUP = "P-00000000000000AB"


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "audit.sqlite3"
    with AuditLog(path, "kiosk-01") as log:
        log.append("clerk07", "clerk", "clerk.sign_in", "ok")
        for n in range(3):
            log.append("clerk07", "clerk", "pickup.checks", "ok", subject=PICKUP,
                       details={"checks": {"auth_chain": "passed"}, "n": n})
        log.append("clerk07", "clerk", "clerk.sign_out", "ok")
    yield path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def tamper(path: Path, script: str) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(script)


def test_an_intact_trail_passes(trail: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "audit", "verify", "--db", str(trail))
    assert code == 0
    assert "intact — 5 entries, seq 1–5" in out and "nothing acknowledged by the central server yet" in out
    code, out, _ = run(capsys, "audit", "verify", "--db", str(trail), "--json")
    document = json.loads(out)
    assert code == 0 and document["valid"] is True and document["chains"][0]["entries"] == 5


@pytest.mark.parametrize(("script", "kind", "words"), [
    ("UPDATE entries SET outcome = 'refused' WHERE seq = 3", "modified",
     "entry 3 (seq 3) was modified: its content no longer matches its hash"),
    ("DELETE FROM entries WHERE seq = 3", "deleted", "seq 3 is missing before entry 3 (seq 4): 1 entry was deleted"),
    ("INSERT INTO entries (seq, kiosk_id, at, actor, role, action, outcome, subject, details, prev_hash, hash)"
     " SELECT 99, kiosk_id, at, actor, role, action, outcome, subject, details, prev_hash, hash FROM entries"
     " WHERE seq = 2; DELETE FROM entries WHERE seq = 2; UPDATE entries SET seq = 2 WHERE seq = 99",
     "reordered", "entry 2 (seq 3) is out of order: seq 2 should come before it"),
])
def test_a_tampered_trail_fails_naming_the_first_bad_entry(trail: Path, capsys: pytest.CaptureFixture[str],
                                                           script: str, kind: str, words: str) -> None:
    tamper(trail, script)
    code, out, _ = run(capsys, "audit", "verify", "--db", str(trail))
    assert code == 1
    assert f"BROKEN — {words}" in out
    code, out, _ = run(capsys, "audit", "verify", "--db", str(trail), "--json")
    assert code == 1 and json.loads(out)["chains"][0]["break"]["kind"] == kind


@pytest.mark.parametrize("export_format", ["jsonl", "csv"])
def test_an_export_reads_back_and_verifies(trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           export_format: str) -> None:
    target = tmp_path / f"audit.{export_format}"
    code, _, err = run(capsys, "audit", "export", "--db", str(trail), "--format", export_format, "--out", str(target))
    assert code == 0 and "5 entries written" in err
    assert target.stat().st_mode & 0o077 == 0
    with AuditLog(trail, "kiosk-01") as log:
        assert parse_export(target.read_text(encoding="utf-8")) == log.entries()
    code, out, _ = run(capsys, "audit", "verify", "--file", str(target))
    assert code == 0 and "kiosk kiosk-01: intact — 5 entries" in out
    code, out, _ = run(capsys, "audit", "export", "--db", str(trail), "--format", export_format)
    assert code == 0 and out == target.read_text(encoding="utf-8")


@pytest.mark.parametrize(("change", "kind"), [("modify", "modified"), ("delete", "deleted"), ("swap", "reordered")])
def test_a_tampered_export_fails(trail: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], change: str,
                                 kind: str) -> None:
    target = tmp_path / "audit.jsonl"
    run(capsys, "audit", "export", "--db", str(trail), "--format", "jsonl", "--out", str(target))
    lines = target.read_text(encoding="utf-8").splitlines(keepends=True)
    if change == "modify":
        lines[2] = lines[2].replace('"outcome":"ok"', '"outcome":"failed"')
    elif change == "delete":
        del lines[2]
    else:
        lines[1], lines[2] = lines[2], lines[1]
    target.write_text("".join(lines), encoding="utf-8")
    code, out, _ = run(capsys, "audit", "verify", "--file", str(target), "--json")
    assert code == 1
    (chain,) = json.loads(out)["chains"]
    assert (chain["valid"], chain["break"]["kind"]) == (False, kind)
    assert verify_export(parse_export(target.read_text(encoding="utf-8")))[0].problem is not None


def test_the_trail_comes_from_the_configuration_and_is_never_created(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text('[audit]\npath = "state/audit.sqlite3"\n', encoding="utf-8")
    code, _, err = run(capsys, "audit", "verify", "--config", str(config))
    assert code == 2 and "there is no audit trail here" in err
    assert not (tmp_path / "state").exists()  # verifying creates nothing
    with AuditLog(tmp_path / "state" / "audit.sqlite3", "kiosk-01") as log:
        log.append("system", "system", "clerk.timeout", "ok")
    code, out, _ = run(capsys, "audit", "verify", "--config", str(config))
    assert code == 0 and "intact — 1 entry, seq 1–1" in out
    code, out, _ = run(capsys, "audit", "verify", "--config", str(config), "--json", "--file", str(tmp_path / "x"))
    assert code == 2 and json.loads(out)["error"]["code"] == "audit"
    config.write_text('[audit]\npath = ""\n', encoding="utf-8")
    code, _, err = run(capsys, "audit", "verify", "--config", str(config))
    assert code == 2 and "audit.path" in err


def test_the_installed_command(trail: Path) -> None:
    result = subprocess.run([str(KIOSK), "audit", "verify", "--db", str(trail)], capture_output=True, text=True,
                            timeout=120, check=False, env={**os.environ}, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "intact" in result.stdout
