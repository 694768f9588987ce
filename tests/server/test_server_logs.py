"""Structured logs: ``[server] log_format = "json"`` gives one JSON object per line (time, level, logger, message,
request id, route template, status, duration); ``"auto"`` gives JSON under the systemd journal and text at a
terminal; and no line — in either format — holds an application id, a name, an address, photo bytes or a
My Number, whatever the requests carried."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import secrets
import uuid
from pathlib import Path
from typing import Any

import pytest

from server.cli import main as cli_main
from server.logs import JsonFormatter, resolve
from server.pki_demo import DemoPki
from server.routes import health
from server.settings import Settings
from tests.server.helpers import in_process, noise_jpeg, now_iso
from tests.server.serve_helpers import ServeProcess, free_port, serve_process, write_config

pytestmark = pytest.mark.server

ROUTES = {
    "/v1/applications", "/v1/applications/{application_id}", "/v1/applications/{application_id}/status",
    "/v1/clerk/sessions", "/v1/pickups", "/v1/pickups/{pickup_id}/basic4-check", "/v1/staff-calls",
    "/v1/staff-calls/{call_id}", "/healthz", "/readyz",
}


def _needles() -> dict[str, str]:
    tag = secrets.token_hex(4)
    return {
        "application_id": "".join(secrets.choice("0123456789") for _ in range(23)),
        "name": f"記録試験 花子 {tag}",
        "email": f"log-{tag}@example.invalid",
        "phone": f"+81 90 {secrets.randbelow(9000) + 1000} {secrets.randbelow(9000) + 1000}",
        "basic4_name": f"基本四情報 {tag}",
        "address": f"試験県記録市{tag}町4-5-6",
        "my_number": "".join(secrets.choice("0123456789") for _ in range(12)),
        "password": f"Log-test-password-{tag}",
    }


def _flows(running: ServeProcess, values: dict[str, str], photo: bytes, clerk: tuple[str, str]) -> None:
    kiosk = running.client("kiosk-01")
    url = running.base_url
    body: dict[str, Any] = {
        "application_id": values["application_id"],
        "photo_jpeg_base64": base64.b64encode(photo).decode(),
        "contact": {"name": values["name"], "email": values["email"], "phone": values["phone"]},
        "submitted_at": now_iso(),
    }
    key = str(uuid.uuid4())
    given_id = "log-test-" + secrets.token_hex(8)
    first = kiosk.post(f"{url}/v1/applications", json=body, headers={"Idempotency-Key": key, "X-Request-ID": given_id})
    assert first.status_code == 201, first.text
    assert kiosk.post(f"{url}/v1/applications", json=body, headers={"Idempotency-Key": key}).status_code == 200
    assert kiosk.post(f"{url}/v1/applications", json=body,
                      headers={"Idempotency-Key": str(uuid.uuid4())}).status_code == 409
    with_number = {**body, "my_number": values["my_number"]}  # the server never takes one: refused, not logged
    assert kiosk.post(f"{url}/v1/applications", json=with_number,
                      headers={"Idempotency-Key": str(uuid.uuid4())}).status_code == 422
    assert kiosk.get(f"{url}/v1/applications/{values['application_id']}").status_code == 200
    assert kiosk.get(f"{url}/v1/applications/{values['application_id']}/status").status_code == 200
    assert kiosk.get(f"{url}/v1/applications/{values['application_id'][:-1]}7/status").status_code in (200, 404)

    wrong = kiosk.post(f"{url}/v1/clerk/sessions", json={"username": clerk[0], "password": values["password"]})
    assert wrong.status_code == 401
    token = kiosk.post(f"{url}/v1/clerk/sessions", json={"username": clerk[0], "password": clerk[1]}).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    basic4 = {"name": values["basic4_name"], "address": values["address"], "birth_date": "19700707", "sex": "2"}
    pickup = kiosk.post(f"{url}/v1/pickups", headers=auth, json={
        "application_id": values["application_id"], "notice_number": "N-" + secrets.token_hex(4),
        "card": {"auth_cert_serial": "abcdef", "issuer_key_id": "0a" * 20}, "basic4": basic4})
    assert pickup.status_code == 201, pickup.text
    found = kiosk.get(f"{url}/v1/pickups", params={"application_id": values["application_id"]}, headers=auth)
    assert found.status_code == 200
    check = kiosk.post(f"{url}/v1/pickups/{pickup.json()['pickup_id']}/basic4-check", json={"basic4": basic4},
                       headers=auth)
    assert check.json()["match"] is True

    call = {"call_id": str(uuid.uuid4()), "called_at": now_iso()}
    assert kiosk.post(f"{url}/v1/staff-calls", json=call).status_code == 201
    leaky = {"call_id": str(uuid.uuid4()), "called_at": now_iso(), "name": values["name"]}
    assert kiosk.post(f"{url}/v1/staff-calls", json=leaky).status_code == 422
    assert kiosk.delete(f"{url}/v1/staff-calls/{call['call_id']}").status_code == 200
    values["given_request_id"] = given_id


def _lines(text: str) -> list[dict[str, Any]]:
    records = []
    for line in text.splitlines():
        if line.strip():
            record = json.loads(line)  # every line is one JSON object, or this fails
            assert isinstance(record, dict), line
            records.append(record)
    return records


@pytest.mark.slow
def test_json_logs_carry_the_request_fields_and_nothing_personal(demo_pki: DemoPki, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'server.db'}"
    config = write_config(tmp_path, demo_pki, url, port=free_port(), server={"log_format": '"json"'})
    clerk = (f"operator-{secrets.token_hex(3)}", secrets.token_urlsafe(16))
    os.environ["LOG_TEST_PASSWORD"] = clerk[1]
    try:
        assert cli_main(["add-clerk", clerk[0], "--role", "operator", "--password-env", "LOG_TEST_PASSWORD",
                         "--db", url, "--secret-file", str(tmp_path / "state" / "server.secret")]) == 0
    finally:
        del os.environ["LOG_TEST_PASSWORD"]
    values = _needles()
    photo = noise_jpeg(640, 800, seed=secrets.randbelow(10_000))
    with serve_process(config, demo_pki) as running:
        _flows(running, values, photo, clerk)
    raw = (tmp_path / "server.log").read_bytes()
    records = _lines(raw.decode("utf-8"))

    for record in records:
        assert {"time", "level", "logger", "message", "process"} <= set(record), record
        assert record["time"].endswith("Z")
    access = [r for r in records if r["logger"] == "server.access"]
    assert len(access) >= 15
    for record in access:
        assert isinstance(record["status"], int) and isinstance(record["duration_ms"], float), record
        assert record["route"] in ROUTES, record["route"]
        assert record["method"] in {"GET", "POST", "DELETE"}
        assert len(record["request_id"]) >= 8
    mine = [r for r in access if r["request_id"] == values["given_request_id"]]
    assert [(r["route"], r["status"], r["kiosk"]) for r in mine] == [("/v1/applications", 201, "kiosk-01")]
    assert any(r["route"] == "/v1/applications/{application_id}/status" for r in access)
    assert any(r["logger"] == "uvicorn.error" and "startup complete" in r["message"] for r in records)

    text = raw.decode("utf-8")
    for name in ("application_id", "name", "email", "phone", "basic4_name", "address", "my_number", "password"):
        assert values[name] not in text, f"{name} leaked into the log"
    assert base64.b64encode(photo)[2000:2064].decode() not in text
    assert photo[len(photo) // 2: len(photo) // 2 + 48] not in raw


@pytest.mark.slow
def test_auto_writes_json_to_the_journal_stream(demo_pki: DemoPki, tmp_path: Path) -> None:
    config = write_config(tmp_path, demo_pki, f"sqlite:///{tmp_path / 'server.db'}", port=free_port())
    log = tmp_path / "server.log"
    log.touch()
    found = log.stat()  # serve_process writes into this very file: it stands in for the journal's socket
    env = {"JOURNAL_STREAM": f"{found.st_dev}:{found.st_ino}"}
    with serve_process(config, demo_pki, env=env) as running, running.client() as session:
        assert session.get(f"{running.base_url}/healthz").status_code == 200
    records = _lines(log.read_text(encoding="utf-8"))
    assert any(r.get("route") == "/healthz" and r.get("status") == 200 for r in records)


def test_auto_is_text_unless_standard_error_is_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream_file, other_file = tmp_path / "stream", tmp_path / "other"
    stream_file.touch()
    other_file.touch()
    with stream_file.open("w") as stream:
        monkeypatch.delenv("JOURNAL_STREAM", raising=False)
        assert resolve("auto", stream) == "text"
        journal = other_file.stat()
        monkeypatch.setenv("JOURNAL_STREAM", f"{journal.st_dev}:{journal.st_ino}")  # inherited, another stream
        assert resolve("auto", stream) == "text"
        mine = stream_file.stat()
        monkeypatch.setenv("JOURNAL_STREAM", f"{mine.st_dev}:{mine.st_ino}")
        assert resolve("auto", stream) == "json"
        assert resolve("text", stream) == "text"
        monkeypatch.setenv("JOURNAL_STREAM", "garbage")
        assert resolve("auto", stream) == "text"
    assert resolve("auto", io.StringIO()) == "text"  # no file descriptor at all
    assert Settings().log_format == "auto"
    assert Settings.from_mapping({"server": {"log_format": "json"}}).log_format == "json"
    with pytest.raises(ValueError, match=r"server\.log_format must be one of auto, text, json"):
        Settings.from_mapping({"server": {"log_format": "xml"}})


def test_a_line_written_during_a_request_names_its_request_and_route_not_its_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "".join(secrets.choice("0123456789") for _ in range(23))

    def explode(**_kwargs: object) -> None:
        raise RuntimeError(f"something quoting {secret}")

    monkeypatch.setattr(health, "Health", explode)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    target = logging.getLogger("server")
    level = target.level
    target.addHandler(handler)
    target.setLevel(logging.INFO)
    try:
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", secret_file=tmp_path / "secret")
        with in_process(settings, None) as call:
            assert call("GET", "/healthz", headers={"X-Request-ID": "json-request-0001"}).status_code == 500
    finally:
        target.removeHandler(handler)
        target.setLevel(level)
    records = _lines(stream.getvalue())
    error = next(r for r in records if r["logger"] == "server.error")
    assert error["level"] == "ERROR"
    assert error["request_id"] == "json-request-0001"
    assert error["route"] == "/healthz"
    assert "unhandled RuntimeError at " in error["message"] and "health.py:" in error["message"]
    access = next(r for r in records if r["logger"] == "server.access")
    assert (access["route"], access["status"], access["request_id"]) == ("/healthz", 500, "json-request-0001")
    assert "kiosk" not in access  # no kiosk called: the text line's "-" is left out
    assert secret not in stream.getvalue()
