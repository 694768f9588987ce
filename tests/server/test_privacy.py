"""No personal value submitted to the server shows up in its logs or, in clear, in its database.

The flows run with fresh synthetic values (name, e-mail, phone, application id, photo, basic 4, clerk
password), including error paths that are most likely to echo input (validation errors, conflicts,
lookups with the id in the path or the query string). Then every log line the server wrote and every
row of every table are searched for them. On SQLite the raw database and WAL files are searched too.
"""

from __future__ import annotations

import base64
import logging
import secrets
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server.models import Base
from server.routes import health
from server.settings import Settings
from tests.server.helpers import LiveServer, idempotency_key, in_process, noise_jpeg, now_iso
from tests.server.pickup_helpers import handover_body

pytestmark = pytest.mark.server


def _needles() -> dict[str, str]:
    tag = secrets.token_hex(4)
    return {
        "name": f"漏洩試験 花子 {tag}",
        "email": f"leak-{tag}@example.invalid",
        "phone": f"+81 90 {secrets.randbelow(9000) + 1000} {secrets.randbelow(9000) + 1000}",
        "application_id": "".join(secrets.choice("0123456789") for _ in range(23)),
        "basic4_name": f"基本四情報 {tag}",
        "address": f"試験県試験市{tag}町1-2-3",
        "password": f"Secret-password-{tag}",
    }


def _run_flows(server: LiveServer, values: dict[str, str], photo: bytes) -> None:
    kiosk = server.session("kiosk-01")
    body = {
        "application_id": values["application_id"],
        "photo_jpeg_base64": base64.b64encode(photo).decode(),
        "contact": {"name": values["name"], "email": values["email"], "phone": values["phone"]},
        "submitted_at": now_iso(),
    }
    key = idempotency_key()
    url = server.url("/v1/applications")
    assert kiosk.post(url, json=body, headers={"Idempotency-Key": key}).status_code == 201
    assert kiosk.post(url, json=body, headers={"Idempotency-Key": key}).status_code == 200
    assert kiosk.post(url, json=body, headers={"Idempotency-Key": idempotency_key()}).status_code == 409
    bad_contact = {**body, "contact": {"name": values["name"], "email": values["email"] + " broken"}}
    assert kiosk.post(url, json=bad_contact, headers={"Idempotency-Key": idempotency_key()}).status_code == 422
    bad_id = {**body, "application_id": values["application_id"] + "9"}
    assert kiosk.post(url, json=bad_id, headers={"Idempotency-Key": idempotency_key()}).status_code == 422
    assert kiosk.get(server.url(f"/v1/applications/{values['application_id']}")).status_code == 200
    assert kiosk.get(server.url(f"/v1/applications/{values['application_id']}0")).status_code == 422

    username, password = server.add_clerk("operator")
    wrong = kiosk.post(server.url("/v1/clerk/sessions"), json={"username": username, "password": values["password"]})
    assert wrong.status_code == 401
    token = kiosk.post(server.url("/v1/clerk/sessions"), json={"username": username, "password": password}).json()
    auth = {"Authorization": f"Bearer {token['token']}"}
    basic4 = {"name": values["basic4_name"], "address": values["address"], "birth_date": "19700707", "sex": "2"}
    pickup_body: dict[str, Any] = {
        "application_id": values["application_id"],
        "notice_number": "N-" + secrets.token_hex(4),
        "card": {"auth_cert_serial": "abcdef", "issuer_key_id": "0a" * 20},
        "basic4": basic4,
    }
    pickup = kiosk.post(server.url("/v1/pickups"), json=pickup_body, headers=auth)
    assert pickup.status_code == 201, pickup.text
    pickup_id = pickup.json()["pickup_id"]
    found = kiosk.get(server.url("/v1/pickups"), params={"application_id": values["application_id"]}, headers=auth)
    assert found.status_code == 200
    check = kiosk.post(server.url(f"/v1/pickups/{pickup_id}/basic4-check"), json={"basic4": basic4}, headers=auth)
    assert check.json()["match"] is True
    bad_basic4 = {**basic4, "sex": "7"}
    bad = kiosk.post(server.url(f"/v1/pickups/{pickup_id}/basic4-check"), json={"basic4": bad_basic4}, headers=auth)
    assert bad.status_code == 422
    grant = kiosk.post(server.url(f"/v1/pickups/{pickup_id}/handover-grants"), headers=auth)
    assert grant.status_code == 201, grant.text
    values["grant"] = grant.json()["grant"]  # a credential: only its hash may be stored or seen
    handover = handover_body("abcdef", now_iso(), values["grant"])
    done = kiosk.post(server.url(f"/v1/pickups/{pickup_id}/handover"), json=handover, headers={"Idempotency-Key": key})
    assert done.status_code == 200
    call = {"call_id": str(uuid.uuid4()), "called_at": now_iso()}
    assert kiosk.post(server.url("/v1/staff-calls"), json=call).status_code == 201
    leaky_call = {**call, "call_id": str(uuid.uuid4()), "name": values["name"]}
    assert kiosk.post(server.url("/v1/staff-calls"), json=leaky_call).status_code == 422  # no personal field rides


def _forms(values: dict[str, str], photo: bytes) -> dict[str, bytes]:
    """Each value as the bytes that would betray it (UTF-8), plus slices of the raw and base64 photo."""
    forms = {name: value.encode("utf-8") for name, value in values.items()}
    middle = len(photo) // 2
    forms["photo raw"] = photo[middle : middle + 48]
    forms["photo base64"] = base64.b64encode(photo)[1000:1064]
    return forms


def test_nothing_personal_in_logs_or_database(server: LiveServer) -> None:
    values = _needles()
    photo = noise_jpeg(600, 800, seed=secrets.randbelow(10_000))
    before = len(server.logs.lines)
    _run_flows(server, values, photo)
    log_text = "\n".join(server.logs.lines[before:])
    assert "route=/v1/applications/{application_id}" in log_text  # the log did capture these requests
    assert "kiosk=kiosk-01" in log_text
    for name, value in values.items():
        assert value not in log_text, f"{name} leaked into the server log"
    forms = _forms(values, photo)
    assert forms["photo base64"].decode() not in log_text

    dump = bytearray()
    with server.context.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                for cell in row:
                    dump += cell if isinstance(cell, bytes) else str(cell).encode("utf-8")
                    dump += b"\0"
    for name, needle in forms.items():
        assert needle not in dump, f"{name} is stored in clear in the database"

    if server.backend == "sqlite":
        database = Path(server.db_url.removeprefix("sqlite:///"))
        for path in database.parent.glob(database.name + "*"):
            raw = path.read_bytes()
            for name, needle in forms.items():
                assert needle not in raw, f"{name} is in clear in {path.name}"


def test_an_unexpected_error_is_a_json_500_and_logged_without_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "".join(secrets.choice("0123456789") for _ in range(23))

    def explode(**_kwargs: object) -> None:
        raise RuntimeError(f"something quoting {secret}")

    monkeypatch.setattr(health, "Health", explode)
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}", secret_file=tmp_path / "secret")
    with caplog.at_level(logging.DEBUG), in_process(settings, None) as call:
        response = call("GET", "/healthz", headers={"X-Request-ID": "test-request-0001"})
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "message": "Internal error; quote request id test-request-0001.",
    }
    assert "unhandled RuntimeError at " in caplog.text
    assert "health.py:" in caplog.text
    assert "request_id=test-request-0001" in caplog.text
    assert secret not in caplog.text
