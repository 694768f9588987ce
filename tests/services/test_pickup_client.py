"""The pickup side of the central client with a mocked ``requests.Session``: requests as the server expects
them, and answers of the wrong shape as ``ServerError`` (never a half-filled record)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests

from kiosk.services.central import CentralClient
from kiosk.services.errors import Rejected, ServerError

PICKUP: dict[str, Any] = {
    "pickup_id": "P-0123456789ABCDEF",
    "application_id_masked": "*******************0001",
    "notice_number": "N-1",
    "status": "ready",
    "card": {"auth_cert_serial": "0a1b", "issuer_key_id": "0c" * 20},
    "basic4_match_key": "ab" * 32,
    "photo_jpeg_base64": base64.b64encode(b"\xff\xd8\xff-photo").decode(),
    "holder": {"name": "試験 花子", "birth_date": "2014-05-06"},
    "under_15": True,
    "created_at": "2026-12-01T00:00:00Z",
    "handed_over_at": None,
}


@pytest.fixture
def session(mocker: Any) -> Any:
    return mocker.Mock(spec=requests.Session)


@pytest.fixture
def client(session: Any) -> CentralClient:
    return CentralClient("https://central.test:8443", ca_bundle="/etc/test/ca.pem",
                         client_cert="/etc/test/kiosk.pem", client_key="/etc/test/kiosk.key", session=session)


def answer(status: int, body: object) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    return response


def test_the_lookup_asks_with_the_clerks_token_and_reads_every_field(client: CentralClient, session: Any) -> None:
    session.request.return_value = answer(200, PICKUP)
    record = client.find_pickup(application_id="98760000000000000000001", clerk_token="tok")
    call = session.request.call_args
    assert call.args == ("GET", "https://central.test:8443/v1/pickups?application_id=98760000000000000000001")
    assert call.kwargs["headers"]["Authorization"] == "Bearer tok" and call.kwargs["json"] is None
    assert (record.holder_name, record.birth_date, record.card_serial) == ("試験 花子", "2014-05-06", "0a1b")
    assert record.photo_jpeg == b"\xff\xd8\xff-photo" and record.under_15 is True and record.handed_over_at is None


def test_a_pickup_without_holder_or_photo(client: CentralClient, session: Any) -> None:
    session.request.return_value = answer(200, {**PICKUP, "holder": None, "photo_jpeg_base64": None,
                                                "under_15": None})
    record = client.find_pickup(notice_number="N-1", clerk_token="tok")
    assert (record.holder_name, record.photo_jpeg, record.under_15) == (None, None, None)


@pytest.mark.parametrize("broken", [
    {"status": "lost"},
    {"pickup_id": "P-1"},
    {"card": None},
    {"holder": {"name": "試験 花子"}},
    {"holder": {"name": "試験 花子", "birth_date": "2014-13-01"}},
    {"photo_jpeg_base64": "not base64!"},
    {"under_15": "no"},
])
def test_an_unusable_pickup_answer_is_a_server_error(client: CentralClient, session: Any,
                                                     broken: dict[str, Any]) -> None:
    session.request.return_value = answer(200, {**PICKUP, **broken})
    with pytest.raises(ServerError) as caught:
        client.find_pickup(notice_number="N-1", clerk_token="tok")
    assert "試験" not in str(caught.value)


def test_no_pickup_is_a_404_refusal(client: CentralClient, session: Any) -> None:
    session.request.return_value = answer(404, {"error": "pickup_not_found", "message": "none"})
    with pytest.raises(Rejected) as missing:
        client.find_pickup(notice_number="N-1", clerk_token="tok")
    assert (missing.value.status, missing.value.code, missing.value.retryable) == (404, "pickup_not_found", False)


def test_basic4_override_and_staff_call_answers_of_the_wrong_shape(client: CentralClient, session: Any) -> None:
    basic4 = {"name": "試験 花子", "address": "試験県", "birth_date": "20140506", "sex": "2"}
    session.request.return_value = answer(200, {"match": "yes"})
    with pytest.raises(ServerError):
        client.check_basic4("P-0123456789ABCDEF", basic4, clerk_token="tok")
    assert session.request.call_args.kwargs["json"] == {"basic4": basic4}
    session.request.return_value = answer(201, {"override": "short"})
    with pytest.raises(ServerError):
        client.request_override("P-0123456789ABCDEF", ["face_visual"], "本人確認済み", supervisor_token="sup")
    assert session.request.call_args.kwargs["headers"]["Authorization"] == "Bearer sup"
    for listing in ({"calls": None}, {"calls": [{"call_id": "x", "kiosk_id": "k", "status": "open"}]},
                    {"calls": [{"call_id": "6f1c2b8e-1d2a-4b6c-9e0f-123456789abc", "kiosk_id": "k",
                                "status": "open", "age_seconds": "old"}]}):
        session.request.return_value = answer(200, listing)
        with pytest.raises(ServerError):
            client.staff_calls(clerk_token="tok")
    for bad_id in ("../sessions", "P-1"):
        with pytest.raises(ValueError):
            client.check_basic4(bad_id, basic4, clerk_token="tok")
        with pytest.raises(ValueError):
            client.request_override(bad_id, ["face_visual"], "本人確認済み", supervisor_token="sup")
