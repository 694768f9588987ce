"""Applications: idempotent submission, the 23-digit rule, photo rules over the API, status lookups."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from server.application_intake import application_photo
from server.identifiers import application_lookup_key
from server.models import Application, IdempotencyRecord
from tests.server.helpers import (
    LiveServer,
    application_body,
    bomb_jpeg,
    idempotency_key,
    noise_jpeg,
    png_photo,
    tiny_jpeg,
)

pytestmark = pytest.mark.server

PHOTO = noise_jpeg(600, 800)


def _records(server: LiveServer, application_id: str) -> int:
    lookup = application_lookup_key(server.context.keys, application_id)
    with server.context.sessions() as session:
        return int(session.scalar(select(func.count()).where(Application.application_key == lookup)) or 0)


def test_submit_then_retry_gives_one_record_and_the_same_answer(server: LiveServer) -> None:
    body = application_body(PHOTO)
    key = idempotency_key()
    first = server.submit(body, key=key)
    assert first.status_code == 201, first.text
    receipt = first.json()
    assert receipt["status"] == "received"
    assert receipt["duplicate"] is False
    assert receipt["application_id_masked"] == "*" * 19 + body["application_id"][-4:]
    assert receipt["received_at"].endswith("Z")

    again = server.submit(body, key=key)
    assert again.status_code == 200
    assert again.json() == {**receipt, "duplicate": True}
    assert _records(server, body["application_id"]) == 1


def test_a_retry_serialised_differently_is_still_the_same_request(server: LiveServer) -> None:
    body = application_body(PHOTO)
    key = idempotency_key()
    assert server.submit(body, key=key).status_code == 201
    reordered = dict(reversed(list(body.items())))
    assert server.submit(reordered, key=key).status_code == 200


def test_the_same_key_with_another_body_is_refused(server: LiveServer) -> None:
    key = idempotency_key()
    assert server.submit(application_body(PHOTO), key=key).status_code == 201
    other = server.submit(application_body(PHOTO), key=key)
    assert other.status_code == 409
    assert other.json()["error"] == "idempotency_key_reused"


def test_the_same_application_under_another_key_is_already_submitted(server: LiveServer) -> None:
    body = application_body(PHOTO)
    receipt = server.submit(body).json()
    again = server.submit(body, kiosk="kiosk-02")
    assert again.status_code == 409
    error = again.json()
    assert error["error"] == "already_submitted"
    assert error["receipt"]["receipt_id"] == receipt["receipt_id"]
    assert _records(server, body["application_id"]) == 1


def test_applying_twice_is_a_clear_conflict_with_the_first_receipt_and_nothing_personal(server: LiveServer) -> None:
    """The resident comes back with another photo (another key, same 申請書ID): the first application stands."""
    first_body = application_body(PHOTO)
    first = server.submit(first_body).json()
    second_body = application_body(noise_jpeg(600, 800, seed=99), application_id=first_body["application_id"])
    second = server.submit(second_body)
    assert second.status_code == 409
    error = second.json()
    assert set(error) == {"error", "message", "receipt"}
    assert error["error"] == "already_submitted"
    assert set(error["receipt"]) == {
        "receipt_id", "application_id_masked", "status", "received_at", "updated_at", "photo_check", "photo_rule"
    }
    assert error["receipt"]["receipt_id"] == first["receipt_id"]
    assert error["receipt"]["received_at"] == first["received_at"]
    assert error["receipt"]["application_id_masked"] == first["application_id_masked"]
    for body in (first_body, second_body):
        for value in (body["application_id"], body["contact"]["name"], body["contact"]["email"],
                      body["contact"]["phone"], body["photo_jpeg_base64"][:40]):
            assert value not in second.text and json.dumps(value)[1:-1] not in second.text
    assert _records(server, first_body["application_id"]) == 1
    # The first application's photo is the one kept.
    with server.context.sessions() as session:
        stored = session.scalar(
            select(Application).where(
                Application.application_key == application_lookup_key(server.context.keys, first_body["application_id"])
            )
        )
        assert stored is not None
        kept = application_photo(server.context, stored)
    assert kept == PHOTO


def test_concurrent_retries_create_exactly_one_record(server: LiveServer) -> None:
    body = application_body(PHOTO)
    key = idempotency_key()
    sessions = [server.session("kiosk-01") for _ in range(8)]

    def send(index: int) -> tuple[int, str]:
        response = sessions[index].post(server.url("/v1/applications"), json=body, headers={"Idempotency-Key": key})
        return response.status_code, response.json().get("receipt_id", "")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, range(8)))
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * 7 + [201], results
    assert len({receipt for _, receipt in results}) == 1
    assert _records(server, body["application_id"]) == 1
    with server.context.sessions() as session:
        count = session.scalar(select(func.count()).where(IdempotencyRecord.key == key))
    assert count == 1


def test_status_lookup(server: LiveServer) -> None:
    body = application_body(PHOTO)
    receipt = server.submit(body).json()
    response = server.session("kiosk-02").get(server.url(f"/v1/applications/{body['application_id']}"))
    assert response.status_code == 200
    assert response.json()["receipt_id"] == receipt["receipt_id"]
    assert response.json()["status"] == "received"
    missing = server.session().get(server.url("/v1/applications/" + "0" * 23))
    assert missing.status_code == 404
    assert missing.json()["error"] == "application_not_found"


@pytest.mark.parametrize(
    "application_id",
    [
        "1" * 22,
        "1" * 24,
        "1234567890123456789012A",
        "１２３４５６７８９０１２３４５６７８９０１２３",  # full-width digits are not ASCII digits
        "12345678901234567890 12",
        "",
    ],
    ids=["22-digits", "24-digits", "letter", "full-width", "space", "empty"],
)
def test_the_application_id_must_be_23_ascii_digits(server: LiveServer, application_id: str) -> None:
    response = server.submit(application_body(PHOTO, application_id=application_id))
    assert response.status_code == 422
    error = response.json()
    assert error["error"] == "validation_error"
    assert error["fields"][0]["field"] == "body.application_id"
    assert "23 ASCII digits" in error["fields"][0]["message"]
    assert application_id not in error["message"] or not application_id  # never echoed back


@pytest.mark.parametrize("key", [None, "short", "has space in it 12345", "x" * 65, "ünïcode-key-0000000"])
def test_the_idempotency_key_is_required_and_checked(server: LiveServer, key: str | None) -> None:
    headers = {} if key is None else {"Idempotency-Key": key}
    response = server.session().post(server.url("/v1/applications"), json=application_body(PHOTO), headers=headers)
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "header.Idempotency-Key"


@pytest.mark.parametrize(
    ("photo", "code"),
    [
        (tiny_jpeg(), "photo_too_small"),
        (noise_jpeg(600, 800, mode="CMYK"), "photo_not_rgb"),
        (png_photo(), "photo_not_jpeg"),
        (bomb_jpeg(), "photo_dimensions"),
        (noise_jpeg(6001, 480, quality=30), "photo_dimensions"),
    ],
    ids=["too-small", "cmyk", "png", "bomb", "6001px"],
)
def test_photo_rules_give_clear_422s(server: LiveServer, photo: bytes, code: str) -> None:
    response = server.submit(application_body(photo))
    assert response.status_code == 422
    assert response.json()["error"] == code
    assert response.json()["message"]


def test_photo_must_be_base64(server: LiveServer) -> None:
    response = server.submit(application_body(PHOTO, photo_jpeg_base64="not base64!"))
    assert response.status_code == 422
    assert response.json()["error"] == "photo_not_base64"


def test_unknown_fields_and_naive_times_are_refused(server: LiveServer) -> None:
    extra = server.submit({**application_body(PHOTO), "my_number": "123456789012"})
    assert extra.status_code == 422
    assert extra.json()["fields"][0]["field"] == "body.my_number"
    naive = server.submit(application_body(PHOTO, submitted_at="2026-01-31T09:00:00"))
    assert naive.status_code == 422
    assert "time zone" in naive.json()["message"]


def test_a_minimal_application_without_contact(server: LiveServer) -> None:
    body = application_body(PHOTO)
    del body["contact"]
    assert server.submit(body).status_code == 201
