"""Handover grants: issued to a signed-in clerk, bound to one pickup and one kiosk, single use, and valid long
after the clerk's 30-minute session (the handover may wait in the kiosk's outbox)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from server.grants import grant_digest
from server.models import HandoverGrant
from tests.server.helpers import LiveServer, application_id, basic4, idempotency_key, notice_number, now_iso
from tests.server.pickup_helpers import handover_body

pytestmark = pytest.mark.server

SERIAL = "0c0ffee1"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _pickup(server: LiveServer) -> str:
    body = {
        "application_id": application_id(),
        "notice_number": notice_number(),
        "card": {"auth_cert_serial": SERIAL, "issuer_key_id": "0b" * 20},
        "basic4": basic4(),
    }
    response = server.session().post(server.url("/v1/pickups"), json=body, headers=_bearer(server.token("operator")))
    assert response.status_code == 201, response.text
    return str(response.json()["pickup_id"])


def _grant(server: LiveServer, pickup_id: str, *, token: str | None = None, kiosk: str = "kiosk-01") -> Any:
    token = token or server.token(kiosk=kiosk)
    return server.session(kiosk).post(server.url(f"/v1/pickups/{pickup_id}/handover-grants"), headers=_bearer(token))


def _handover(
    server: LiveServer, pickup_id: str, grant: str, *, key: str | None = None, kiosk: str = "kiosk-01"
) -> Any:
    return server.session(kiosk).post(
        server.url(f"/v1/pickups/{pickup_id}/handover"),
        json=handover_body(SERIAL, now_iso(), grant),
        headers={"Idempotency-Key": key or idempotency_key()},
    )


def test_a_grant_needs_a_live_clerk_session(server: LiveServer) -> None:
    pickup_id = _pickup(server)
    url = server.url(f"/v1/pickups/{pickup_id}/handover-grants")
    assert server.session().post(url).status_code == 401
    assert server.session().post(url, headers=_bearer("not-a-token")).json()["error"] == "token_invalid"
    token = server.token()
    server.clock.advance(server.context.settings.clerk_token_lifetime + timedelta(seconds=1))
    expired = server.session().post(url, headers=_bearer(token))
    assert (expired.status_code, expired.json()["error"]) == (401, "token_expired")


def test_the_grant_is_shown_once_and_stored_only_as_its_hash(server: LiveServer) -> None:
    pickup_id = _pickup(server)
    response = _grant(server, pickup_id)
    assert response.status_code == 201, response.text
    issued = response.json()
    assert issued["pickup_id"] == pickup_id and issued["kiosk_id"] == "kiosk-01"
    expires = datetime.fromisoformat(issued["expires_at"].replace("Z", "+00:00"))
    lifetime = server.context.settings.handover_grant_lifetime
    assert abs(expires - (datetime.now(UTC) + lifetime)) < timedelta(minutes=1)
    with server.context.sessions() as session:
        row = session.scalar(select(HandoverGrant).where(HandoverGrant.grant_sha256 == grant_digest(issued["grant"])))
        assert row is not None and row.used_at is None and row.kiosk_id == "kiosk-01"
        stored = [str(cell) for row in session.execute(select(HandoverGrant.__table__)) for cell in row]
    assert not any(issued["grant"] in cell for cell in stored)


def test_a_handover_lands_days_after_the_clerk_session_ended(server: LiveServer) -> None:
    """The outbox case: authorised at the counter, signed out, recorded after a long outage."""
    pickup_id = _pickup(server)
    token = server.token()
    grant = _grant(server, pickup_id, token=token).json()["grant"]
    assert server.session().delete(server.url("/v1/clerk/sessions/current"), headers=_bearer(token)).status_code == 204
    server.clock.advance(timedelta(days=6, hours=23))
    done = _handover(server, pickup_id, grant)
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "handed_over" and done.json()["clerk"].startswith("clerk-")


def test_an_expired_grant_is_refused(server: LiveServer) -> None:
    pickup_id = _pickup(server)
    grant = _grant(server, pickup_id).json()["grant"]
    server.clock.advance(server.context.settings.handover_grant_lifetime + timedelta(seconds=1))
    refused = _handover(server, pickup_id, grant)
    assert (refused.status_code, refused.json()["error"]) == (403, "grant_expired")


def test_a_grant_is_bound_to_its_pickup_and_its_kiosk(server: LiveServer) -> None:
    first, second = _pickup(server), _pickup(server)
    grant = _grant(server, first).json()["grant"]
    other_pickup = _handover(server, second, grant)
    assert (other_pickup.status_code, other_pickup.json()["error"]) == (403, "grant_invalid")
    other_kiosk = _handover(server, first, grant, kiosk="kiosk-02")
    assert (other_kiosk.status_code, other_kiosk.json()["error"]) == (403, "grant_invalid")
    made_up = _handover(server, first, "A" * 43)
    assert (made_up.status_code, made_up.json()["error"]) == (403, "grant_invalid")
    assert _handover(server, first, grant).status_code == 200  # the refusals did not use it up


def test_a_used_grant_replays_for_its_key_and_is_refused_for_any_other(server: LiveServer) -> None:
    pickup_id = _pickup(server)
    grant = _grant(server, pickup_id).json()["grant"]
    key = idempotency_key()
    body = handover_body(SERIAL, now_iso(), grant)
    url = server.url(f"/v1/pickups/{pickup_id}/handover")
    first = server.session().post(url, json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 200 and first.json()["duplicate"] is False
    server.clock.advance(timedelta(days=30))  # even after expiry: the lost answer is replayed
    replay = server.session().post(url, json=body, headers={"Idempotency-Key": key})
    assert replay.status_code == 200 and replay.json() == {**first.json(), "duplicate": True}
    server.clock.reset()
    other_key = server.session().post(url, json=body, headers={"Idempotency-Key": idempotency_key()})
    assert (other_key.status_code, other_key.json()["error"]) == (403, "grant_used")


def test_a_malformed_or_missing_grant_is_a_422(server: LiveServer) -> None:
    pickup_id = _pickup(server)
    url = server.url(f"/v1/pickups/{pickup_id}/handover")
    without_grant = {k: v for k, v in handover_body(SERIAL, now_iso(), "G" * 43).items() if k != "grant"}
    for body in (without_grant, handover_body(SERIAL, now_iso(), "short"),
                 handover_body(SERIAL, now_iso(), "x" * 42 + "!")):
        response = server.session().post(url, json=body, headers={"Idempotency-Key": idempotency_key()})
        assert response.status_code == 422, body


def test_a_clerk_token_alone_no_longer_records_a_handover(server: LiveServer) -> None:
    pickup_id = _pickup(server)
    response = server.session().post(
        server.url(f"/v1/pickups/{pickup_id}/handover"),
        json={k: v for k, v in handover_body(SERIAL, now_iso(), "G" * 43).items() if k != "grant"},
        headers={**_bearer(server.token()), "Idempotency-Key": idempotency_key()},
    )
    assert response.status_code == 422
    assert any(f["field"] == "body.grant" for f in response.json()["fields"])
