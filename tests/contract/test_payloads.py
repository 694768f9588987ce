"""The bodies the kiosk sends (contract/payloads.py): what passes, and each rule with a body that breaks it."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.payloads import (
    HANDOVER_CHECKS,
    PHOTO_BASE64_MAX,
    PayloadInvalid,
    checks_needing_override,
    decode_photo_base64,
    handover_body,
    is_handover_grant,
    is_idempotency_key,
    is_key_id_hex,
    is_notice_number,
    is_override_id,
    is_pickup_id,
    is_serial_hex,
    is_staff_call_id,
    parse_timestamp,
    validate_application,
    validate_basic4,
    validate_contact,
    validate_handover,
    validate_handover_item,
    validate_override_request,
    validate_staff_call,
)
from contract.photo import MAX_BYTES
from tests.support.fuzzing import examples

PHOTO = base64.b64encode(b"\xff\xd8\xff" + bytes(range(256)) * 8).decode("ascii")


def application(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "application_id": "98760000000000000000001",
        "photo_jpeg_base64": PHOTO,
        "contact": {"name": "試験 花子", "email": "hanako@example.invalid", "phone": "090-0000-4321"},
        "submitted_at": "2026-11-26T10:00:00+09:00",
    }
    for key, value in changes.items():
        if value is ...:
            body.pop(key)
        else:
            body[key] = value
    return body


def rejected(call, payload: object) -> PayloadInvalid:
    with pytest.raises(PayloadInvalid) as caught:
        call(payload)
    return caught.value


def test_a_complete_application_passes_and_comes_back_unchanged() -> None:
    body = application()
    before = copy.deepcopy(body)
    assert validate_application(body) is body and body == before


@pytest.mark.parametrize("contact", [..., None, {}, {"name": "試験"}, {"email": None, "phone": "+81 3 0000 0000"}])
def test_contact_is_optional_and_partial(contact: object) -> None:
    validate_application(application(contact=contact))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"application_id": "1" * 22}, "application_id"),
        ({"application_id": "１" * 23}, "application_id"),
        ({"application_id": 98760000000000000000001}, "application_id"),
        ({"photo_jpeg_base64": "abc"}, "photo_jpeg_base64"),  # shorter than 4
        ({"photo_jpeg_base64": "AAA="[:3] + "!"}, "photo_jpeg_base64"),
        ({"photo_jpeg_base64": "AAAA\nAAAA"}, "photo_jpeg_base64"),  # no whitespace
        ({"photo_jpeg_base64": "AA-_"}, "photo_jpeg_base64"),  # no URL alphabet
        ({"photo_jpeg_base64": "A" * (PHOTO_BASE64_MAX + 4)}, "photo_jpeg_base64"),
        ({"photo_jpeg_base64": b"AAAA"}, "photo_jpeg_base64"),
        ({"submitted_at": "2026-11-26T10:00:00"}, "submitted_at"),  # no time zone
        ({"submitted_at": "2026-11-26 10:00:00+09:00"}, "submitted_at"),
        ({"submitted_at": "2026-02-30T10:00:00Z"}, "submitted_at"),
        ({"submitted_at": 1_800_000_000}, "submitted_at"),
        ({"contact": {"name": ""}}, "contact.name"),
        ({"contact": {"name": "名" * 101}}, "contact.name"),
        ({"contact": {"email": "no-at-sign"}}, "contact.email"),
        ({"contact": {"email": "a@b"}}, "contact.email"),
        ({"contact": {"email": "a" * 65 + "@example.invalid"}}, "contact.email"),
        ({"contact": {"email": "a@" + "b" * 250 + ".jp"}}, "contact.email"),
        ({"contact": {"phone": "12345"}}, "contact.phone"),
        ({"contact": {"phone": "090-0000-4321\n"}}, "contact.phone"),
        ({"contact": {"phone": 9000004321}}, "contact.phone"),
        ({"contact": {"fax": "03-0000-0000"}}, "contact"),
        ({"contact": "試験 花子"}, "contact"),
        ({"my_number": "123456789018"}, "application"),  # unknown fields are refused, like the server does
        ({"application_id": ...}, "application"),
        ({"submitted_at": ...}, "application"),
    ],
)
def test_each_rule_names_its_field(changes: dict[str, Any], field: str) -> None:
    error = rejected(validate_application, application(**changes))
    assert error.field == field and str(error).startswith(f"{field}: ")


def test_not_an_object_at_all() -> None:
    for payload in (None, [], "application", 42):
        assert rejected(validate_application, payload).field == "application"


def test_messages_never_carry_the_values() -> None:
    for changes in ({"application_id": "1234567890123456789012"}, {"contact": {"email": "hanako-at-example"}},
                    {"contact": {"phone": "09-0"}}):
        error = rejected(validate_application, application(**changes))
        for value in ("1234567890123456789012", "hanako-at-example", "09-0"):
            assert value not in str(error)


def test_the_photo_limit_is_the_base64_of_the_largest_photo() -> None:
    assert len(base64.b64encode(b"\0" * MAX_BYTES)) == PHOTO_BASE64_MAX
    assert decode_photo_base64(base64.b64encode(b"photo").decode()) == b"photo"
    with pytest.raises(PayloadInvalid, match="base64"):
        decode_photo_base64("AAA")  # bad padding
    with pytest.raises(PayloadInvalid, match="base64"):
        decode_photo_base64("ÄAAA")


@pytest.mark.parametrize("value", ["2026-11-26T10:00:00Z", "2026-11-26T10:00:00.123456+09:00",
                                   "2026-11-26T01:00:00-05:30"])
def test_timestamps(value: str) -> None:
    assert parse_timestamp(value).tzinfo is not None


@pytest.mark.parametrize("value", ["2026-11-26", "2026-11-26T10:00Z", "2026-11-26T10:00:00+0900",
                                   "2026-11-26t10:00:00Z", "2026-11-26T25:00:00Z", "2026-11-26T10:00:00.1234567Z",
                                   "2026-11-26T10:00:00Z\n"])
def test_other_timestamps_are_refused(value: str) -> None:
    with pytest.raises(PayloadInvalid, match=r"RFC 3339|real date"):
        parse_timestamp(value)


GRANT = "TEST-GRANT-" + "0" * 32
OVERRIDE = "TEST-OVERRIDE-" + "0" * 32
DETAILS: dict[str, Any] = {
    "checks": dict.fromkeys(HANDOVER_CHECKS, "passed"),
    "pins_set": ["auth", "sign", "card_info", "juki"],
    "collected": {"notification_card": True, "juki_card": False, "old_card": False},
}


def handover(**changes: Any) -> dict[str, Any]:
    body = {"card_auth_cert_serial": "0A1B", "handed_over_at": "2026-11-26T10:00:00Z", "grant": GRANT,
            **copy.deepcopy(DETAILS), **changes}
    return {k: v for k, v in body.items() if v is not ...}


def test_handover() -> None:
    validate_handover(handover())
    validate_handover(handover(override=OVERRIDE))
    validate_handover(handover(override=None))
    for body, field in (
        (handover(handed_over_at=...), "handover"),
        (handover(grant=...), "handover"),  # a grant, not a clerk token
        (handover(pickup_id="P"), "handover"),
        (handover(grant=..., clerk_token="t"), "handover"),
        (handover(card_auth_cert_serial=""), "card_auth_cert_serial"),
        (handover(card_auth_cert_serial="0x1B"), "card_auth_cert_serial"),
        (handover(card_auth_cert_serial="1" * 41), "card_auth_cert_serial"),
        (handover(handed_over_at="yesterday"), "handed_over_at"),
        (handover(grant="short"), "grant"),
        (handover(grant=GRANT + "="), "grant"),
        (handover(grant=42), "grant"),
    ):
        assert rejected(validate_handover, body).field == field


def test_the_handover_reports_every_check_the_pins_and_the_documents() -> None:
    passed = dict.fromkeys(HANDOVER_CHECKS, "passed")
    for changes, field in (
        ({"checks": ...}, "handover"),
        ({"pins_set": ...}, "handover"),
        ({"collected": ...}, "handover"),
        ({"checks": {k: v for k, v in passed.items() if k != "face_visual"}}, "checks"),
        ({"checks": {**passed, "photo_match": "passed"}}, "checks"),
        ({"checks": {**passed, "face_visual": "ok"}}, "checks.face_visual"),
        ({"checks": {**passed, "face_visual": True}}, "checks.face_visual"),
        ({"checks": ["card_verified"]}, "checks"),
        ({"pins_set": "auth"}, "pins_set"),
        ({"pins_set": ["auth", "auth"]}, "pins_set"),
        ({"pins_set": ["pin"]}, "pins_set"),
        ({"pins_set": [["auth"]]}, "pins_set"),
        ({"collected": {"notification_card": True, "juki_card": False}}, "collected"),
        ({"collected": {"notification_card": 1, "juki_card": False, "old_card": False}}, "collected.notification_card"),
        ({"override": "short"}, "override"),
        ({"override": 7}, "override"),
    ):
        assert rejected(validate_handover, handover(**changes)).field == field, changes
    assert validate_handover(handover(pins_set=[], checks={**passed, "pins_set": "not_checked"}))  # face-only card


def test_the_checks_an_override_must_name() -> None:
    passed = dict.fromkeys(HANDOVER_CHECKS, "passed")
    assert checks_needing_override(passed) == ()
    assert checks_needing_override({**passed, "pins_set": "failed"}) == ()  # not a required check
    assert checks_needing_override({**passed, "face_visual": "failed", "card_verified": "not_checked"}) == (
        "card_verified", "face_visual")
    assert checks_needing_override({}) == ("card_verified", "card_identity", "basic4_match", "face_visual")


def test_the_override_request() -> None:
    good = {"failed_checks": ["face_visual"], "reason": "本人確認書類で確認済み"}
    assert validate_override_request(good) is good
    validate_override_request({"failed_checks": ["face_visual"], "reason": "a\tb\ncd"})
    validate_override_request({"failed_checks": ["face_visual"], "reason": "理" * 500})
    for changes, field in (
        ({"failed_checks": []}, "failed_checks"),
        ({"failed_checks": "face_visual"}, "failed_checks"),
        ({"failed_checks": ["pins_set"]}, "failed_checks"),
        ({"failed_checks": ["face_visual", "face_visual"]}, "failed_checks"),
        ({"reason": "四文字だ"}, "reason"),
        ({"reason": "理" * 501}, "reason"),
        ({"reason": "  \n   \t "}, "reason"),
        ({"reason": "本人確認\r済み"}, "reason"),
        ({"reason": None}, "reason"),
        ({"supervisor": "sato"}, "override"),
    ):
        assert rejected(validate_override_request, {**good, **changes}).field == field, changes


def test_the_outbox_handover_item_is_the_body_plus_its_pickup() -> None:
    item = {"pickup_id": "P-0123456789ABCDEF", **handover(handed_over_at="2026-11-26T10:00:00+09:00")}
    assert validate_handover_item(item) is item
    body = handover_body(item)  # type: ignore[arg-type]
    assert "pickup_id" not in body and "override" not in body and validate_handover(body) == body
    with_override = {**item, "override": OVERRIDE}
    assert handover_body(with_override)["override"] == OVERRIDE  # type: ignore[arg-type, typeddict-item]
    assert "override" not in handover_body({**item, "override": None})  # type: ignore[arg-type]
    for changes, field in (
        ({"pickup_id": "P-42"}, "pickup_id"),
        ({"pickup_id": "p-0123456789abcdef"}, "pickup_id"),
        ({"grant": ...}, "handover"),
        ({"checks": ...}, "handover"),
        ({"clerk_token": "t"}, "handover"),
        ({"grant": "g" * 20}, "grant"),
        ({"pins_set": ["juki", "juki"]}, "pins_set"),
    ):
        broken = {**item, **changes}
        broken = {k: v for k, v in broken.items() if v is not ...}
        assert rejected(validate_handover_item, broken).field == field


def test_staff_call() -> None:
    body = {"call_id": "6f1c2b8e-1d2a-4b6c-9e0f-123456789abc", "called_at": "2026-12-03T10:00:00Z"}
    assert validate_staff_call(body) is body
    for changes, field in (
        ({"call_id": "6F1C2B8E-1D2A-4B6C-9E0F-123456789ABC"}, "call_id"),
        ({"call_id": "6f1c2b8e1d2a4b6c9e0f123456789abc"}, "call_id"),
        ({"called_at": "2026-12-03 10:00"}, "called_at"),
        ({"name": "試験 花子"}, "staff_call"),  # nothing about the resident can ride along
        ({"kiosk_id": "k-1"}, "staff_call"),
    ):
        assert rejected(validate_staff_call, {**body, **changes}).field == field


def test_basic4() -> None:
    good = {"name": "試験 太郎", "address": "東京都", "birth_date": "1980-01-01", "sex": "1"}
    validate_basic4(good)
    for changes, field in (
        ({"name": ""}, "basic4.name"),
        ({"address": "住" * 401}, "basic4.address"),
        ({"birth_date": "1980-0101"}, "basic4.birth_date"),
        ({"birth_date": "１９８００１０１"}, "basic4.birth_date"),  # the API takes ASCII digits
        ({"sex": "男"}, "basic4.sex"),
        ({"sex": 1}, "basic4.sex"),
        ({"kana": "シケン"}, "basic4"),
    ):
        assert rejected(validate_basic4, {**good, **changes}).field == field


def test_header_and_identifier_forms() -> None:
    assert is_idempotency_key("0123456789abcdef") and is_idempotency_key("A-" * 32)
    assert not is_idempotency_key("short") and not is_idempotency_key("0123456789abcdef\n")
    assert not is_idempotency_key("0123456789abcdef_") and not is_idempotency_key("x" * 65)
    assert is_serial_hex("0aF") and not is_serial_hex("") and not is_serial_hex("g")
    assert is_key_id_hex("0aff") and not is_key_id_hex("abc") and not is_key_id_hex("")
    assert is_pickup_id("P-0123456789ABCDEF") and not is_pickup_id("P-0123456789abcdef") and not is_pickup_id("P-1")
    assert is_handover_grant("A-_z" * 11) and not is_handover_grant("A" * 42) and not is_handover_grant("A" * 129)
    assert is_staff_call_id("00000000-0000-4000-8000-000000000000") and not is_staff_call_id("0" * 32)
    assert is_override_id("A-_z" * 11) and not is_override_id("A" * 42) and not is_override_id("A" * 42 + "\n")
    assert is_notice_number("N-0A1B") and not is_notice_number("") and not is_notice_number("N 1")
    assert not is_notice_number("N" * 33) and not is_notice_number("N-1\n")


def test_validate_contact_none() -> None:
    assert validate_contact(None) is None


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=examples(300), deadline=None)
@given(st.sampled_from(["application_id", "photo_jpeg_base64", "contact", "submitted_at"]), _json)
def test_any_value_in_any_field_is_accepted_or_refused_by_name(field: str, value: object) -> None:
    """Nothing but PayloadInvalid ever escapes, and it names the field that was changed (or a part of it)."""
    try:
        validate_application(application(**{field: value}))
    except PayloadInvalid as exc:
        assert exc.field.split(".")[0] == field


@settings(max_examples=examples(300), deadline=None)
@given(st.sampled_from(["checks", "pins_set", "collected", "override", "grant"]), _json)
def test_any_value_in_any_handover_field_is_accepted_or_refused_by_name(field: str, value: object) -> None:
    try:
        validate_handover(handover(**{field: value}))
    except PayloadInvalid as exc:
        assert exc.field.split(".")[0] == field
