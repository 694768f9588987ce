"""The server's pydantic models and the kiosk's contract validation must not drift apart.

The direction that matters: a body the kiosk accepts (contract/payloads.py) must be accepted by the server,
or a resident's application dies in the outbox after they have left. Where both sides claim the same rule
(application id, lengths, patterns, basic 4) they must also refuse the same bodies.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from contract import application_id, basic4, payloads
from server.app import create_app
from server.errors import ApiError
from server.identifiers import decode_photo
from server.schemas import ApplicationCreate, Basic4In, HandoverRequest, OverrideRequest, StaffCallCreate
from server.settings import Settings
from tests.server.pickup_helpers import checks, handover_body
from tests.support.fuzzing import examples

pytestmark = pytest.mark.server

PHOTO = base64.b64encode(b"\xff\xd8\xff" + bytes(range(256)) * 4).decode("ascii")
BASE: dict[str, Any] = {
    "application_id": "98760000000000000000001",
    "photo_jpeg_base64": PHOTO,
    "contact": {"name": "試験 花子", "email": "hanako@example.invalid", "phone": "090-0000-4321"},
    "submitted_at": "2026-11-26T10:00:00+09:00",
}


def kiosk_accepts(body: object) -> bool:
    try:
        payloads.validate_application(body)
    except payloads.PayloadInvalid:
        return False
    return True


def server_accepts(body: object) -> bool:
    """What ``POST /v1/applications`` checks before the photo rules: the model, then the base64."""
    try:
        model = ApplicationCreate.model_validate(body)
        decode_photo(model.photo_jpeg_base64)
    except (ValidationError, ApiError):
        return False
    return True


SHARED_REFUSALS = [
    {"application_id": "1" * 22},
    {"application_id": "1" * 24},
    {"application_id": "１" * 23},
    {"application_id": "1" * 22 + "\n"},
    {"photo_jpeg_base64": "abc"},
    {"photo_jpeg_base64": "A" * (payloads.PHOTO_BASE64_MAX + 4)},
    {"photo_jpeg_base64": "AA-_"},
    {"submitted_at": "2026-11-26T10:00:00"},
    {"contact": {"name": ""}},
    {"contact": {"name": "名" * (payloads.CONTACT_NAME_MAX + 1)}},
    {"contact": {"email": "no-at-sign"}},
    {"contact": {"email": "a" * 65 + "@example.invalid"}},
    {"contact": {"phone": "12345"}},
    {"contact": {"fax": "03-0000-0000"}},
    {"my_number": "123456789018"},
]


@pytest.mark.parametrize("changes", SHARED_REFUSALS, ids=range(len(SHARED_REFUSALS)))
def test_both_sides_refuse_what_they_share(changes: dict[str, Any]) -> None:
    body = {**BASE, **changes}
    assert not kiosk_accepts(body) and not server_accepts(body)


@pytest.mark.parametrize(
    "contact", [None, {}, {"name": "名" * payloads.CONTACT_NAME_MAX}, {"phone": "+81 3 0000 0000"}]
)
def test_both_sides_accept_the_edges(contact: object) -> None:
    body = {**BASE, "contact": contact, "photo_jpeg_base64": "A" * payloads.PHOTO_BASE64_MAX}
    assert kiosk_accepts(body) and server_accepts(body)


def test_the_published_schema_carries_the_contracts_numbers() -> None:
    components = create_app(Settings()).openapi()["components"]["schemas"]
    application = components["ApplicationCreate"]["properties"]
    assert application["application_id"]["pattern"] == application_id.APPLICATION_ID_PATTERN
    assert application["photo_jpeg_base64"]["maxLength"] == payloads.PHOTO_BASE64_MAX
    contact = components["Contact"]["properties"]
    assert {"type": "string", "pattern": payloads.EMAIL_PATTERN, "maxLength": payloads.EMAIL_MAX} in (
        contact["email"]["anyOf"]
    )
    four = components["Basic4In"]["properties"]
    assert four["birth_date"]["pattern"] == basic4.BIRTH_DATE_PATTERN
    assert four["sex"]["enum"] == list(basic4.SEX_CODES)
    handover = components["HandoverRequest"]["properties"]
    assert handover["card_auth_cert_serial"]["pattern"] == payloads.SERIAL_PATTERN
    assert handover["grant"]["pattern"] == payloads.HANDOVER_GRANT_PATTERN
    assert handover["pins_set"]["items"]["enum"] == list(payloads.PIN_NAMES)
    assert set(components["HandoverChecks"]["properties"]) == set(payloads.HANDOVER_CHECKS)
    assert components["HandoverChecks"]["properties"]["face_visual"]["enum"] == list(payloads.CHECK_OUTCOMES)
    assert set(components["Collected"]["properties"]) == set(payloads.COLLECTED_DOCUMENTS)
    override = components["OverrideRequest"]["properties"]
    assert override["failed_checks"]["items"]["enum"] == list(payloads.REQUIRED_HANDOVER_CHECKS)
    assert (override["reason"]["minLength"], override["reason"]["maxLength"]) == (
        payloads.OVERRIDE_REASON_MIN, payloads.OVERRIDE_REASON_MAX)
    assert components["StaffCallCreate"]["properties"]["call_id"]["pattern"] == payloads.STAFF_CALL_ID_PATTERN


_field_values = {
    "application_id": st.text(alphabet="0123456789１a", min_size=21, max_size=25),
    "photo_jpeg_base64": st.text(alphabet="AB+/=-_ \n", min_size=0, max_size=12),
    "submitted_at": st.sampled_from(["2026-11-26T10:00:00Z", "2026-11-26T10:00:00", "2026-11-26 10:00:00+09:00",
                                     "2026-11-26T10:00:00.5+09:00", "2026-13-01T00:00:00Z", "20261126T100000Z"]),
    "contact": st.none() | st.fixed_dictionaries({}, optional={
        "name": st.none() | st.text(max_size=3),
        "email": st.none() | st.text(alphabet="a@.\u3000 \x1f", max_size=8),
        "phone": st.none() | st.text(alphabet="0+ ()-\n", max_size=22),
    }),
}


@settings(max_examples=examples(400), deadline=None)
@given(st.fixed_dictionaries({}, optional=_field_values))
def test_what_the_kiosk_accepts_the_server_accepts(changes: dict[str, Any]) -> None:
    body = {**BASE, **changes}
    if kiosk_accepts(body):
        assert server_accepts(body)


@settings(max_examples=examples(400), deadline=None)
@given(st.text(alphabet="0123456789-/.１\n ", max_size=12), st.text(alphabet="0129３男", max_size=2))
def test_basic4_formats_agree_exactly(birth_date: str, sex: str) -> None:
    body = {"name": "試験", "address": "東京都", "birth_date": birth_date, "sex": sex}
    try:
        payloads.validate_basic4(body)
        kiosk = True
    except payloads.PayloadInvalid:
        kiosk = False
    try:
        Basic4In.model_validate(body)
        server = True
    except ValidationError:
        server = False
    assert kiosk == server


GRANT = "G" * 43


def _agree(kiosk_check: Any, model: Any, body: dict[str, Any]) -> bool:
    try:
        kiosk_check(body)
        kiosk = True
    except payloads.PayloadInvalid:
        kiosk = False
    try:
        model.model_validate(body)
        server = True
    except ValidationError:
        server = False
    assert kiosk == server, body
    return kiosk


@pytest.mark.parametrize("serial", ["0A1B", "", "g", "1" * 40, "1" * 41, "0A1B\n"])
def test_handover_serials_agree(serial: str) -> None:
    _agree(payloads.validate_handover, HandoverRequest, handover_body(serial, "2026-11-26T10:00:00Z", GRANT))


@pytest.mark.parametrize("grant", [GRANT, "a-_Z" * 11, "G" * 42, "G" * 128, "G" * 129, "G" * 42 + "=", GRANT + "\n"])
def test_handover_grants_agree(grant: str) -> None:
    _agree(payloads.validate_handover, HandoverRequest, handover_body("0A1B", "2026-11-26T10:00:00Z", grant))


def test_a_handover_without_a_grant_is_refused_by_both() -> None:
    body = handover_body("0A1B", "2026-11-26T10:00:00Z", GRANT)
    del body["grant"]
    assert not _agree(payloads.validate_handover, HandoverRequest, body)


_DETAIL_CHANGES: list[dict[str, Any]] = [
    {},
    {"checks": checks(face_visual="failed", card_verified="not_checked")},
    {"checks": checks(face_visual="ok")},
    {"checks": checks(face_visual=None)},  # type: ignore[arg-type]
    {"checks": {k: v for k, v in checks().items() if k != "basic4_match"}},
    {"checks": {**checks(), "extra": "passed"}},
    {"pins_set": []},
    {"pins_set": ["auth", "sign", "card_info", "juki", "auth"]},
    {"pins_set": ["auth", "auth"]},
    {"pins_set": ["AUTH"]},
    {"pins_set": "auth"},
    {"collected": {"notification_card": True, "juki_card": True, "old_card": True}},
    {"collected": {"notification_card": 1, "juki_card": False, "old_card": False}},
    {"collected": {"notification_card": "true", "juki_card": False, "old_card": False}},
    {"collected": {"notification_card": True, "juki_card": False}},
    {"override": None},
    {"override": "O" * 43},
    {"override": "O" * 42},
    {"override": "O" * 43 + "\n"},
    {"override": "O" * 129},
]


@pytest.mark.parametrize("changes", _DETAIL_CHANGES, ids=range(len(_DETAIL_CHANGES)))
def test_handover_details_agree(changes: dict[str, Any]) -> None:
    _agree(payloads.validate_handover, HandoverRequest, handover_body("0A1B", "2026-11-26T10:00:00Z", GRANT, **changes))


_OVERRIDE_REQUESTS: list[dict[str, Any]] = [
    {"failed_checks": ["face_visual"], "reason": "本人確認書類で確認"},
    {"failed_checks": ["card_verified", "card_identity", "basic4_match", "face_visual"], "reason": "x" * 500},
    {"failed_checks": ["face_visual"], "reason": "x" * 501},
    {"failed_checks": ["face_visual"], "reason": "四文字だ"},
    {"failed_checks": ["face_visual"], "reason": "   \t\n    "},
    {"failed_checks": ["face_visual"], "reason": "a\tb\nc d"},
    {"failed_checks": ["face_visual"], "reason": "abc\x7fdef"},
    {"failed_checks": ["face_visual"], "reason": "abc\rdef"},
    {"failed_checks": [], "reason": "本人確認書類で確認"},
    {"failed_checks": ["pins_set"], "reason": "本人確認書類で確認"},
    {"failed_checks": ["face_visual", "face_visual"], "reason": "本人確認書類で確認"},
    {"failed_checks": ["face_visual"], "reason": "本人確認書類で確認", "supervisor": "sato"},
]


@pytest.mark.parametrize("body", _OVERRIDE_REQUESTS, ids=range(len(_OVERRIDE_REQUESTS)))
def test_override_requests_agree(body: dict[str, Any]) -> None:
    _agree(payloads.validate_override_request, OverrideRequest, body)


@settings(max_examples=examples(300), deadline=None)
@given(st.text(alphabet="a 　\t\n\r\x00\x1f\x7f\u2028理", max_size=12))
def test_override_reasons_agree(reason: str) -> None:
    _agree(payloads.validate_override_request, OverrideRequest, {"failed_checks": ["face_visual"], "reason": reason})


@pytest.mark.parametrize("changes", [
    {}, {"call_id": "not-a-uuid"}, {"call_id": "6F1C2B8E-1D2A-4B6C-9E0F-123456789ABC"},
    {"called_at": "2026-12-03T10:00:00"}, {"name": "試験 花子"},
])
def test_staff_call_bodies_agree(changes: dict[str, Any]) -> None:
    body = {"call_id": "6f1c2b8e-1d2a-4b6c-9e0f-123456789abc", "called_at": "2026-12-03T10:00:00+09:00", **changes}
    assert _agree(payloads.validate_staff_call, StaffCallCreate, body) == (changes == {})
