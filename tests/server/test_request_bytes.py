""""The same request" for an application is the same bytes — or, when the bytes differ, the same
application (``server/idempotency.py``, ``server/application_intake.same_application``).

The kiosk's outbox retries with the bytes it sent first, so the server hashes the body as received. A retry
serialised differently (other key order, other spacing, the options' defaults spelled out) or recorded by
an older server under the canonical hash is still recognised by what it says; a different application
under the same key is still 409.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import requests
from sqlalchemy import select, update

from contract.payloads import DEFAULT_OPTIONS
from server.idempotency import request_hash
from server.models import IdempotencyRecord
from server.schemas import ApplicationCreate
from tests.server.helpers import LiveServer, application_body, idempotency_key, noise_jpeg

pytestmark = pytest.mark.server

PHOTO = noise_jpeg(600, 800, seed=31)


def _post(server: LiveServer, raw: bytes, key: str) -> requests.Response:
    return server.session().post(
        server.url("/v1/applications"), data=raw, headers={"Idempotency-Key": key, "Content-Type": "application/json"}
    )


def _stored_hash(server: LiveServer, key: str) -> str:
    with server.context.reads() as session:
        value = session.scalar(select(IdempotencyRecord.request_sha256).where(IdempotencyRecord.key == key))
    assert value is not None
    return value


def test_the_record_holds_the_hash_of_the_bytes_received_and_identical_bytes_replay(server: LiveServer) -> None:
    raw = json.dumps(application_body(PHOTO)).encode()
    key = idempotency_key()
    first = _post(server, raw, key)
    assert first.status_code == 201, first.text
    assert _stored_hash(server, key) == hashlib.sha256(raw).hexdigest()
    again = _post(server, raw, key)
    assert again.status_code == 200 and again.json() == {**first.json(), "duplicate": True}


@pytest.mark.parametrize(
    "reserialise",
    [
        lambda body: json.dumps(body, indent=2, sort_keys=True),
        lambda body: json.dumps(dict(reversed(list(body.items()))), ensure_ascii=False, separators=(",", ":")),
        lambda body: json.dumps({**body, "options": DEFAULT_OPTIONS}),  # the defaults spelled out
    ],
    ids=["indented-sorted", "reordered-unescaped", "defaults-spelled-out"],
)
def test_a_retry_in_other_bytes_saying_the_same_is_the_same_request(server: LiveServer, reserialise: Any) -> None:
    body = application_body(PHOTO)
    key = idempotency_key()
    first = _post(server, json.dumps(body).encode(), key)
    assert first.status_code == 201
    again = _post(server, reserialise(body).encode("utf-8"), key)
    assert again.status_code == 200, again.text
    assert again.json()["receipt_id"] == first.json()["receipt_id"]


@pytest.mark.parametrize(
    "change",
    [
        {"contact": {"email": "other@example.invalid"}},
        {"options": {"electronic_certificates": False}},
        {"submitted_at": "2026-01-31T09:00:00+09:00"},
        {"photo_jpeg_base64": None},  # replaced below by another photo
        {"application_id": None},  # replaced below by another id
    ],
    ids=["contact", "options", "submitted_at", "photo", "application_id"],
)
def test_the_same_key_with_another_application_is_still_refused(server: LiveServer, change: dict[str, Any]) -> None:
    body = application_body(PHOTO)
    key = idempotency_key()
    assert _post(server, json.dumps(body).encode(), key).status_code == 201
    other = {**body, **change}
    if "photo_jpeg_base64" in change:
        other = application_body(noise_jpeg(600, 800, seed=32), application_id=body["application_id"],
                                 submitted_at=body["submitted_at"], contact=body["contact"])
    if "application_id" in change:
        other = {**body, "application_id": application_body(PHOTO)["application_id"]}
    refused = _post(server, json.dumps(other).encode(), key)
    assert refused.status_code == 409
    assert refused.json()["error"] == "idempotency_key_reused"


def test_a_record_from_a_server_that_hashed_canonical_json_still_replays(server: LiveServer) -> None:
    body = application_body(PHOTO)
    key = idempotency_key()
    first = server.submit(body, key=key)
    assert first.status_code == 201
    canonical = request_hash(ApplicationCreate.model_validate(body))
    with server.context.sessions() as session:  # as stored before the bytes rule
        session.execute(update(IdempotencyRecord).where(IdempotencyRecord.key == key).values(request_sha256=canonical))
        session.commit()
    again = server.submit(body, key=key)
    assert again.status_code == 200 and again.json()["receipt_id"] == first.json()["receipt_id"]
