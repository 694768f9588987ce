"""``GET /v1/applications/{id}/status``: where an application is, for a resident at any kiosk.

The lifecycle is driven the way the city drives it — the kiosk submits, the operator marks it in production
(``set_application_status``, what ``kiosk server set-application-status`` calls), a pickup is seeded, the card
is handed over — and at every step the answer holds no personal data. Unknown ids spend a per-kiosk budget.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
import requests

from server.application_admin import set_application_status
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

PHOTO = noise_jpeg(600, 800, seed=11)
SERIAL = "0B0C0D"
KEY_ID = "0b" * 20
ANSWER_KEYS = {"application_id_masked", "status", "updated_at", "next_step", "photo_check", "photo_rule"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _status(server: LiveServer, app_id: str, kiosk: str = "kiosk-01") -> requests.Response:
    return server.session(kiosk).get(server.url(f"/v1/applications/{app_id}/status"))


def _seed_pickup(server: LiveServer, app_id: str) -> dict[str, Any]:
    body = {
        "application_id": app_id,
        "notice_number": notice_number(),
        "card": {"auth_cert_serial": SERIAL, "issuer_key_id": KEY_ID},
        "basic4": basic4(),
    }
    response = server.session().post(server.url("/v1/pickups"), json=body, headers=_bearer(server.token("operator")))
    assert response.status_code == 201, response.text
    return response.json()


def _hand_over(server: LiveServer, pickup_id: str) -> None:
    token = server.token()
    grant = server.session().post(server.url(f"/v1/pickups/{pickup_id}/handover-grants"), headers=_bearer(token))
    assert grant.status_code == 201, grant.text
    done = server.session().post(
        server.url(f"/v1/pickups/{pickup_id}/handover"),
        json=handover_body(SERIAL, now_iso(), grant.json()["grant"]),
        headers={"Idempotency-Key": idempotency_key()},
    )
    assert done.status_code == 200, done.text


def _answer(response: requests.Response, app_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The answer, checked for shape and for personal data: only the masked id, a state, a time, a step."""
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == ANSWER_KEYS
    assert answer["application_id_masked"] == "*" * 19 + app_id[-4:]
    assert answer["updated_at"].endswith("Z")
    text = response.text
    assert app_id not in text and app_id[:19] not in text
    if body is not None:
        for value in (body["contact"]["name"], body["contact"]["email"], body["photo_jpeg_base64"][:40]):
            assert json.dumps(value)[1:-1] not in text and value not in text
        assert "receipt" not in text
    return answer


def test_the_whole_lifecycle_as_a_resident_sees_it(server: LiveServer) -> None:
    body = application_body(PHOTO)
    app_id = body["application_id"]
    receipt = server.submit(body)
    assert receipt.status_code == 201, receipt.text
    assert receipt.json()["receipt_id"] not in _status(server, app_id).text

    seen = [_answer(_status(server, app_id, kiosk="kiosk-02"), app_id, body)]  # any kiosk may ask
    server.clock.advance(timedelta(minutes=1))
    change = set_application_status(server.context, app_id, "in_production")
    assert (change.previous, change.status, change.changed) == ("received", "in_production", True)
    seen.append(_answer(_status(server, app_id), app_id, body))
    server.clock.advance(timedelta(minutes=1))
    pickup = _seed_pickup(server, app_id)
    seen.append(_answer(_status(server, app_id), app_id, body))
    server.clock.advance(timedelta(minutes=1))
    _hand_over(server, pickup["pickup_id"])
    seen.append(_answer(_status(server, app_id), app_id, body))

    assert [(a["status"], a["next_step"]) for a in seen] == [
        ("received", "wait_for_notice"),
        ("in_production", "wait_for_notice"),
        ("ready_for_pickup", "collect_at_counter"),
        ("picked_up", None),
    ]
    times = [a["updated_at"] for a in seen]
    assert times == sorted(times) and len(set(times)) == 4
    state = server.session().get(server.url(f"/v1/applications/{app_id}")).json()  # the kiosk's fuller view agrees
    assert state["status"] == "picked_up"


def test_refused_tells_the_resident_to_ask_at_the_counter(server: LiveServer) -> None:
    body = application_body(PHOTO)
    assert server.submit(body).status_code == 201
    set_application_status(server.context, body["application_id"], "refused")
    answer = _answer(_status(server, body["application_id"]), body["application_id"], body)
    assert (answer["status"], answer["next_step"]) == ("refused", "contact_counter")


def test_a_card_at_the_counter_for_an_application_made_by_post_is_ready(server: LiveServer) -> None:
    app_id = application_id()  # no application row: it reached the city another way
    assert _status(server, app_id).status_code == 404
    _seed_pickup(server, app_id)
    answer = _answer(_status(server, app_id), app_id)
    assert (answer["status"], answer["next_step"]) == ("ready_for_pickup", "collect_at_counter")


def test_a_cancelled_pickup_is_no_longer_ready(server: LiveServer) -> None:
    body = application_body(PHOTO)
    assert server.submit(body).status_code == 201
    pickup = _seed_pickup(server, body["application_id"])
    cancelled = server.session().post(
        server.url(f"/v1/pickups/{pickup['pickup_id']}/cancel"), headers=_bearer(server.token("operator"))
    )
    assert cancelled.status_code == 200, cancelled.text
    answer = _answer(_status(server, body["application_id"]), body["application_id"])
    assert answer["status"] == "in_production"


def test_unknown_ids_spend_a_small_budget_then_429_with_retry_after(server: LiveServer) -> None:
    settings = server.context.settings
    known = application_body(PHOTO)
    assert server.submit(known).status_code == 201
    session = server.session("kiosk-02")
    for _ in range(3 * settings.status_lookup_burst):  # hits are free, however many
        assert session.get(server.url(f"/v1/applications/{known['application_id']}/status")).status_code == 200
    misses = [session.get(server.url(f"/v1/applications/{application_id()}/status")) for _ in range(8)]
    statuses = [r.status_code for r in misses]
    assert statuses == [404] * settings.status_lookup_burst + [429] * (8 - settings.status_lookup_burst)
    assert misses[0].json()["error"] == "application_not_found"
    refused = misses[-1]
    assert refused.json()["error"] == "too_many_lookups"
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= settings.status_lookup_refill.total_seconds()
    assert refused.json()["retry_after_seconds"] == wait
    # While the budget is empty even a known id is refused: answering hits only would tell which ids exist.
    assert session.get(server.url(f"/v1/applications/{known['application_id']}/status")).status_code == 429
    assert session.get(server.url(f"/v1/applications/{known['application_id']}")).status_code == 429
    # Another kiosk has its own budget.
    assert _status(server, application_id(), kiosk="kiosk-01").status_code == 404
    # One refill interval later, one more lookup.
    server.clock.advance(settings.status_lookup_refill)
    assert session.get(server.url(f"/v1/applications/{application_id()}/status")).status_code == 404
    assert session.get(server.url(f"/v1/applications/{application_id()}/status")).status_code == 429


def test_concurrent_misses_cannot_overspend_the_budget(server: LiveServer) -> None:
    burst = server.context.settings.status_lookup_burst
    sessions = [server.session("kiosk-02") for _ in range(burst + 4)]

    def miss(index: int) -> int:
        return sessions[index].get(server.url(f"/v1/applications/{application_id()}/status")).status_code

    with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
        statuses = sorted(pool.map(miss, range(len(sessions))))
    assert statuses == [404] * burst + [429] * 4


def test_the_kiosk_view_with_the_receipt_shares_the_budget(server: LiveServer) -> None:
    burst = server.context.settings.status_lookup_burst
    session = server.session("kiosk-02")
    statuses = [session.get(server.url(f"/v1/applications/{application_id()}")).status_code for _ in range(burst)]
    assert statuses == [404] * burst
    assert session.get(server.url(f"/v1/applications/{application_id()}/status")).status_code == 429


def test_the_status_answer_is_logged_without_the_id(server: LiveServer) -> None:
    app_id = application_id()
    before = len(server.logs.lines)
    assert _status(server, app_id).status_code == 404
    line = "route=/v1/applications/{application_id}/status status=404"
    deadline = time.monotonic() + 10
    while line not in (new := "\n".join(server.logs.lines[before:])) and time.monotonic() < deadline:
        time.sleep(0.02)  # the log line is written after the answer went out
    assert line in new
    assert app_id not in new


def test_only_registered_kiosks_may_ask(server: LiveServer) -> None:
    response = server.session("kiosk-unregistered").get(server.url(f"/v1/applications/{application_id()}/status"))
    assert response.status_code == 403
    assert response.json()["error"] == "kiosk_unknown"
