"""SQLAlchemy 2 tables. Personal data is only ever stored sealed (AES-GCM, see keys.py) or as keyed hashes.

Columns ending in ``_sealed`` hold encrypted blobs; ``*_key`` columns hold HMACs used to find a record by an
identifier (an application id) without storing it in clear; ``*_last4`` keep what a receipt may show.
The migration in ``migrations/versions`` must describe exactly these tables (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out — on SQLite too, which stores them naive."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Kiosk(Base):
    """A registered kiosk, identified by the SHA-256 fingerprint of its client certificate."""

    __tablename__ = "kiosks"

    kiosk_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cert_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[str | None] = mapped_column(String(64))
    reader_state: Mapped[str | None] = mapped_column(String(32))
    outbox_depth: Mapped[int | None] = mapped_column(Integer)
    outbox_oldest_age_seconds: Mapped[float | None] = mapped_column(Float)
    sign_in_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    sign_in_window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    office: Mapped[str | None] = mapped_column(String(64))
    # Health the kiosk reports with each heartbeat (server/fleet.py judges it): its dead outbox items (they
    # need staff), and its last error as a short code (``last_error_code``, never a message) with when it
    # happened by this server's clock (the kiosk sends the error's age: kiosk clocks drift).
    outbox_dead: Mapped[int | None] = mapped_column(Integer)
    last_error_code: Mapped[str | None] = mapped_column(String(64))
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last disable/enable (who, when); the whole history with reasons is ``KioskEvent``.
    enabled_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    enabled_changed_by: Mapped[str | None] = mapped_column(String(64))


class KioskEvent(Base):
    """An operator took a kiosk out of service or back (``server/audit.py``): who, from where, when and why.

    ``reason_sealed``: the operator's free text, sealed (it may name a person); ``via_kiosk_id``: the kiosk
    the operator was signed in at (None for ``kiosk server kiosk-disable`` on the server host).
    """

    __tablename__ = "kiosk_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.kiosk_id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(16))  # disabled | enabled
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    via_kiosk_id: Mapped[str | None] = mapped_column(String(64))
    reason_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)


class Clerk(Base):
    """A counter clerk (role ``clerk``), a supervisor who may also override a failed pickup check with a
    reason (role ``supervisor``), or an operator who may also seed pickups (role ``operator``)."""

    __tablename__ = "clerks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    office: Mapped[str | None] = mapped_column(String(64))


class ClerkSession(Base):
    """A bearer token, stored as its SHA-256 only (the token itself is shown once, to the client)."""

    __tablename__ = "clerk_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    clerk_id: Mapped[int] = mapped_column(ForeignKey("clerks.id", ondelete="CASCADE"), index=True)
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.kiosk_id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Application(Base):
    """A card application (交付申請) sent by a kiosk: photo and contact sealed, the id as a keyed hash."""

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    receipt_id: Mapped[str] = mapped_column(String(32), unique=True)
    application_key: Mapped[str] = mapped_column(String(64), unique=True)
    application_id_last4: Mapped[str] = mapped_column(String(4))
    application_id_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    photo_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    contact_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The resident's choices (electronic certificates, braille name), defaults filled in; NULL for rows stored
    # before kiosks sent them (migration 0004). Sealed like the contact: a braille name is a name.
    options_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.kiosk_id"), index=True)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The filesystem photo store (server/photo_store.py, migration 0008): the file's random id and the
    # SHA-256 of its sealed bytes (checked on every read); ``photo_sealed`` is then b"". NULL: in the row.
    photo_ref: Mapped[str | None] = mapped_column(String(64))
    photo_sha256: Mapped[str | None] = mapped_column(String(64))
    # The pixel and face checks after the answer (server/photo_checks.py): pending | passed | retake_needed,
    # the ``photo_*`` code of the broken rule, when it was decided, and the background job's claim.
    photo_check: Mapped[str] = mapped_column(String(16), index=True, server_default="passed")
    photo_rule: Mapped[str | None] = mapped_column(String(32))
    photo_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    photo_check_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    photo_check_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RenewalNonce(Base):
    """A single-use challenge for one renewal from one kiosk, stored as its SHA-256 (the nonce is shown once).

    ``used_at`` is set in the same transaction that stores the renewal signed over it: exactly once.
    """

    __tablename__ = "renewal_nonces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nonce_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.kiosk_id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Renewal(Base):
    """A renewal application signed by the resident's card (auth key) over a nonce and the payload.

    The card is identified by its auth certificate's serial and issuing CA key (the auth certificate holds no
    name or number). Its expiry is not a column: JPKI certificates end on a birthday, so the date would tell
    the holder's. Photo, contact and options are sealed like an application's; ``evidence_sealed`` keeps what
    re-verifies the signature later (certificate, signature, nonce, payload hash).
    """

    __tablename__ = "renewals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    receipt_id: Mapped[str] = mapped_column(String(32), unique=True)
    nonce_id: Mapped[int] = mapped_column(ForeignKey("renewal_nonces.id"), unique=True)
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.kiosk_id"), index=True)
    certificate_serial: Mapped[str] = mapped_column(String(42), index=True)  # lower-case hex, no leading zeros
    certificate_issuer_key_id: Mapped[str] = mapped_column(String(128))
    photo_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    contact_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    options_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    evidence_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IdempotencyRecord(Base):
    """The first answer to (kiosk, scope, key), replayed for retries with the same request body hash."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("kiosk_id", "scope", "key", name="uq_idempotency_records_kiosk_scope_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.kiosk_id"))
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64))
    request_sha256: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Pickup(Base):
    """A card waiting at the counter (交付), with what the clerk must check before handing it over."""

    __tablename__ = "pickups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pickup_id: Mapped[str] = mapped_column(String(32), unique=True)
    application_key: Mapped[str] = mapped_column(String(64), index=True)
    application_id_last4: Mapped[str] = mapped_column(String(4))
    notice_number: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    card_auth_cert_serial: Mapped[str] = mapped_column(String(40))
    card_issuer_key_id: Mapped[str] = mapped_column(String(128))
    basic4_match_key: Mapped[str] = mapped_column(String(64))
    photo_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    application_row_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    handed_over_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handed_over_by: Mapped[int | None] = mapped_column(ForeignKey("clerks.id"))
    handed_over_kiosk_id: Mapped[str | None] = mapped_column(ForeignKey("kiosks.kiosk_id"))
    # The holder's name and birth date for the clerk's visual check, sealed (JSON); NULL for pickups created
    # before migration 0007.
    holder_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # What the handover recorded — checks, PINs set, documents collected — as compact JSON with no personal
    # data (``server/routes/pickups.py``); NULL until handed over, and for handovers before 0007.
    handover_details: Mapped[str | None] = mapped_column(Text)


class HandoverGrant(Base):
    """A clerk's single-use authorisation for one handover of one pickup at one kiosk, stored as its SHA-256.

    Why not the clerk's bearer token: that dies after 30 minutes, while a handover can wait in the kiosk's
    outbox through an outage. The clerk asks for a grant while signed in; the grant is consumed (``used_at``)
    by the first handover recorded with it and is worthless at any other kiosk or for any other pickup.
    """

    __tablename__ = "handover_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grant_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    pickup_row_id: Mapped[int] = mapped_column(ForeignKey("pickups.id", ondelete="CASCADE"), index=True)
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.kiosk_id"))
    clerk_id: Mapped[int] = mapped_column(ForeignKey("clerks.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CheckOverride(Base):
    """A supervisor's single-use override of failed required checks for one pickup at one kiosk, stored as its
    SHA-256 like a grant. ``failed_checks`` is a JSON list of check names; the reason is free text the
    supervisor typed (it may name the resident), so it is sealed. ``used_at`` is set by the handover it let
    through: the pickup's override, if any, is its used row.
    """

    __tablename__ = "check_overrides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    override_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    pickup_row_id: Mapped[int] = mapped_column(ForeignKey("pickups.id", ondelete="CASCADE"), index=True)
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.kiosk_id"))
    supervisor_id: Mapped[int] = mapped_column(ForeignKey("clerks.id"))
    failed_checks: Mapped[str] = mapped_column(String(128))
    reason_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StaffCall(Base):
    """A resident pressed "call staff" at a kiosk. Only which kiosk and when: a call carries no personal data."""

    __tablename__ = "staff_calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(36), unique=True)  # the kiosk's UUID: a retry is idempotent
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.kiosk_id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)  # open | acknowledged | cancelled
    called_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the kiosk's clock
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())  # the server's clock (ages are from this)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("clerks.id"))


class RevocationList(Base):
    """The newest imported CRL per issuing CA key (the server is the city's JPKI verifier)."""

    __tablename__ = "crls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issuer_key_id: Mapped[str] = mapped_column(String(128), unique=True)
    issuer_dn: Mapped[str] = mapped_column(String(1024))
    crl_number: Mapped[str | None] = mapped_column(String(42))  # hex; up to 20 octets by RFC 5280
    this_update: Mapped[datetime] = mapped_column(UTCDateTime())
    next_update: Mapped[datetime] = mapped_column(UTCDateTime())
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_count: Mapped[int] = mapped_column(Integer)


class RevokedCertificate(Base):
    __tablename__ = "revoked_certificates"
    __table_args__ = (UniqueConstraint("crl_id", "serial", name="uq_revoked_certificates_crl_serial"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    crl_id: Mapped[int] = mapped_column(ForeignKey("crls.id", ondelete="CASCADE"))
    serial: Mapped[str] = mapped_column(String(42))  # lower-case hex without leading zeros
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(String(32))


class AuditEntry(Base):
    """One link of a kiosk's hash-chained audit trail of clerk actions (``contract.audit``), as the kiosk
    wrote it: ``at`` and ``details`` are kept as the exact text that was hashed (a re-rendered time or JSON
    would no longer match the hash). No personal data: the contract refuses it before anything is stored.
    ``(kiosk_id, seq)`` is unique, so two appends racing for the same seq cannot both land.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (UniqueConstraint("kiosk_id", "seq", name="uq_audit_entries_kiosk_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kiosk_id: Mapped[str] = mapped_column(ForeignKey("kiosks.kiosk_id"))
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[str] = mapped_column(String(24), index=True)  # YYYY-MM-DDTHH:MM:SS.mmmZ: text order is time order
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
