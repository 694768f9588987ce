"""Request and response models: the contract the kiosk speaks (see also server/openapi.json).

The patterns and limits of the exchanged payloads — the application, the handover, the basic 4
information, and the identifiers (申請書ID, certificate serial, key id, Idempotency-Key) — come from
``contract`` (``contract.payloads``, ``contract.application_id``, ``contract.basic4``), where the kiosk's
own validation takes them from too, so the two cannot drift apart (tests/server/test_schemas_contract.py).

Inputs forbid unknown fields so a typo on the kiosk side is a clear 422, not silently dropped data. Fields
holding personal data are ``repr=False`` so they never appear in a repr, a log line or a failing assert.
All times are ISO 8601 in UTC on the way out; inputs must carry a time zone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    WithJsonSchema,
    model_validator,
)

from contract import audit, payloads, renewal
from contract.application_id import (
    APPLICATION_ID_DESCRIPTION,
    APPLICATION_ID_LENGTH,
    APPLICATION_ID_PATTERN,
    check_application_id,
)
from contract.basic4 import BIRTH_DATE_PATTERN, SEX_CODES
from server import fleet
from server.lifecycle import ApplicationState as ApplicationStatus
from server.lifecycle import NextStep

IDEMPOTENCY_KEY_PATTERN = payloads.IDEMPOTENCY_KEY_PATTERN
NOTICE_NUMBER_PATTERN = payloads.NOTICE_NUMBER_PATTERN
SERIAL_PATTERN = payloads.SERIAL_PATTERN
KEY_ID_PATTERN = payloads.KEY_ID_PATTERN
PICKUP_ID_PATTERN = payloads.PICKUP_ID_PATTERN
HANDOVER_GRANT_PATTERN = payloads.HANDOVER_GRANT_PATTERN
OVERRIDE_ID_PATTERN = payloads.OVERRIDE_ID_PATTERN
STAFF_CALL_ID_PATTERN = payloads.STAFF_CALL_ID_PATTERN
MAX_PHOTO_BASE64 = payloads.PHOTO_BASE64_MAX

ApplicationId = Annotated[
    str,
    AfterValidator(check_application_id),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": APPLICATION_ID_PATTERN,
            "minLength": APPLICATION_ID_LENGTH,
            "maxLength": APPLICATION_ID_LENGTH,
            "description": APPLICATION_ID_DESCRIPTION,
        }
    ),
]
SerialHex = Annotated[str, Field(pattern=SERIAL_PATTERN, description="Certificate serial number in hex.")]
KeyIdHex = Annotated[str, Field(pattern=KEY_ID_PATTERN, description="Authority/subject key identifier in hex.")]
Finite = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]

PickupStatus = Literal["ready", "handed_over", "cancelled"]
PhotoCheckState = Literal["pending", "passed", "retake_needed"]
_PHOTO_CHECK = (
    "The photo's pixel and face checks (server/photo_checks.py): pending (not run yet: the answer came "
    "first), passed, or retake_needed (a rule failed, see photo_rule; the resident contacts the counter)."
)
_PHOTO_RULE = "The photo_* code of the rule the photo broke (e.g. photo_eyes_open) when retake_needed, else null."


class Strict(BaseModel):
    # hide_input_in_errors: a ValidationError's text (a traceback, a log line) must not quote the value.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer. Some errors add fields (``fields``, ``receipt``, ``locked_until``…)."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="Stable machine-readable code, e.g. already_submitted.")
    message: str = Field(description="Human-readable explanation (English).")


# --- applications -----------------------------------------------------------------------------------------


class Contact(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=payloads.CONTACT_NAME_MAX, repr=False)
    email: str | None = Field(
        default=None, max_length=payloads.EMAIL_MAX, pattern=payloads.EMAIL_PATTERN, repr=False
    )
    phone: str | None = Field(default=None, pattern=payloads.PHONE_PATTERN, repr=False)


class Options(Strict):
    """What the resident chose for the new card (``contract.payloads.validate_options``)."""

    electronic_certificates: StrictBool = Field(
        description="Issue the electronic certificates (JPKI) on the new card; never for residents under 15."
    )
    braille_name: str | None = Field(
        default=None,
        pattern=payloads.BRAILLE_NAME_PATTERN,
        repr=False,
        description=f"The name in braille on the card: 1-{payloads.BRAILLE_NAME_MAX} katakana (ァ-ヴ, ー); "
        "null for none.",
    )


PhotoBase64 = Annotated[
    str,
    Field(
        min_length=payloads.PHOTO_BASE64_MIN,
        max_length=MAX_PHOTO_BASE64,
        repr=False,
        description="JPEG, RGB, 20 KB–7 MB, 480–6000 px per side; standard base64.",
    ),
]


class ApplicationCreate(Strict):
    application_id: ApplicationId = Field(repr=False)
    photo_jpeg_base64: PhotoBase64
    contact: Contact | None = Field(default=None, repr=False)
    options: Options | None = Field(
        default=None,
        repr=False,
        description="Absent or null (kiosks before options existed): electronic certificates, no braille name.",
    )
    submitted_at: AwareDatetime


class ApplicationReceipt(BaseModel):
    receipt_id: str
    application_id_masked: str
    status: ApplicationStatus
    received_at: datetime
    duplicate: bool = Field(description="True when this answers a retry with the same Idempotency-Key.")
    photo_check: PhotoCheckState | None = Field(
        default=None,
        description="What was known of the photo checks when the application was received: pending when they "
        "run after the answer, passed when the server ran them first. Absent in receipts from before it existed.",
    )


class ApplicationState(BaseModel):
    receipt_id: str
    application_id_masked: str
    status: ApplicationStatus
    received_at: datetime
    updated_at: datetime
    photo_check: PhotoCheckState | None = Field(default=None, description=_PHOTO_CHECK)
    photo_rule: str | None = Field(default=None, description=_PHOTO_RULE)


class ApplicationStatusOut(BaseModel):
    """Where an application is, as a resident may see it at any kiosk: no name, photo, contact or receipt."""

    application_id_masked: str = Field(description="The 申請書ID with all but its last 4 digits masked.")
    status: ApplicationStatus = Field(
        description="received → in_production → ready_for_pickup → picked_up; or refused (ask at the counter)."
    )
    updated_at: datetime = Field(description="When the record that decides the status last changed.")
    next_step: NextStep | None = Field(
        description="What the resident does now: wait_for_notice (the pickup notice comes by post), "
        "collect_at_counter (bring the notice and ID documents), contact_counter (also when the photo needs a "
        "retake); null when nothing is left."
    )
    photo_check: PhotoCheckState | None = Field(
        default=None, description=_PHOTO_CHECK + " Null when the city received the application another way."
    )
    photo_rule: str | None = Field(default=None, description=_PHOTO_RULE)


# --- renewals with an existing card -------------------------------------------------------------------------


class RenewalPayload(Strict):
    """What the resident applies for; covered by the card's signature (``contract.renewal``)."""

    photo_jpeg_base64: PhotoBase64
    contact: Contact | None = Field(default=None, repr=False)
    options: Options = Field(repr=False)
    submitted_at: AwareDatetime


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` inlined (the payload is documented, but kept as sent)."""
    definitions = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(definitions[ref.removeprefix("#/$defs/")])
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(schema)  # type: ignore[no-any-return]


# The payload is kept as the JSON object it arrived as: the signature covers its canonical JSON, which a
# parsed-and-dumped model would not reproduce (time spellings, defaults). The route validates it with
# ``RenewalPayload`` (422 payload_invalid); the published schema is that model's.
RenewalPayloadJson = Annotated[
    dict[str, Any],
    WithJsonSchema(_inline_refs(RenewalPayload.model_json_schema())),
]


class RenewalCreate(Strict):
    nonce: str = Field(
        pattern=renewal.NONCE_PATTERN,
        description="From POST /v1/renewals/nonces (this kiosk, unused, unexpired): base64url, 43 characters.",
    )
    auth_certificate: str = Field(
        min_length=4,
        max_length=renewal.MAX_CERTIFICATE_BASE64,
        repr=False,
        description="The card's user-authentication certificate (JPKI EF 000A), DER in standard base64.",
    )
    signature: str = Field(
        min_length=4,
        max_length=renewal.MAX_SIGNATURE_BASE64,
        repr=False,
        description="The card's auth-key signature (RSA PKCS#1 v1.5, SHA-256) over "
        "renewal_message(nonce, payload) (contract/renewal.py), standard base64.",
    )
    payload: RenewalPayloadJson = Field(repr=False)


class RenewalNonceOut(BaseModel):
    nonce: str = Field(description="32 random bytes, base64url without padding; the server keeps its SHA-256.")
    expires_at: datetime


class RenewalReceipt(BaseModel):
    receipt_id: str
    status: Literal["received"]
    received_at: datetime
    duplicate: bool = Field(description="True when this answers a retry with the same Idempotency-Key.")


# --- pickups ----------------------------------------------------------------------------------------------


class CardRef(Strict):
    auth_cert_serial: SerialHex
    issuer_key_id: KeyIdHex


class Basic4In(Strict):
    """Basic 4 information (synthetic in tests); normalised as contract/basic4.py says, then hashed."""

    name: str = Field(min_length=1, max_length=payloads.BASIC4_NAME_MAX, repr=False)
    address: str = Field(min_length=1, max_length=payloads.BASIC4_ADDRESS_MAX, repr=False)
    birth_date: str = Field(pattern=BIRTH_DATE_PATTERN, repr=False)
    sex: Literal[SEX_CODES] = Field(repr=False)  # type: ignore[valid-type]


class PickupCreate(Strict):
    application_id: ApplicationId = Field(repr=False)
    notice_number: str = Field(pattern=NOTICE_NUMBER_PATTERN, description="Number on the 交付通知書.")
    card: CardRef
    basic4: Basic4In = Field(repr=False)
    photo_jpeg_base64: str | None = Field(
        default=None,
        min_length=payloads.PHOTO_BASE64_MIN,
        max_length=MAX_PHOTO_BASE64,
        repr=False,
        description="Face photo for the clerk; when absent, the photo of the matching application is used.",
    )


class HolderOut(BaseModel):
    """Who the card is for, for the clerk's visual check (sealed at rest; only in the clerk's lookup)."""

    name: str = Field(repr=False, description="As the city's records spell it (not normalised).")
    birth_date: date = Field(repr=False)


class PickupOut(BaseModel):
    pickup_id: str
    application_id_masked: str
    notice_number: str
    status: PickupStatus
    card: CardRef = Field(description="The card the server expects on the counter for this pickup.")
    basic4_match_key: str = Field(description="HMAC-SHA256 of the normalised basic 4 information (opaque).")
    photo_jpeg_base64: str | None = Field(default=None, repr=False)
    holder: HolderOut | None = Field(
        default=None,
        repr=False,
        description="Name and birth date, in the clerk's lookup only; null elsewhere and for pickups created "
        "before the server kept them.",
    )
    under_15: bool | None = Field(
        default=None,
        description="Under 15 on today's date in Japan (contract/age.py): no signing certificate, so no sign "
        "PIN. Null when the server has no birth date for this pickup.",
    )
    created_at: datetime
    handed_over_at: datetime | None = None


CheckOutcome = Literal[payloads.CHECK_OUTCOMES]  # type: ignore[valid-type]
PinName = Literal[payloads.PIN_NAMES]  # type: ignore[valid-type]
RequiredCheck = Literal[payloads.REQUIRED_HANDOVER_CHECKS]  # type: ignore[valid-type]


def _distinct(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("a name is given twice")
    return values


def _reason(value: str) -> str:
    return payloads.check_override_reason(value)


class HandoverChecks(Strict):
    """Each check of the counter as the kiosk saw it (``contract.payloads.HANDOVER_CHECKS``)."""

    card_verified: CheckOutcome = Field(description="The driver's verdict on the chip (verified or not).")
    card_identity: CheckOutcome = Field(
        description="The card's auth certificate serial is the pickup's (the server also checks it itself)."
    )
    basic4_match: CheckOutcome = Field(description="The card's basic 4 matched the pickup (basic4-check).")
    face_visual: CheckOutcome = Field(description="The clerk confirmed the face against the application photo.")
    pins_set: CheckOutcome = Field(description="The resident set the PINs (not a required check).")


class Collected(Strict):
    """What the counter took back."""

    notification_card: StrictBool = Field(description="The notification card (通知カード).")
    juki_card: StrictBool = Field(description="A 住基カード.")
    old_card: StrictBool = Field(description="An old My Number card.")


class HandoverRequest(Strict):
    card_auth_cert_serial: SerialHex
    handed_over_at: AwareDatetime
    grant: str = Field(
        pattern=HANDOVER_GRANT_PATTERN,
        repr=False,
        description="The single-use grant from POST /v1/pickups/{pickup_id}/handover-grants (this kiosk, this "
        "pickup). It replaces the clerk's bearer token, which may have expired while the handover waited.",
    )
    checks: HandoverChecks = Field(
        description="card_verified, card_identity, basic4_match and face_visual are required: any that did not "
        "pass needs a supervisor's override naming exactly those (409 checks_failed otherwise)."
    )
    pins_set: Annotated[list[PinName], AfterValidator(_distinct)] = Field(
        max_length=len(payloads.PIN_NAMES), description="The PINs the resident set (none for a face-only card)."
    )
    collected: Collected
    override: str | None = Field(
        default=None,
        pattern=OVERRIDE_ID_PATTERN,
        repr=False,
        description="From POST /v1/pickups/{pickup_id}/overrides (this kiosk, this pickup, single use).",
    )


class OverrideRequest(Strict):
    """A supervisor lets a pickup go ahead although required checks did not pass, and says why."""

    failed_checks: Annotated[list[RequiredCheck], AfterValidator(_distinct)] = Field(
        min_length=1,
        max_length=len(payloads.REQUIRED_HANDOVER_CHECKS),
        description="Exactly the required checks that did not pass; the handover must report the same.",
    )
    reason: Annotated[str, AfterValidator(_reason)] = Field(
        min_length=payloads.OVERRIDE_REASON_MIN,
        max_length=payloads.OVERRIDE_REASON_MAX,
        repr=False,
        description="Why (5-500 characters, no control characters but tab and newline); stored sealed.",
    )


class OverrideOut(BaseModel):
    override: str = Field(repr=False, description="Opaque; shown once. The server keeps only its SHA-256.")
    pickup_id: str
    kiosk_id: str
    failed_checks: list[str]
    supervisor: str
    expires_at: datetime


class HandoverGrantOut(BaseModel):
    grant: str = Field(repr=False, description="Opaque; shown once. The server keeps only its SHA-256.")
    pickup_id: str
    kiosk_id: str
    expires_at: datetime


class HandoverResult(BaseModel):
    pickup_id: str
    status: PickupStatus
    handed_over_at: datetime
    clerk: str
    kiosk_id: str
    overridden_checks: list[str] = Field(default_factory=list, description="Checks a supervisor overrode.")
    supervisor: str | None = Field(default=None, description="Who overrode them (user name).")
    duplicate: bool


class Basic4Check(Strict):
    basic4: Basic4In = Field(repr=False)


class Basic4CheckResult(BaseModel):
    match: bool
    normalisation: str


# --- certificate status -----------------------------------------------------------------------------------


class CertificateStatusRequest(Strict):
    issuer_key_id: KeyIdHex
    issuer_dn: str | None = Field(default=None, min_length=1, max_length=1024, description="RFC 4514 DN.")
    serial: SerialHex


class CertificateStatusOut(BaseModel):
    status: Literal["good", "revoked", "unknown"]
    reason: str | None = None
    revoked_at: datetime | None = None
    crl_this_update: datetime | None = None
    crl_next_update: datetime | None = None


# --- kiosks -----------------------------------------------------------------------------------------------


def _error_code(value: str) -> str:
    """A short code, never text that could hold personal data: ``contract.audit``'s rule for codes."""
    try:
        audit.check_details({"code": value})
    except audit.AuditInvalid:
        raise ValueError("must be a lower-case code (a-z, 0-9, _ . -; no runs of 4 digits), never a message") from None
    return value


ErrorCode = Annotated[str, Field(pattern=audit.CODE_PATTERN), AfterValidator(_error_code)]
READER_STATES_SENT = ("ok", "no_reader", "card_present", "reader_error")


class Heartbeat(Strict):
    """A kiosk's health, every ``[server] heartbeat_seconds`` (kiosk/services/heartbeat.py). Counts, ages and
    codes only: nothing about any resident."""

    version: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e][\x20-\x7e]*$")
    reader_state: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description=f"The card reader: {', '.join(READER_STATES_SENT)} (the kiosk sends these; other codes are "
        "kept as they come). reader_error and no_reader make the kiosk unhealthy.",
    )
    outbox_depth: int = Field(ge=0, le=1_000_000_000)
    outbox_oldest_age_seconds: Finite | None = None
    outbox_dead: int | None = Field(
        default=None, ge=0, le=1_000_000_000, description="Items the outbox gave up on (refused): staff must look."
    )
    last_error_code: ErrorCode | None = Field(
        default=None, description="The kiosk's last error as a code, e.g. reader_error, server_unreachable."
    )
    last_error_age_seconds: Finite | None = Field(
        default=None, description="How long ago it happened (with last_error_code; the kiosk's clock may drift)."
    )

    @model_validator(mode="after")
    def _error_and_age_together(self) -> Heartbeat:
        if (self.last_error_code is None) != (self.last_error_age_seconds is None):
            raise ValueError("last_error_code and last_error_age_seconds come together")
        return self


class HeartbeatAck(BaseModel):
    kiosk_id: str
    received_at: datetime


KioskState = Literal[fleet.STATES]  # type: ignore[valid-type]  # the tuples' values, from server/fleet.py
KioskHealthVerdict = Literal[fleet.HEALTH]  # type: ignore[valid-type]
KioskProblem = Literal[fleet.PROBLEMS]  # type: ignore[valid-type]


class KioskOut(BaseModel):
    kiosk_id: str
    enabled: bool
    state: KioskState = Field(
        description="disabled; never_seen (no heartbeat yet); online; silent (no heartbeat for longer than the "
        "server's heartbeat_stale_seconds — called stale before issue 13)."
    )
    health: KioskHealthVerdict = Field(
        description="Of what the kiosk last reported: unknown before its first heartbeat."
    )
    problems: list[KioskProblem] = Field(description="Why it is unhealthy (empty when ok); server/fleet.py.")
    needs_attention: bool = Field(description="Enabled and silent or unhealthy: what a monitoring job alarms on.")
    registered_at: datetime
    office: str | None = None
    last_heartbeat_at: datetime | None
    heartbeat_age_seconds: float | None = None
    version: str | None
    reader_state: str | None
    outbox_depth: int | None
    outbox_oldest_age_seconds: float | None
    outbox_dead: int | None = None
    last_error_code: str | None = None
    last_error_at: datetime | None = None
    enabled_changed_at: datetime | None = Field(default=None, description="The last disable or enable.")
    enabled_changed_by: str | None = Field(default=None, description="Who did it (user name, or cli:<account>).")


class KioskList(BaseModel):
    kiosks: list[KioskOut]
    count: int


class KioskDisable(Strict):
    """An operator takes a kiosk out of service: its certificate is refused from its next request on."""

    reason: Annotated[str, AfterValidator(_reason)] = Field(
        min_length=payloads.OVERRIDE_REASON_MIN,
        max_length=payloads.OVERRIDE_REASON_MAX,
        repr=False,
        description="Why (5-500 characters); kept sealed in the server's record of kiosk actions.",
    )


class KioskEnable(Strict):
    reason: Annotated[str, AfterValidator(_reason)] | None = Field(
        default=None,
        min_length=payloads.OVERRIDE_REASON_MIN,
        max_length=payloads.OVERRIDE_REASON_MAX,
        repr=False,
        description="Optional note (5-500 characters), kept sealed like a disable's reason.",
    )


class KioskChange(BaseModel):
    kiosk: KioskOut
    changed: bool = Field(description="False when the kiosk was already so (nothing recorded).")


# --- staff calls -----------------------------------------------------------------------------------------

StaffCallStatus = Literal["open", "acknowledged", "cancelled"]
StaffCallId = Annotated[str, Field(pattern=STAFF_CALL_ID_PATTERN, description="A UUID made by the kiosk.")]


class StaffCallCreate(Strict):
    """A resident asked for staff. Only an id and a time: a call carries no personal data at all."""

    call_id: StaffCallId
    called_at: AwareDatetime = Field(description="When the resident pressed the button (the kiosk's clock).")


class StaffCallOut(BaseModel):
    call_id: str
    kiosk_id: str
    status: StaffCallStatus
    called_at: datetime
    received_at: datetime
    age_seconds: float = Field(description="Seconds since the server received the call.")
    cancelled_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by_clerk_id: int | None = None
    acknowledged_by: str | None = Field(default=None, description="The clerk's user name.")


class StaffCallReceipt(StaffCallOut):
    duplicate: bool = Field(description="True when this answers a retry with the same call_id.")


class StaffCallList(BaseModel):
    calls: list[StaffCallOut] = Field(description="Open calls, newest first.")
    count: int


# --- clerk sessions ---------------------------------------------------------------------------------------


class LoginRequest(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256, repr=False)


class TokenOut(BaseModel):
    token: str = Field(repr=False)
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_at: datetime
    username: str
    role: Literal["clerk", "supervisor", "operator"]


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


# --- audit trail (contract.audit) ---------------------------------------------------------------------------

AUDIT_BATCH_MAX = 500
AuditRole = Literal[audit.ROLES]  # type: ignore[valid-type]  # the tuple's values, from the contract
AuditOutcome = Literal[audit.OUTCOMES]  # type: ignore[valid-type]


class AuditEntryIn(Strict):
    """One entry of a kiosk's audit chain, exactly as the kiosk hashed it. The shapes below are a first
    filter; ``contract.audit.entry_from_dict`` applies the whole rule (no personal data in subject or
    details), and the server recomputes the hash."""

    seq: int = Field(ge=1, le=audit.MAX_SEQ, strict=True)
    kiosk_id: str = Field(pattern=audit.KIOSK_ID_PATTERN)
    at: str = Field(pattern=audit.AT_PATTERN, description="UTC, YYYY-MM-DDTHH:MM:SS.mmmZ.")
    actor: str = Field(pattern=audit.ACTOR_PATTERN, description='The clerk\'s user name, or "system".')
    role: AuditRole
    action: str = Field(pattern=audit.ACTION_PATTERN, description="e.g. pickup.handover (contract.audit.ACTIONS).")
    outcome: AuditOutcome
    subject: str | None = Field(default=None, max_length=64,
                                description="An opaque reference: pickup id, receipt id, masked application id.")
    details: dict[str, Any] = Field(default_factory=dict, description="Codes and counts only; no floats.")
    prev_hash: str = Field(pattern=audit.HASH_PATTERN)
    hash: str = Field(pattern=audit.HASH_PATTERN, description="SHA-256(prev_hash ‖ canonical JSON of the body).")


class AuditBatch(Strict):
    entries: list[AuditEntryIn] = Field(min_length=1, max_length=AUDIT_BATCH_MAX,
                                        description="Consecutive entries of the calling kiosk's chain, in order.")


class AuditAppendResult(BaseModel):
    kiosk_id: str
    stored: int = Field(description="Entries stored by this request.")
    duplicates: int = Field(description="Entries the server held already (a resend after a lost answer).")
    last_seq: int = Field(description="The head of this kiosk's chain on the server, after this request.")
    last_hash: str


class AuditChainBrokenBody(ErrorBody):
    """409 ``audit_chain_broken``: what the server would accept next for this kiosk."""

    expected_seq: int
    expected_prev_hash: str
