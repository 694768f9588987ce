"""The OpenAPI document in the repository is the contract: it must equal what the code generates."""

from __future__ import annotations

import json

import pytest

from server.app import create_app
from server.cli import OPENAPI_FILE, main, openapi_text
from server.settings import Settings

pytestmark = pytest.mark.server


def test_the_committed_openapi_matches_the_app() -> None:
    committed = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    generated = create_app(Settings()).openapi()
    assert committed == generated, "server/openapi.json is stale: run `python -m server.cli export-openapi`"
    assert OPENAPI_FILE.read_text(encoding="utf-8") == openapi_text()


def test_export_check_mode(tmp_path: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export-openapi", "--check"]) == 0
    stale = tmp_path / "openapi.json"  # type: ignore[operator]
    stale.write_text("{}")
    assert main(["export-openapi", "--check", "--output", str(stale)]) == 1
    assert main(["export-openapi", "--output", str(stale)]) == 0
    assert json.loads(stale.read_text()) == create_app(Settings()).openapi()


def test_the_contract_documents_auth_and_errors() -> None:
    schema = create_app(Settings()).openapi()
    assert schema["components"]["securitySchemes"]["kioskCertificate"]["type"] == "mutualTLS"
    submit = schema["paths"]["/v1/applications"]["post"]
    assert submit["security"] == [{"kioskCertificate": []}]
    assert {"200", "201", "409", "422"} <= set(submit["responses"])
    header = next(p for p in submit["parameters"] if p["name"] == "Idempotency-Key")
    assert header["required"] is True
    handover = schema["paths"]["/v1/pickups/{pickup_id}/handover"]["post"]
    assert handover["security"] == [{"kioskCertificate": []}]  # the grant in the body authorises it
    assert "403" in handover["responses"]
    grant = schema["paths"]["/v1/pickups/{pickup_id}/handover-grants"]["post"]
    assert grant["security"] == [{"kioskCertificate": [], "clerkToken": []}]
    calls = schema["paths"]["/v1/staff-calls"]
    assert calls["post"]["security"] == [{"kioskCertificate": []}]
    assert {"200", "201", "409", "422"} <= set(calls["post"]["responses"])
    assert calls["get"]["security"] == [{"kioskCertificate": [], "clerkToken": []}]
    assert schema["paths"]["/v1/staff-calls/{call_id}"]["delete"]["security"] == [{"kioskCertificate": []}]
    ack = schema["paths"]["/v1/staff-calls/{call_id}/ack"]["post"]
    assert ack["security"] == [{"kioskCertificate": [], "clerkToken": []}]
    assert "security" not in schema["paths"]["/healthz"]["get"]
