"""Request and response models: the contract the kiosk speaks (see also server/openapi.json).

Inputs forbid unknown fields so a typo on the kiosk side is a clear 422, not silently dropped data. Fields
holding personal data are ``repr=False`` so they never appear in a repr, a log line or a failing assert.
All times are ISO 8601 in UTC on the way out; inputs must carry a time zone.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, WithJsonSchema

from server.photos import MAX_BYTES

APPLICATION_ID_PATTERN = r"^[0-9]{23}$"
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9-]{16,64}$"
NOTICE_NUMBER_PATTERN = r"^[A-Za-z0-9-]{1,32}$"
SERIAL_PATTERN = r"^[0-9A-Fa-f]{1,40}$"
KEY_ID_PATTERN = r"^(?:[0-9A-Fa-f]{2}){1,64}$"
MAX_PHOTO_BASE64 = (MAX_BYTES + 2) // 3 * 4

_APPLICATION_ID = re.compile(APPLICATION_ID_PATTERN, re.ASCII)


def _check_application_id(value: str) -> str:
    if not _APPLICATION_ID.match(value):
        raise ValueError("must be exactly 23 ASCII digits (the 申請書ID printed on the application form)")
    return value


ApplicationId = Annotated[
    str,
    AfterValidator(_check_application_id),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": APPLICATION_ID_PATTERN,
            "minLength": 23,
            "maxLength": 23,
            "description": "The 申請書ID: exactly 23 ASCII digits.",
        }
    ),
]
SerialHex = Annotated[str, Field(pattern=SERIAL_PATTERN, description="Certificate serial number in hex.")]
KeyIdHex = Annotated[str, Field(pattern=KEY_ID_PATTERN, description="Authority/subject key identifier in hex.")]
Finite = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]

ApplicationStatus = Literal["received", "card_ready", "handed_over"]
PickupStatus = Literal["ready", "handed_over", "cancelled"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer. Some errors add fields (``fields``, ``receipt``, ``locked_until``…)."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="Stable machine-readable code, e.g. already_submitted.")
    message: str = Field(description="Human-readable explanation (English).")


# --- applications -----------------------------------------------------------------------------------------


class Contact(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100, repr=False)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$", repr=False)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 ()-]{5,19}$", repr=False)


class ApplicationCreate(Strict):
    application_id: ApplicationId = Field(repr=False)
    photo_jpeg_base64: str = Field(
        min_length=4,
        max_length=MAX_PHOTO_BASE64,
        repr=False,
        description="JPEG, RGB, 20 KB–7 MB, 480–6000 px per side; standard base64.",
    )
    contact: Contact | None = Field(default=None, repr=False)
    submitted_at: AwareDatetime


class ApplicationReceipt(BaseModel):
    receipt_id: str
    application_id_masked: str
    status: ApplicationStatus
    received_at: datetime
    duplicate: bool = Field(description="True when this answers a retry with the same Idempotency-Key.")


class ApplicationState(BaseModel):
    receipt_id: str
    application_id_masked: str
    status: ApplicationStatus
    received_at: datetime
    updated_at: datetime


# --- pickups ----------------------------------------------------------------------------------------------


class CardRef(Strict):
    auth_cert_serial: SerialHex
    issuer_key_id: KeyIdHex


class Basic4In(Strict):
    """Basic 4 information (synthetic in tests); normalised and hashed as described in server/matching.py."""

    name: str = Field(min_length=1, max_length=200, repr=False)
    address: str = Field(min_length=1, max_length=400, repr=False)
    birth_date: str = Field(pattern=r"^[0-9]{4}[-/]?[0-9]{2}[-/]?[0-9]{2}$", repr=False)
    sex: Literal["1", "2", "9"] = Field(repr=False)


class PickupCreate(Strict):
    application_id: ApplicationId = Field(repr=False)
    notice_number: str = Field(pattern=NOTICE_NUMBER_PATTERN, description="Number on the 交付通知書.")
    card: CardRef
    basic4: Basic4In = Field(repr=False)
    photo_jpeg_base64: str | None = Field(
        default=None,
        min_length=4,
        max_length=MAX_PHOTO_BASE64,
        repr=False,
        description="Face photo for the clerk; when absent, the photo of the matching application is used.",
    )


class PickupOut(BaseModel):
    pickup_id: str
    application_id_masked: str
    notice_number: str
    status: PickupStatus
    card: CardRef
    basic4_match_key: str = Field(description="HMAC-SHA256 of the normalised basic 4 information (opaque).")
    photo_jpeg_base64: str | None = Field(default=None, repr=False)
    created_at: datetime
    handed_over_at: datetime | None = None


class HandoverRequest(Strict):
    card_auth_cert_serial: SerialHex
    handed_over_at: AwareDatetime


class HandoverResult(BaseModel):
    pickup_id: str
    status: PickupStatus
    handed_over_at: datetime
    clerk: str
    kiosk_id: str
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


class Heartbeat(Strict):
    version: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e][\x20-\x7e]*$")
    reader_state: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description="e.g. ok, no_reader, card_present")
    outbox_depth: int = Field(ge=0, le=1_000_000_000)
    outbox_oldest_age_seconds: Finite | None = None


class HeartbeatAck(BaseModel):
    kiosk_id: str
    received_at: datetime


class KioskOut(BaseModel):
    kiosk_id: str
    enabled: bool
    state: Literal["online", "stale", "never_seen", "disabled"]
    registered_at: datetime
    last_heartbeat_at: datetime | None
    version: str | None
    reader_state: str | None
    outbox_depth: int | None
    outbox_oldest_age_seconds: float | None


class KioskList(BaseModel):
    kiosks: list[KioskOut]
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
    role: Literal["clerk", "operator"]


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]
