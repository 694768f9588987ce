""""Call staff": kiosks report and take back calls (mTLS), clerks list the open ones and acknowledge them.

A call is only which kiosk and when; a retry with the same kiosk-made id is the same call.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from server.models import StaffCall
from tests.server.helpers import LiveServer, now_iso

pytestmark = pytest.mark.server


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _report(server: LiveServer, call_id: str | None = None, *, kiosk: str = "kiosk-01", **extra: Any) -> Any:
    body = {"call_id": call_id or str(uuid.uuid4()), "called_at": now_iso(), **extra}
    return server.session(kiosk).post(server.url("/v1/staff-calls"), json=body)


def _open_calls(server: LiveServer, token: str) -> list[dict[str, Any]]:
    response = server.session().get(server.url("/v1/staff-calls"), headers=_bearer(token))
    assert response.status_code == 200, response.text
    listing = response.json()
    assert listing["count"] == len(listing["calls"])
    return list(listing["calls"])


def _count(server: LiveServer, call_id: str) -> int:
    with server.context.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(StaffCall).where(StaffCall.call_id == call_id)))


def test_a_call_is_open_and_a_retry_is_the_same_call(server: LiveServer) -> None:
    call_id = str(uuid.uuid4())
    first = _report(server, call_id)
    assert first.status_code == 201, first.text
    created = first.json()
    assert (created["call_id"], created["status"], created["kiosk_id"], created["duplicate"]) == (
        call_id, "open", "kiosk-01", False)
    again = _report(server, call_id)
    assert again.status_code == 200
    assert (again.json()["status"], again.json()["duplicate"]) == ("open", True)
    assert _count(server, call_id) == 1


def test_concurrent_retries_store_one_call(server: LiveServer) -> None:
    call_id = str(uuid.uuid4())
    sessions = [server.session() for _ in range(5)]
    body = {"call_id": call_id, "called_at": now_iso()}

    def send(session: Any) -> int:
        return int(session.post(server.url("/v1/staff-calls"), json=body).status_code)

    with ThreadPoolExecutor(max_workers=5) as pool:
        statuses = sorted(pool.map(send, sessions))
    assert statuses == [200, 200, 200, 200, 201]
    assert _count(server, call_id) == 1


def test_the_same_call_id_from_another_kiosk_is_a_conflict(server: LiveServer) -> None:
    call_id = str(uuid.uuid4())
    assert _report(server, call_id).status_code == 201
    other = _report(server, call_id, kiosk="kiosk-02")
    assert (other.status_code, other.json()["error"]) == (409, "staff_call_id_taken")


def test_clerks_see_open_calls_newest_first_with_kiosk_and_age(server: LiveServer) -> None:
    token = server.token()
    older = _report(server).json()["call_id"]
    server.clock.advance(timedelta(seconds=90))
    newer = _report(server, kiosk="kiosk-02").json()["call_id"]
    server.clock.advance(timedelta(seconds=10))
    calls = [c for c in _open_calls(server, token) if c["call_id"] in (older, newer)]
    assert [c["call_id"] for c in calls] == [newer, older]
    assert [c["kiosk_id"] for c in calls] == ["kiosk-02", "kiosk-01"]
    assert 9 <= calls[0]["age_seconds"] < 60 and 99 <= calls[1]["age_seconds"] < 160
    assert set(calls[0]) == {"call_id", "kiosk_id", "status", "called_at", "received_at", "age_seconds",
                             "cancelled_at", "acknowledged_at", "acknowledged_by_clerk_id", "acknowledged_by"}


def test_a_clerk_acknowledges_and_the_call_leaves_the_list(server: LiveServer) -> None:
    username, _password = server.add_clerk()
    token = server.quick_token(username)
    call_id = _report(server).json()["call_id"]
    ack = server.session().post(server.url(f"/v1/staff-calls/{call_id}/ack"), headers=_bearer(token))
    assert ack.status_code == 200, ack.text
    done = ack.json()
    assert (done["status"], done["acknowledged_by"]) == ("acknowledged", username)
    assert isinstance(done["acknowledged_by_clerk_id"], int) and done["acknowledged_at"]
    assert call_id not in [c["call_id"] for c in _open_calls(server, token)]
    second = server.session().post(server.url(f"/v1/staff-calls/{call_id}/ack"), headers=_bearer(server.token()))
    assert second.status_code == 200 and second.json()["acknowledged_by"] == username  # the first clerk stays
    retry = _report(server, call_id)
    assert retry.status_code == 200 and retry.json()["status"] == "acknowledged"


def test_the_kiosk_takes_its_call_back(server: LiveServer) -> None:
    token = server.token()
    call_id = _report(server).json()["call_id"]
    cancelled = server.session().delete(server.url(f"/v1/staff-calls/{call_id}"))
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["cancelled_at"]
    assert server.session().delete(server.url(f"/v1/staff-calls/{call_id}")).json()["status"] == "cancelled"
    assert call_id not in [c["call_id"] for c in _open_calls(server, token)]
    late = server.session().post(server.url(f"/v1/staff-calls/{call_id}/ack"), headers=_bearer(token))
    assert (late.status_code, late.json()["error"]) == (409, "staff_call_cancelled")


def test_another_kiosk_cannot_take_a_call_back(server: LiveServer) -> None:
    call_id = _report(server).json()["call_id"]
    refused = server.session("kiosk-02").delete(server.url(f"/v1/staff-calls/{call_id}"))
    assert (refused.status_code, refused.json()["error"]) == (404, "staff_call_not_found")
    unknown = server.session().delete(server.url(f"/v1/staff-calls/{uuid.uuid4()}"))
    assert unknown.status_code == 404
    assert _report(server, call_id).json()["status"] == "open"


def test_unauthenticated_callers_are_refused(server: LiveServer) -> None:
    call_id = _report(server).json()["call_id"]
    # No client certificate at all is refused in the TLS handshake; a foreign CA's too.
    for session in (server.session(None), server.session(None, cert=server.foreign_client)):
        with pytest.raises(requests.exceptions.ConnectionError):
            session.post(server.url("/v1/staff-calls"), json={"call_id": str(uuid.uuid4()), "called_at": now_iso()},
                         timeout=10)
    unregistered = _report(server, kiosk="kiosk-unregistered")
    assert (unregistered.status_code, unregistered.json()["error"]) == (403, "kiosk_unknown")
    # A kiosk certificate is not a clerk: listing and acknowledging need a clerk's token.
    for method, path in (("GET", "/v1/staff-calls"), ("POST", f"/v1/staff-calls/{call_id}/ack")):
        plain = server.session().request(method, server.url(path))
        assert (plain.status_code, plain.json()["error"]) == (401, "token_required")
        bogus = server.session().request(method, server.url(path), headers=_bearer("x" * 43))
        assert (bogus.status_code, bogus.json()["error"]) == (401, "token_invalid")
    elsewhere = server.session("kiosk-02").get(server.url("/v1/staff-calls"), headers=_bearer(server.token()))
    assert elsewhere.status_code == 401  # a clerk token works only at the kiosk it was issued at


@pytest.mark.parametrize("body", [
    {"call_id": "not-a-uuid", "called_at": "2026-12-03T10:00:00Z"},
    {"call_id": str(uuid.uuid4()).upper(), "called_at": "2026-12-03T10:00:00Z"},
    {"call_id": str(uuid.uuid4()), "called_at": "2026-12-03T10:00:00"},
    {"call_id": str(uuid.uuid4())},
    {"call_id": str(uuid.uuid4()), "called_at": "2026-12-03T10:00:00Z", "name": "試験 花子"},
    {"call_id": str(uuid.uuid4()), "called_at": "2026-12-03T10:00:00Z", "my_number": "123456789018"},
])
def test_a_call_carries_nothing_but_its_id_and_time(server: LiveServer, body: dict[str, Any]) -> None:
    response = server.session().post(server.url("/v1/staff-calls"), json=body)
    assert response.status_code == 422
    assert "試験" not in response.text and "123456789018" not in response.text
