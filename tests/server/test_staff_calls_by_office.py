"""A clerk sees and acknowledges the "call staff" requests of the kiosks of their office; a clerk without an
office (a one-office city) sees them all; a kiosk without an office is everyone's. And ``kiosk server
add-kiosk/add-clerk --office``."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, update

from server.app import build_context
from server.cli import main
from server.models import Clerk, Kiosk
from server.pki_demo import DemoPki
from server.settings import Settings
from tests.server.helpers import LiveServer, now_iso

pytestmark = pytest.mark.server


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def offices(server: LiveServer) -> Iterator[dict[str, str]]:
    """kiosk-01 in one office, kiosk-02 in another (fresh names); every kiosk back to no office afterwards."""
    names = {"kiosk-01": f"north-{secrets.token_hex(3)}", "kiosk-02": f"south-{secrets.token_hex(3)}"}
    _set_offices(server, names)
    try:
        yield names
    finally:
        _set_offices(server, dict.fromkeys(names))


def _set_offices(server: LiveServer, offices: dict[str, str | None]) -> None:
    with server.context.sessions() as session:
        for kiosk_id, office in offices.items():
            session.execute(update(Kiosk).where(Kiosk.kiosk_id == kiosk_id).values(office=office))
        session.commit()


def _clerk_token(server: LiveServer, office: str | None) -> str:
    username, _password = server.add_clerk()
    with server.context.sessions() as session:
        session.execute(update(Clerk).where(Clerk.username == username).values(office=office))
        session.commit()
    return server.quick_token(username)


def _call(server: LiveServer, kiosk: str) -> str:
    call_id = str(uuid.uuid4())
    response = server.session(kiosk).post(server.url("/v1/staff-calls"), json={"call_id": call_id,
                                                                               "called_at": now_iso()})
    assert response.status_code == 201, response.text
    return call_id


def _seen(server: LiveServer, token: str) -> set[str]:
    response = server.session().get(server.url("/v1/staff-calls"), params={"limit": 500}, headers=_bearer(token))
    assert response.status_code == 200, response.text
    return {call["call_id"] for call in response.json()["calls"]}


def test_a_clerk_sees_the_calls_of_their_office(server: LiveServer, offices: dict[str, str]) -> None:
    north_call, south_call = _call(server, "kiosk-01"), _call(server, "kiosk-02")
    north, south, anywhere = (_clerk_token(server, offices["kiosk-01"]), _clerk_token(server, offices["kiosk-02"]),
                              _clerk_token(server, None))
    assert north_call in _seen(server, north) and south_call not in _seen(server, north)
    assert south_call in _seen(server, south) and north_call not in _seen(server, south)
    assert {north_call, south_call} <= _seen(server, anywhere)


def test_a_call_of_another_office_cannot_be_acknowledged(server: LiveServer, offices: dict[str, str]) -> None:
    south_call = _call(server, "kiosk-02")
    north = _clerk_token(server, offices["kiosk-01"])
    url = server.url(f"/v1/staff-calls/{south_call}/ack")
    refused = server.session().post(url, headers=_bearer(north))
    assert (refused.status_code, refused.json()["error"]) == (404, "staff_call_not_found")
    south = _clerk_token(server, offices["kiosk-02"])
    taken = server.session().post(url, headers=_bearer(south))
    assert (taken.status_code, taken.json()["status"]) == (200, "acknowledged")


def test_a_kiosk_without_an_office_is_seen_by_every_clerk(server: LiveServer, offices: dict[str, str]) -> None:
    _set_offices(server, {"kiosk-02": None})
    unassigned = _call(server, "kiosk-02")
    assert unassigned in _seen(server, _clerk_token(server, offices["kiosk-01"]))
    assert unassigned in _seen(server, _clerk_token(server, "an-office-with-no-kiosk"))


# --- the CLI ----------------------------------------------------------------------------------------------


def _db(tmp_path: Path) -> list[str]:
    return ["--db", f"sqlite:///{tmp_path / 'cli.db'}", "--secret-file", str(tmp_path / "secret")]


def test_add_kiosk_and_add_clerk_take_an_office(demo_pki: DemoPki, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    cert = demo_pki.kiosks["kiosk-unregistered"].cert
    assert main(["add-kiosk", "k-east", "--cert", str(cert), "--office", "東庁舎", *_db(tmp_path)]) == 0
    monkeypatch.setenv("CLERK_PW", "a-long-enough-password")
    assert main(["add-clerk", "sato", "--role", "supervisor", "--office", "東庁舎", "--password-env", "CLERK_PW",
                 *_db(tmp_path)]) == 0
    assert main(["add-clerk", "suzuki", "--password-env", "CLERK_PW", *_db(tmp_path)]) == 0
    assert main(["add-clerk", "tanaka", "--office", " ", "--password-env", "CLERK_PW", *_db(tmp_path)]) == 1
    assert os.environ["CLERK_PW"]  # read from the environment, never an argument
    context = build_context(
        Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}", secret_file=tmp_path / "secret"),
        lambda: datetime.now(UTC),
    )
    try:
        with context.sessions() as session:
            kiosk = session.get(Kiosk, "k-east")
            assert kiosk is not None and kiosk.office == "東庁舎"
            clerks = {c.username: (c.role, c.office) for c in session.scalars(select(Clerk))}
        assert clerks == {"sato": ("supervisor", "東庁舎"), "suzuki": ("clerk", None)}
    finally:
        context.engine.dispose()
