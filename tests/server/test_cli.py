"""``kiosk server …`` (server.cli.main): demo PKI, registering kiosks and clerks, seeding pickups."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from sqlalchemy import select

from server.app import build_context
from server.cli import main
from server.deps import ServerContext
from server.models import Clerk, Kiosk, Pickup
from server.security import verify_password
from server.settings import Settings
from tests.conftest import REPO
from tests.server.helpers import application_id, basic4, noise_jpeg

pytestmark = pytest.mark.server


def _db(tmp_path: Path) -> list[str]:
    return ["--db", f"sqlite:///{tmp_path / 'cli.db'}", "--secret-file", str(tmp_path / "secret")]


def _context(tmp_path: Path) -> ServerContext:
    return build_context(
        Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}", secret_file=tmp_path / "secret"),
        lambda: datetime.now(UTC),
    )


def test_importing_the_cli_has_no_side_effects(tmp_path: Path) -> None:
    code = "import server.cli, server.app, server.serve; print('ok')"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
    assert list(tmp_path.iterdir()) == []


def test_demo_pki(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo-pki", str(tmp_path / "pki"), "--kiosk", "k1", "--kiosk", "k2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["kiosks"]) == {"k1", "k2"}
    for path in (tmp_path / "pki").rglob("*"):
        if path.suffix == ".key":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        if path.suffix == ".pem":
            subject = x509.load_pem_x509_certificate(path.read_bytes()).subject.rfc4514_string()
            assert "DEMO" in subject and "TEST" in subject, subject
    server = x509.load_pem_x509_certificate((tmp_path / "pki" / "server.pem").read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    # A second run extends the PKI and keeps the CA (kiosk certificates stay valid).
    ca_before = (tmp_path / "pki" / "ca.pem").read_bytes()
    assert main(["demo-pki", str(tmp_path / "pki"), "--kiosk", "k3"]) == 0
    assert (tmp_path / "pki" / "ca.pem").read_bytes() == ca_before


def test_add_kiosk_and_clerk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["demo-pki", str(tmp_path / "pki"), "--kiosk", "k1"]) == 0
    assert main(["add-kiosk", "k1", "--cert", str(tmp_path / "pki" / "kiosks" / "k1.pem"), *_db(tmp_path)]) == 0
    monkeypatch.setenv("CLERK_PW", "a long enough password")
    assert main(["add-clerk", "sato", "--role", "operator", "--password-env", "CLERK_PW", *_db(tmp_path)]) == 0
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600
    context = _context(tmp_path)
    with context.sessions() as session:
        kiosk = session.get(Kiosk, "k1")
        clerk = session.scalar(select(Clerk).where(Clerk.username == "sato"))
    context.engine.dispose()
    assert kiosk is not None and len(kiosk.cert_sha256) == 64
    assert clerk is not None and clerk.role == "operator"
    assert verify_password("a long enough password", clerk.password_hash)


def test_add_clerk_refuses_without_a_password_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", open(os.devnull))  # noqa: SIM115 - not a terminal
    assert main(["add-clerk", "sato", *_db(tmp_path)]) == 1
    assert "--password-env" in capsys.readouterr().err
    monkeypatch.setenv("SHORT_PW", "short")
    assert main(["add-clerk", "sato", "--password-env", "SHORT_PW", *_db(tmp_path)]) == 1
    assert "at least" in capsys.readouterr().err
    assert main(["add-clerk", "sato", "--password-env", "UNSET_VARIABLE_XYZ", *_db(tmp_path)]) == 1


def test_add_pickup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    basic4_file = tmp_path / "basic4.json"
    basic4_file.write_text(json.dumps(basic4()), encoding="utf-8")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(noise_jpeg(600, 800))
    monkeypatch.setenv("APP_ID", application_id())
    args = [
        "add-pickup",
        "--application-id-env",
        "APP_ID",
        "--notice-number",
        "N-CLI-1",
        "--card-serial",
        "0A0B",
        "--issuer-key-id",
        "0a" * 20,
        "--basic4-file",
        str(basic4_file),
        "--photo",
        str(photo),
        "--json",
    ]
    assert main([*args, *_db(tmp_path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["notice_number"] == "N-CLI-1"
    assert "photo_jpeg_base64" not in out
    context = _context(tmp_path)
    with context.sessions() as session:
        pickup = session.scalar(select(Pickup).where(Pickup.notice_number == "N-CLI-1"))
    context.engine.dispose()
    assert pickup is not None and pickup.card_auth_cert_serial == "a0b"
    assert main([*args, *_db(tmp_path)]) == 1  # the notice number exists now
    assert "notice number" in capsys.readouterr().err


def test_serve_refuses_plain_http(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve"]) == 1
    assert "HTTPS only" in capsys.readouterr().err


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2


# --- the fleet: kiosks, kiosk-disable, kiosk-enable, kiosk-history ---------------------------------------------


def _fleet(tmp_path: Path, kiosks: dict[str, dict[str, object]]) -> None:
    """Register kiosks (demo certificates) and write what their last heartbeat said, as the route stores it."""
    names = list(kiosks)
    assert main(["demo-pki", str(tmp_path / "pki"), *[arg for k in names for arg in ("--kiosk", k)]]) == 0
    for name in names:
        certificate = str(tmp_path / "pki" / "kiosks" / f"{name}.pem")
        assert main(["add-kiosk", name, "--cert", certificate, *_db(tmp_path)]) == 0
    context = _context(tmp_path)
    with context.sessions() as session, session.begin():
        for name, values in kiosks.items():
            kiosk = session.get(Kiosk, name)
            assert kiosk is not None
            for column, value in values.items():
                setattr(kiosk, column, value)
    context.engine.dispose()


def _ago(**delta: float) -> datetime:
    from datetime import timedelta

    return datetime.now(UTC) - timedelta(**delta)


HEALTHY = {"version": "1.4.0", "reader_state": "ok", "outbox_depth": 0, "outbox_dead": 0}


def test_kiosks_lists_the_fleet_and_exits_1_when_one_needs_attention(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kiosks", *_db(tmp_path)]) == 0
    assert "no kiosks registered" in capsys.readouterr().out
    _fleet(tmp_path, {
        "k1": {**HEALTHY, "last_heartbeat_at": _ago(seconds=20), "outbox_depth": 2, "outbox_oldest_age_seconds": 95.0},
        "k2": {**HEALTHY, "last_heartbeat_at": _ago(minutes=10)},
        "k3": {},
    })
    capsys.readouterr()
    assert main(["kiosks", *_db(tmp_path)]) == 1
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:4]}
    assert rows["k1"][:4] == ["k1", "online", "ok", "20s"] and "2/1m" in rows["k1"]
    assert rows["k2"][:4] == ["k2", "silent", "ok", "10m"]
    assert rows["k3"][:4] == ["k3", "never_seen", "unknown", "never"]
    assert "1 of 3 kiosks need attention (silent or unhealthy): k2" in out

    assert main(["kiosks", "--problems", *_db(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "k2" in out and "k1 " not in out and "k3" not in out

    context = _context(tmp_path)
    with context.sessions() as session, session.begin():
        k1 = session.get(Kiosk, "k1")
        assert k1 is not None
        k1.reader_state, k1.last_error_code, k1.last_error_at = "reader_error", "reader_error", _ago(minutes=2)
    context.engine.dispose()
    assert main(["kiosks", "--problems", "--json", *_db(tmp_path)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["needing_attention"] == ["k1", "k2"]
    k1_data = next(k for k in data["kiosks"] if k["kiosk_id"] == "k1")
    assert k1_data["problems"] == ["reader_error", "recent_error"] and k1_data["health"] == "unhealthy"
    assert datetime.fromisoformat(k1_data["last_heartbeat_at"]).tzinfo is not None


def test_kiosk_disable_enable_and_history(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fleet(tmp_path, {"k1": {**HEALTHY, "last_heartbeat_at": _ago(seconds=5)},
                      "k2": {**HEALTHY, "last_heartbeat_at": _ago(minutes=10)}})
    capsys.readouterr()
    reason = "Screen cracked; replacement ordered"
    assert main(["kiosk-disable", "k2", "--reason", reason, *_db(tmp_path)]) == 0
    assert "k2 disabled" in capsys.readouterr().out
    assert main(["kiosks", "--json", *_db(tmp_path)]) == 0  # a disabled kiosk alarms nobody
    states = {k["kiosk_id"]: k["state"] for k in json.loads(capsys.readouterr().out)["kiosks"]}
    assert states == {"k1": "online", "k2": "disabled"}
    assert main(["kiosk-disable", "k2", "--reason", reason, *_db(tmp_path)]) == 0
    assert "already disabled" in capsys.readouterr().out
    assert main(["kiosk-enable", "k2", *_db(tmp_path)]) == 0
    assert "k2 enabled" in capsys.readouterr().out
    assert main(["kiosks", *_db(tmp_path)]) == 1  # silent again, and enabled

    capsys.readouterr()
    assert main(["kiosk-history", "k2", "--json", *_db(tmp_path)]) == 0
    actions = json.loads(capsys.readouterr().out)["actions"]
    assert [(a["action"], a["reason"], a["via_kiosk_id"]) for a in actions] == [("disabled", reason, None),
                                                                                ("enabled", None, None)]
    assert all(a["actor"].startswith("cli:") for a in actions)
    context = _context(tmp_path)
    with context.sessions() as session:
        k2 = session.get(Kiosk, "k2")
        assert k2 is not None and k2.enabled and (k2.enabled_changed_by or "").startswith("cli:")
    context.engine.dispose()


@pytest.mark.parametrize(("args", "message"), [
    (["kiosk-disable", "k9", "--reason", "Screen cracked"], "no kiosk 'k9'"),
    (["kiosk-disable", "k1", "--reason", "no"], "5-500 characters"),
    (["kiosk-disable", "bad id!", "--reason", "Screen cracked"], "a kiosk id is"),
    (["kiosk-enable", "k9"], "no kiosk 'k9'"),
])
def test_fleet_commands_refuse_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                             message: str) -> None:
    _fleet(tmp_path, {"k1": {}})
    capsys.readouterr()
    assert main([*args, *_db(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_kiosk_disable_needs_a_reason() -> None:
    with pytest.raises(SystemExit) as exited:
        main(["kiosk-disable", "k1"])
    assert exited.value.code == 2
