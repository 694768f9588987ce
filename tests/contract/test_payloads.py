"""The bodies the kiosk sends (contract/payloads.py): what passes, and each rule with a body that breaks it."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.payloads import (
    PHOTO_BASE64_MAX,
    PayloadInvalid,
    decode_photo_base64,
    handover_body,
    is_handover_grant,
    is_idempotency_key,
    is_key_id_hex,
    is_pickup_id,
    is_serial_hex,
    is_staff_call_id,
    parse_timestamp,
    validate_application,
    validate_basic4,
    validate_contact,
    validate_handover,
    validate_handover_item,
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


def test_handover() -> None:
    at = "2026-11-26T10:00:00Z"
    validate_handover({"card_auth_cert_serial": "0A1B", "handed_over_at": at, "grant": GRANT})
    for body, field in (
        ({"card_auth_cert_serial": "0A1B", "grant": GRANT}, "handover"),
        ({"card_auth_cert_serial": "0A1B", "handed_over_at": at}, "handover"),  # a grant, not a clerk token
        ({"card_auth_cert_serial": "0A1B", "handed_over_at": at, "grant": GRANT, "pickup_id": "P"}, "handover"),
        ({"card_auth_cert_serial": "0A1B", "handed_over_at": at, "clerk_token": "t"}, "handover"),
        ({"card_auth_cert_serial": "", "handed_over_at": at, "grant": GRANT}, "card_auth_cert_serial"),
        ({"card_auth_cert_serial": "0x1B", "handed_over_at": at, "grant": GRANT}, "card_auth_cert_serial"),
        ({"card_auth_cert_serial": "1" * 41, "handed_over_at": at, "grant": GRANT}, "card_auth_cert_serial"),
        ({"card_auth_cert_serial": "0A1B", "handed_over_at": "yesterday", "grant": GRANT}, "handed_over_at"),
        ({"card_auth_cert_serial": "0A1B", "handed_over_at": at, "grant": "short"}, "grant"),
        ({"card_auth_cert_serial": "0A1B", "handed_over_at": at, "grant": GRANT + "="}, "grant"),
        ({"card_auth_cert_serial": "0A1B", "handed_over_at": at, "grant": 42}, "grant"),
    ):
        assert rejected(validate_handover, body).field == field


def test_the_outbox_handover_item_is_the_body_plus_its_pickup() -> None:
    item = {"pickup_id": "P-0123456789ABCDEF", "card_auth_cert_serial": "0A1B",
            "handed_over_at": "2026-11-26T10:00:00+09:00", "grant": GRANT}
    assert validate_handover_item(item) is item
    body = handover_body(item)
    assert "pickup_id" not in body and validate_handover(body) == body
    for changes, field in (
        ({"pickup_id": "P-42"}, "pickup_id"),
        ({"pickup_id": "p-0123456789abcdef"}, "pickup_id"),
        ({"grant": ...}, "handover"),
        ({"clerk_token": "t"}, "handover"),
        ({"grant": "g" * 20}, "grant"),
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
