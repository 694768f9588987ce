"""Pickups at the counter: seeding (operator), lookup (clerk), basic-4 check, and a guarded handover.

The handover is authorised by a single-use grant the clerk obtained (tests/server/test_handover_grants.py
covers the grant's own rules: binding, expiry, single use, outliving the clerk session).
"""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.server.helpers import (
    LiveServer,
    application_body,
    application_id,
    basic4,
    idempotency_key,
    noise_jpeg,
    notice_number,
    now_iso,
)
from tests.server.pickup_helpers import handover_body

pytestmark = pytest.mark.server

PHOTO = noise_jpeg(640, 800, seed=3)
SERIAL = "1A2B3C4D5E6F"
KEY_ID = "0a" * 20


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _create(server: LiveServer, *, app_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    body = {
        "application_id": app_id or application_id(),
        "notice_number": notice_number(),
        "card": {"auth_cert_serial": SERIAL, "issuer_key_id": KEY_ID},
        "basic4": basic4(),
        **overrides,
    }
    response = server.session().post(server.url("/v1/pickups"), json=body, headers=_bearer(server.token("operator")))
    assert response.status_code == 201, response.text
    return response.json()


def _grant(server: LiveServer, token: str, pickup_id: str) -> str:
    response = server.session().post(server.url(f"/v1/pickups/{pickup_id}/handover-grants"), headers=_bearer(token))
    assert response.status_code == 201, response.text
    return str(response.json()["grant"])


def _handover(server: LiveServer, grant: str, pickup_id: str, serial: str, key: str) -> Any:
    return server.session().post(
        server.url(f"/v1/pickups/{pickup_id}/handover"),
        json=handover_body(serial, now_iso(), grant),
        headers={"Idempotency-Key": key},
    )


def test_only_operators_seed_pickups(server: LiveServer) -> None:
    response = server.session().post(server.url("/v1/pickups"), json={}, headers=_bearer(server.token("clerk")))
    assert response.status_code == 403
    assert response.json()["error"] == "operator_role_required"


def test_clerk_finds_a_pickup_with_the_application_photo(server: LiveServer) -> None:
    body = application_body(PHOTO)
    assert server.submit(body).status_code == 201
    created = _create(server, app_id=body["application_id"])
    assert created["status"] == "ready"
    token = server.token()
    for query in ({"notice_number": created["notice_number"]}, {"application_id": body["application_id"]}):
        found = server.session().get(server.url("/v1/pickups"), params=query, headers=_bearer(token))
        assert found.status_code == 200, found.text
        pickup = found.json()
        assert pickup["pickup_id"] == created["pickup_id"]
        assert pickup["card"] == {"auth_cert_serial": SERIAL.lower(), "issuer_key_id": KEY_ID}
        assert base64.b64decode(pickup["photo_jpeg_base64"]) == PHOTO
        assert len(pickup["basic4_match_key"]) == 64
        assert pickup["application_id_masked"].endswith(body["application_id"][-4:])
    state = server.session().get(server.url(f"/v1/applications/{body['application_id']}")).json()
    assert state["status"] == "ready_for_pickup"


def test_lookup_needs_exactly_one_key(server: LiveServer) -> None:
    token = server.token()
    both = {"notice_number": "N-1", "application_id": application_id()}
    for params in ({}, both):
        response = server.session().get(server.url("/v1/pickups"), params=params, headers=_bearer(token))
        assert response.status_code == 422
    missing = server.session().get(server.url("/v1/pickups"), params={"notice_number": "N-0"}, headers=_bearer(token))
    assert missing.status_code == 404


def test_handover_refuses_the_wrong_card_then_accepts_the_right_one_once(server: LiveServer) -> None:
    pickup = _create(server)
    token = server.token()
    grant = _grant(server, token, pickup["pickup_id"])
    wrong = _handover(server, grant, pickup["pickup_id"], "FFFF", idempotency_key())
    assert wrong.status_code == 409
    assert wrong.json()["error"] == "card_mismatch"  # and the grant is not used up by a refused handover

    key = idempotency_key()
    done = _handover(server, grant, pickup["pickup_id"], "00" + SERIAL.lower(), key)  # same serial, other spelling
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["status"] == "handed_over"
    assert result["kiosk_id"] == "kiosk-01"
    assert result["duplicate"] is False

    retry = server.session().post(
        server.url(f"/v1/pickups/{pickup['pickup_id']}/handover"),
        json=handover_body("00" + SERIAL.lower(), result["handed_over_at"], grant),
        headers={"Idempotency-Key": key},
    )
    assert retry.status_code == 200
    assert retry.json() == {**result, "duplicate": True}

    again = _handover(server, grant, pickup["pickup_id"], SERIAL, idempotency_key())
    assert again.status_code == 403
    assert again.json()["error"] == "grant_used"
    another = server.session().post(
        server.url(f"/v1/pickups/{pickup['pickup_id']}/handover-grants"), headers=_bearer(token)
    )
    assert another.status_code == 409
    assert another.json()["error"] == "already_handed_over"

    found = server.session().get(
        server.url("/v1/pickups"), params={"notice_number": pickup["notice_number"]}, headers=_bearer(token)
    )
    assert found.json()["status"] == "handed_over"


def test_handover_of_a_cancelled_or_unknown_pickup(server: LiveServer) -> None:
    pickup = _create(server)
    token = server.token()
    grant = _grant(server, token, pickup["pickup_id"])  # authorised before the operator cancelled it
    operator = server.token("operator")
    cancel = server.session().post(server.url(f"/v1/pickups/{pickup['pickup_id']}/cancel"), headers=_bearer(operator))
    assert cancel.status_code == 200
    assert cancel.json()["status"] == "cancelled"
    refused = _handover(server, grant, pickup["pickup_id"], SERIAL, idempotency_key())
    assert refused.status_code == 409
    assert refused.json()["error"] == "pickup_cancelled"
    no_grant = server.session().post(
        server.url(f"/v1/pickups/{pickup['pickup_id']}/handover-grants"), headers=_bearer(token)
    )
    assert no_grant.status_code == 409
    assert no_grant.json()["error"] == "pickup_cancelled"
    unknown = _handover(server, grant, "P-0000000000000000", SERIAL, idempotency_key())
    assert unknown.status_code == 404
    assert server.session().post(
        server.url("/v1/pickups/P-0000000000000000/handover-grants"), headers=_bearer(token)
    ).status_code == 404


def test_basic4_check_matches_after_normalisation_only(server: LiveServer) -> None:
    pickup = _create(server)
    token = server.token()
    url = server.url(f"/v1/pickups/{pickup['pickup_id']}/basic4-check")
    variant = basic4(name=" 試験 太郎 ", address="東京都千代田区試験町１丁目２-３", birth_date="1980-01-01")
    same = server.session().post(url, json={"basic4": variant}, headers=_bearer(token))
    assert same.status_code == 200, same.text
    assert same.json() == {"match": True, "normalisation": "basic4/v1"}
    other = server.session().post(url, json={"basic4": basic4(birth_date="19800102")}, headers=_bearer(token))
    assert other.json()["match"] is False


def test_notice_numbers_are_unique(server: LiveServer) -> None:
    pickup = _create(server)
    body = {
        "application_id": application_id(),
        "notice_number": pickup["notice_number"],
        "card": {"auth_cert_serial": SERIAL, "issuer_key_id": KEY_ID},
        "basic4": basic4(),
    }
    response = server.session().post(server.url("/v1/pickups"), json=body, headers=_bearer(server.token("operator")))
    assert response.status_code == 409
    assert response.json()["error"] == "notice_number_exists"


def test_concurrent_handover_retries_get_the_same_answer(server: LiveServer) -> None:
    pickup = _create(server)
    grant = _grant(server, server.token(), pickup["pickup_id"])
    key = idempotency_key()
    body = handover_body(SERIAL, now_iso(), grant)
    sessions = [server.session() for _ in range(6)]

    def send(session: Any) -> tuple[int, bool]:
        response = session.post(
            server.url(f"/v1/pickups/{pickup['pickup_id']}/handover"),
            json=body,
            headers={"Idempotency-Key": key},
        )
        return response.status_code, bool(response.json().get("duplicate"))

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(send, sessions))
    assert sorted(results) == [(200, False)] + [(200, True)] * 5, results
