"""The payloads the kiosk sends and the server accepts, with the limits both sides must share.

Covered: the application (and its ``options``: electronic certificates, braille name — shared with the
renewal, ``contract.renewal``), the handover (its checks, the PINs set, the documents collected, a
supervisor's override — and the outbox item that carries it), the supervisor's override request, the staff
call and the basic 4 object, and the identifiers in them or beside them (pickup ids, notice numbers,
serials, key ids, handover grants, override ids, staff-call ids, the Idempotency-Key header). The server's
pydantic models (server/schemas.py) take these patterns and limits from the constants below, and the kiosk
validates with the functions below before an item is queued (``Outbox.enqueue``) or sent
(``CentralClient.record_handover``), so a body the kiosk accepts is not refused by the server for a rule the
kiosk did not know. The kiosk is, if anything, stricter: times must be RFC 3339 strings with an offset (the
server also takes other ISO 8601 spellings), and the photo's base64 is checked here rather than after
upload. Photo *content* rules live in ``contract.photo``.

Error messages name the field and the rule, never the value (values are personal data).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NotRequired, TypedDict

from contract.application_id import InvalidApplicationId, check_application_id
from contract.basic4 import BIRTH_DATE_PATTERN, SEX_CODES
from contract.photo import MAX_BYTES as PHOTO_MAX_BYTES

IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9-]{16,64}$"
PICKUP_ID_PATTERN = r"^P-[0-9A-F]{16}$"
# An opaque single-use handover grant (``POST /v1/pickups/{id}/handover-grants``): URL-safe base64 of 32+
# random bytes. The kiosk never interprets it; the server keeps only its SHA-256.
HANDOVER_GRANT_PATTERN = r"^[A-Za-z0-9_-]{43,128}$"
# A supervisor's override of failed pickup checks (``POST /v1/pickups/{id}/overrides``): opaque and single use
# like a grant, the same shape; the server keeps only its SHA-256.
OVERRIDE_ID_PATTERN = r"^[A-Za-z0-9_-]{43,128}$"
# The number on the pickup notice (交付通知書): the city's numbering. UNCONFIRMED format; this is tolerant.
NOTICE_NUMBER_PATTERN = r"^[A-Za-z0-9-]{1,32}$"
# A staff call's id: a UUID in canonical lower-case form, made by the kiosk so a retry is idempotent.
STAFF_CALL_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
SERIAL_PATTERN = r"^[0-9A-Fa-f]{1,40}$"
KEY_ID_PATTERN = r"^(?:[0-9A-Fa-f]{2}){1,64}$"
CONTACT_NAME_MAX = 100
EMAIL_MAX = 254
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
PHONE_PATTERN = r"^\+?[0-9][0-9 ()-]{5,19}$"
# The braille name on the card (点字氏名): katakana, at most 11 characters (workflows-and-peers.md C.1); the
# same alphabet as the kiosk's pad (kiosk.core.input.KATAKANA: ァ..ヴ and the long-vowel mark ー).
BRAILLE_NAME_MAX = 11
BRAILLE_NAME_PATTERN = r"^[\u30A1-\u30F4\u30FC]{1,11}$"
PHOTO_BASE64_MIN = 4
PHOTO_BASE64_MAX = (PHOTO_MAX_BYTES + 2) // 3 * 4  # base64 of the largest photo allowed
BASIC4_NAME_MAX = 200
BASIC4_ADDRESS_MAX = 400
# RFC 3339 date-time with an explicit offset: what the kiosk writes and every ISO 8601 parser reads.
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})$"
)


# --- what a handover records (workflows-and-peers.md C.2) -------------------------------------------------
# Each check of the counter, as the kiosk saw it. ``card_verified``: the driver's verdict on the chip;
# ``card_identity``: the card's auth certificate serial is the one the server expects for this pickup (the
# server checks the serial itself as well, and no override can hand over another card); ``basic4_match``: the
# card's basic 4 matched the pickup's keyed hash; ``face_visual``: the clerk confirmed the face against the
# application photo; ``pins_set``: the resident set the PINs (a child under 15 sets no sign PIN; a face-only
# card sets none, so it is not a required check).
HANDOVER_CHECKS = ("card_verified", "card_identity", "basic4_match", "face_visual", "pins_set")
# A card is handed over only when each of these passed, or a supervisor overrode exactly the others.
REQUIRED_HANDOVER_CHECKS = ("card_verified", "card_identity", "basic4_match", "face_visual")
CHECK_OUTCOMES = ("passed", "failed", "not_checked")
PIN_NAMES = ("auth", "sign", "card_info", "juki")
# What the counter takes back: the notification card (通知カード), a 住基カード, an old My Number card.
COLLECTED_DOCUMENTS = ("notification_card", "juki_card", "old_card")
# The supervisor's reason, typed on the kiosk: free text that may name the resident, so the server seals it.
OVERRIDE_REASON_MIN = 5
OVERRIDE_REASON_MAX = 500
_REASON_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)
_PICKUP_ID = re.compile(PICKUP_ID_PATTERN)
_GRANT = re.compile(HANDOVER_GRANT_PATTERN)
_OVERRIDE_ID = re.compile(OVERRIDE_ID_PATTERN)
_NOTICE_NUMBER = re.compile(NOTICE_NUMBER_PATTERN)
_STAFF_CALL_ID = re.compile(STAFF_CALL_ID_PATTERN)
_SERIAL = re.compile(SERIAL_PATTERN)
_KEY_ID = re.compile(KEY_ID_PATTERN)
_EMAIL = re.compile(EMAIL_PATTERN)
_PHONE = re.compile(PHONE_PATTERN)
_BIRTH_DATE = re.compile(BIRTH_DATE_PATTERN)
_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)
_BRAILLE_NAME = re.compile(BRAILLE_NAME_PATTERN)


class PayloadInvalid(ValueError):
    """A body does not fit its schema; ``field`` names where (``contact.email``), the message says how."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class Contact(TypedDict, total=False):
    name: str | None
    email: str | None
    phone: str | None


class Options(TypedDict, total=False):
    """What the resident chose for the new card. ``electronic_certificates``: issue the JPKI certificates
    (never under 15; the flow decides); ``braille_name``: the name in braille on the card, or None."""

    electronic_certificates: bool
    braille_name: str | None


# What an application without ``options`` (sent before they existed) means.
DEFAULT_OPTIONS: Options = {"electronic_certificates": True, "braille_name": None}


class ApplicationPayload(TypedDict):
    """``POST /v1/applications`` (the kiosk outbox's ``application`` item)."""

    application_id: str
    photo_jpeg_base64: str
    contact: NotRequired[Contact | None]
    options: NotRequired[Options | None]
    submitted_at: str


class HandoverChecks(TypedDict):
    """Each of ``HANDOVER_CHECKS`` with its outcome: "passed", "failed" or "not_checked"."""

    card_verified: str
    card_identity: str
    basic4_match: str
    face_visual: str
    pins_set: str


class Collected(TypedDict):
    """Which documents the counter took back (``COLLECTED_DOCUMENTS``), each true or false."""

    notification_card: bool
    juki_card: bool
    old_card: bool


class HandoverPayload(TypedDict):
    """``POST /v1/pickups/{pickup_id}/handover``.

    ``grant`` authorises it instead of a clerk's bearer token: a clerk session lasts 30 minutes, but a
    handover may wait in the kiosk's outbox for days; the grant was issued to this kiosk for this pickup
    while the clerk was signed in, and the first handover recorded with it uses it up. ``checks``,
    ``pins_set`` and ``collected`` are what happened at the counter (nothing personal); ``override`` is a
    supervisor's single-use override id, needed when a required check did not pass
    (``checks_needing_override``).
    """

    card_auth_cert_serial: str
    handed_over_at: str
    grant: str
    checks: HandoverChecks
    pins_set: list[str]
    collected: Collected
    override: NotRequired[str | None]


class HandoverItem(TypedDict):
    """The kiosk outbox's ``handover`` item: the pickup it is for, plus the body (sealed at rest: the grant
    and the override are credentials)."""

    pickup_id: str
    card_auth_cert_serial: str
    handed_over_at: str
    grant: str
    checks: HandoverChecks
    pins_set: list[str]
    collected: Collected
    override: NotRequired[str | None]


class OverrideRequestPayload(TypedDict):
    """``POST /v1/pickups/{pickup_id}/overrides`` (a supervisor): which required checks did not pass, and why."""

    failed_checks: list[str]
    reason: str


class StaffCallPayload(TypedDict):
    """``POST /v1/staff-calls``: which call (a kiosk-made UUID) and when. Never anything about the resident."""

    call_id: str
    called_at: str


class Basic4Payload(TypedDict):
    """The ``basic4`` object of ``POST /v1/pickups`` and ``/v1/pickups/{id}/basic4-check``."""

    name: str
    address: str
    birth_date: str
    sex: str


# --- field rules ------------------------------------------------------------------------------------------


def _fits(pattern: re.Pattern[str], value: str) -> bool:
    return pattern.fullmatch(value) is not None  # fullmatch: "$" would also match before a final newline


def is_idempotency_key(value: str) -> bool:
    """16-64 characters of A-Z, a-z, 0-9 and '-' (the ``Idempotency-Key`` header)."""
    return _fits(_IDEMPOTENCY_KEY, value)


def is_pickup_id(value: str) -> bool:
    """``P-`` and 16 upper-case hex digits, as the server hands them out."""
    return _fits(_PICKUP_ID, value)


def is_handover_grant(value: str) -> bool:
    return _fits(_GRANT, value)


def is_staff_call_id(value: str) -> bool:
    return _fits(_STAFF_CALL_ID, value)


def is_serial_hex(value: str) -> bool:
    return _fits(_SERIAL, value)


def is_key_id_hex(value: str) -> bool:
    return _fits(_KEY_ID, value)


def parse_timestamp(value: object, field: str = "timestamp") -> datetime:
    """An RFC 3339 date-time with an offset (``…Z`` or ``…+09:00``) to an aware datetime."""
    if not isinstance(value, str) or not _fits(_TIMESTAMP, value):
        raise PayloadInvalid(field, "must be an RFC 3339 date-time with a time zone, e.g. 2026-11-26T10:00:00+09:00")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise PayloadInvalid(field, "is not a real date and time") from None


def decode_photo_base64(text: str, field: str = "photo_jpeg_base64") -> bytes:
    """Strict standard base64 (no whitespace, no URL alphabet): a kiosk bug should not be silently tolerated."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PayloadInvalid(field, "is not valid standard base64") from None


def _object(value: object, field: str, allowed: frozenset[str], required: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PayloadInvalid(field, "must be a JSON object")
    unknown = sorted(str(key) for key in value if key not in allowed)
    if unknown:
        raise PayloadInvalid(field, f"unknown field(s) {', '.join(unknown)} (the server refuses them)")
    missing = sorted(required - set(value))
    if missing:
        raise PayloadInvalid(field, f"missing field(s) {', '.join(missing)}")
    return value


def _text(value: object, field: str, *, minimum: int = 1, maximum: int) -> str:
    if not isinstance(value, str):
        raise PayloadInvalid(field, "must be a string")
    if not minimum <= len(value) <= maximum:
        raise PayloadInvalid(field, f"must be {minimum}-{maximum} characters long")
    return value


# --- whole bodies -----------------------------------------------------------------------------------------

_APPLICATION_FIELDS = frozenset(ApplicationPayload.__annotations__)
# Spelled out: under ``from __future__ import annotations`` Python 3.11 does not see NotRequired.
_APPLICATION_REQUIRED = _APPLICATION_FIELDS - {"contact", "options"}
_CONTACT_FIELDS = frozenset(Contact.__annotations__)
_OPTIONS_FIELDS = frozenset(Options.__annotations__)
_OPTIONS_REQUIRED = frozenset({"electronic_certificates"})
_HANDOVER_FIELDS = frozenset(HandoverPayload.__annotations__)
_HANDOVER_REQUIRED = _HANDOVER_FIELDS - {"override"}
_HANDOVER_ITEM_FIELDS = frozenset(HandoverItem.__annotations__)
_HANDOVER_ITEM_REQUIRED = _HANDOVER_ITEM_FIELDS - {"override"}
# Fields an outbox item queued by an older kiosk lacks: such an item cannot be delivered (see the outbox).
HANDOVER_DETAIL_FIELDS = ("checks", "pins_set", "collected")
_CHECK_FIELDS = frozenset(HANDOVER_CHECKS)
_COLLECTED_FIELDS = frozenset(COLLECTED_DOCUMENTS)
_OVERRIDE_REQUEST_FIELDS = frozenset(OverrideRequestPayload.__annotations__)
_STAFF_CALL_FIELDS = frozenset(StaffCallPayload.__annotations__)
_BASIC4_FIELDS = frozenset(Basic4Payload.__annotations__)


def validate_contact(value: object, field: str = "contact") -> Contact | None:
    if value is None:
        return None
    contact = _object(value, field, _CONTACT_FIELDS, frozenset())
    name, email, phone = contact.get("name"), contact.get("email"), contact.get("phone")
    if name is not None:
        _text(name, f"{field}.name", maximum=CONTACT_NAME_MAX)
    if email is not None and not _fits(_EMAIL, _text(email, f"{field}.email", minimum=0, maximum=EMAIL_MAX)):
        raise PayloadInvalid(f"{field}.email", "is not an e-mail address (name@domain.tld)")
    if phone is not None and not (isinstance(phone, str) and _fits(_PHONE, phone)):
        raise PayloadInvalid(f"{field}.phone", "must be 6-20 digits, spaces, '()' or '-', optionally after '+'")
    return contact  # type: ignore[return-value]


def is_braille_name(value: str) -> bool:
    """1-11 katakana (ァ..ヴ, ー): what the card's braille name may hold."""
    return _fits(_BRAILLE_NAME, value)


def validate_options(value: object, field: str = "options") -> Options | None:
    """``{"electronic_certificates": bool, "braille_name": str | None}``; None (absent) is the defaults.

    ``electronic_certificates`` must be a real JSON boolean (not 1, not "true"); ``braille_name`` is optional
    (null: none on the card) and, when given, 1-11 katakana.
    """
    if value is None:
        return None
    options = _object(value, field, _OPTIONS_FIELDS, _OPTIONS_REQUIRED)
    if not isinstance(options["electronic_certificates"], bool):
        raise PayloadInvalid(f"{field}.electronic_certificates", "must be true or false")
    braille = options.get("braille_name")
    if braille is not None and not (isinstance(braille, str) and is_braille_name(braille)):
        raise PayloadInvalid(f"{field}.braille_name", f"must be 1-{BRAILLE_NAME_MAX} katakana (ァ-ヴ, ー) or null")
    return options  # type: ignore[return-value]


def effective_options(value: Options | None) -> Options:
    """The options as the city must act on them: the defaults where the kiosk sent none."""
    merged: Options = {**DEFAULT_OPTIONS}
    if value:
        merged.update(value)
    return merged


def validate_photo_field(value: object, field: str = "photo_jpeg_base64") -> str:
    """The photo's base64 as both bodies carry it: 4 characters up to the largest photo, strict base64."""
    photo = _text(value, field, minimum=PHOTO_BASE64_MIN, maximum=PHOTO_BASE64_MAX)
    decode_photo_base64(photo, field)
    return photo


def validate_application(payload: object) -> ApplicationPayload:
    """The body of ``POST /v1/applications``, checked field by field; PayloadInvalid at the first problem."""
    body = _object(payload, "application", _APPLICATION_FIELDS, _APPLICATION_REQUIRED)
    try:
        check_application_id(body["application_id"])
    except InvalidApplicationId as exc:
        raise PayloadInvalid("application_id", str(exc)) from None
    validate_photo_field(body["photo_jpeg_base64"])
    validate_contact(body.get("contact"))
    validate_options(body.get("options"))
    parse_timestamp(body["submitted_at"], "submitted_at")
    return body  # type: ignore[return-value]


def is_override_id(value: str) -> bool:
    return _fits(_OVERRIDE_ID, value)


def is_notice_number(value: str) -> bool:
    """1-32 characters of A-Z, a-z, 0-9 and '-' (the number printed on the pickup notice)."""
    return _fits(_NOTICE_NUMBER, value)


def checks_needing_override(checks: Mapping[str, str]) -> tuple[str, ...]:
    """The required checks that did not pass ("failed" or "not_checked"), in ``REQUIRED_HANDOVER_CHECKS``
    order: what a supervisor's override must name, exactly, for the handover to be accepted."""
    return tuple(name for name in REQUIRED_HANDOVER_CHECKS if checks.get(name) != "passed")


def validate_checks(value: object, field: str = "checks") -> HandoverChecks:
    """Every one of ``HANDOVER_CHECKS``, each "passed", "failed" or "not_checked" (none may be left out)."""
    checks = _object(value, field, _CHECK_FIELDS, _CHECK_FIELDS)
    for name in HANDOVER_CHECKS:
        if checks[name] not in CHECK_OUTCOMES:
            raise PayloadInvalid(f"{field}.{name}", f"must be one of {', '.join(CHECK_OUTCOMES)}")
    return checks  # type: ignore[return-value]


def check_pin_names(value: object, field: str = "pins_set") -> list[str]:
    """A list of distinct PIN names (``PIN_NAMES``); empty when none were set (a face-only card)."""
    if not isinstance(value, list):
        raise PayloadInvalid(field, "must be a list of PIN names")
    if any(name not in PIN_NAMES for name in value):
        raise PayloadInvalid(field, f"may only hold {', '.join(PIN_NAMES)}")
    if len(set(value)) != len(value):
        raise PayloadInvalid(field, "names a PIN twice")
    return value


def validate_collected(value: object, field: str = "collected") -> Collected:
    """Each of ``COLLECTED_DOCUMENTS`` as a real JSON boolean."""
    collected = _object(value, field, _COLLECTED_FIELDS, _COLLECTED_FIELDS)
    for name in COLLECTED_DOCUMENTS:
        if not isinstance(collected[name], bool):
            raise PayloadInvalid(f"{field}.{name}", "must be true or false")
    return collected  # type: ignore[return-value]


def check_failed_check_names(value: object, field: str = "failed_checks") -> list[str]:
    """What an override names: 1-4 distinct ``REQUIRED_HANDOVER_CHECKS`` (only a required check needs one)."""
    if not isinstance(value, list) or not value:
        raise PayloadInvalid(field, "must be a non-empty list of check names")
    if any(name not in REQUIRED_HANDOVER_CHECKS for name in value):
        raise PayloadInvalid(field, f"may only hold {', '.join(REQUIRED_HANDOVER_CHECKS)}")
    if len(set(value)) != len(value):
        raise PayloadInvalid(field, "names a check twice")
    return value


def check_override_reason(value: object, field: str = "reason") -> str:
    """5-500 characters, not only spaces, no control characters but tab and newline."""
    reason = _text(value, field, minimum=OVERRIDE_REASON_MIN, maximum=OVERRIDE_REASON_MAX)
    if _REASON_CONTROL.search(reason):
        raise PayloadInvalid(field, "must not hold control characters (tab and newline are fine)")
    if len(reason.strip()) < OVERRIDE_REASON_MIN:
        raise PayloadInvalid(field, f"must say why in at least {OVERRIDE_REASON_MIN} characters")
    return reason


def validate_override_request(payload: object) -> OverrideRequestPayload:
    """The body of ``POST /v1/pickups/{pickup_id}/overrides``."""
    body = _object(payload, "override", _OVERRIDE_REQUEST_FIELDS, _OVERRIDE_REQUEST_FIELDS)
    check_failed_check_names(body["failed_checks"])
    check_override_reason(body["reason"])
    return body  # type: ignore[return-value]


def _check_handover_fields(body: Mapping[str, Any]) -> None:
    serial = body["card_auth_cert_serial"]
    if not isinstance(serial, str) or not is_serial_hex(serial):
        raise PayloadInvalid("card_auth_cert_serial", "must be 1-40 hex digits (the auth certificate's serial)")
    parse_timestamp(body["handed_over_at"], "handed_over_at")
    grant = body["grant"]
    if not isinstance(grant, str) or not is_handover_grant(grant):
        raise PayloadInvalid("grant", "must be the handover grant the server issued (43-128 URL-safe characters)")
    validate_checks(body["checks"])
    check_pin_names(body["pins_set"])
    validate_collected(body["collected"])
    override = body.get("override")
    if override is not None and not (isinstance(override, str) and is_override_id(override)):
        raise PayloadInvalid("override", "must be the override id the server issued (43-128 URL-safe characters)")


def validate_handover(payload: object) -> HandoverPayload:
    """The body of ``POST /v1/pickups/{pickup_id}/handover``."""
    body = _object(payload, "handover", _HANDOVER_FIELDS, _HANDOVER_REQUIRED)
    _check_handover_fields(body)
    return body  # type: ignore[return-value]


def validate_handover_item(payload: object) -> HandoverItem:
    """The outbox's ``handover`` item: checked at enqueue, so a handover the server would refuse for its
    form is refused while the clerk is still at the counter, not found dead in the outbox later."""
    body = _object(payload, "handover", _HANDOVER_ITEM_FIELDS, _HANDOVER_ITEM_REQUIRED)
    pickup_id = body["pickup_id"]
    if not isinstance(pickup_id, str) or not is_pickup_id(pickup_id):
        raise PayloadInvalid("pickup_id", "must be P- and 16 upper-case hex digits")
    _check_handover_fields(body)
    return body  # type: ignore[return-value]


def handover_body(item: HandoverItem) -> HandoverPayload:
    """The request body of an outbox ``handover`` item (everything but the pickup id, which is in the path;
    ``override`` only when there is one)."""
    body: HandoverPayload = {
        "card_auth_cert_serial": item["card_auth_cert_serial"],
        "handed_over_at": item["handed_over_at"],
        "grant": item["grant"],
        "checks": item["checks"],
        "pins_set": item["pins_set"],
        "collected": item["collected"],
    }
    if item.get("override") is not None:
        body["override"] = item["override"]
    return body


def validate_staff_call(payload: object) -> StaffCallPayload:
    """The body of ``POST /v1/staff-calls``: an id and a time, and nothing else may ride along."""
    body = _object(payload, "staff_call", _STAFF_CALL_FIELDS, _STAFF_CALL_FIELDS)
    call_id = body["call_id"]
    if not isinstance(call_id, str) or not is_staff_call_id(call_id):
        raise PayloadInvalid("call_id", "must be a UUID in canonical lower-case form")
    parse_timestamp(body["called_at"], "called_at")
    return body  # type: ignore[return-value]


def validate_basic4(payload: object, field: str = "basic4") -> Basic4Payload:
    """The basic 4 object the server normalises (``contract.basic4``); the format checks it makes first."""
    body = _object(payload, field, _BASIC4_FIELDS, _BASIC4_FIELDS)
    _text(body["name"], f"{field}.name", maximum=BASIC4_NAME_MAX)
    _text(body["address"], f"{field}.address", maximum=BASIC4_ADDRESS_MAX)
    birth = body["birth_date"]
    if not isinstance(birth, str) or not _fits(_BIRTH_DATE, birth):
        raise PayloadInvalid(f"{field}.birth_date", "must be YYYYMMDD, YYYY-MM-DD, YYYY/MM/DD or YYYY.MM.DD")
    if body["sex"] not in SEX_CODES:
        raise PayloadInvalid(f"{field}.sex", f"must be one of {', '.join(SEX_CODES)} (ISO 5218)")
    return body  # type: ignore[return-value]
