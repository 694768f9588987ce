"""Initial schema: kiosks, clerks and sessions, applications, idempotency records, pickups, CRLs.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kiosks",
        sa.Column("kiosk_id", sa.String(64), nullable=False),
        sa.Column("cert_sha256", sa.String(64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.Column("last_heartbeat_at", UTCDateTime(), nullable=True),
        sa.Column("version", sa.String(64), nullable=True),
        sa.Column("reader_state", sa.String(32), nullable=True),
        sa.Column("outbox_depth", sa.Integer(), nullable=True),
        sa.Column("outbox_oldest_age_seconds", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("kiosk_id", name="pk_kiosks"),
        sa.UniqueConstraint("cert_sha256", name="uq_kiosks_cert_sha256"),
    )
    op.create_table(
        "clerks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_clerks"),
        sa.UniqueConstraint("username", name="uq_clerks_username"),
    )
    op.create_table(
        "clerk_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("clerk_id", sa.Integer(), nullable=False),
        sa.Column("kiosk_id", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["clerk_id"], ["clerks.id"], name="fk_clerk_sessions_clerk_id_clerks", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.kiosk_id"], name="fk_clerk_sessions_kiosk_id_kiosks"),
        sa.PrimaryKeyConstraint("id", name="pk_clerk_sessions"),
        sa.UniqueConstraint("token_sha256", name="uq_clerk_sessions_token_sha256"),
    )
    op.create_index("ix_clerk_sessions_clerk_id", "clerk_sessions", ["clerk_id"])
    op.create_table(
        "applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receipt_id", sa.String(32), nullable=False),
        sa.Column("application_key", sa.String(64), nullable=False),
        sa.Column("application_id_last4", sa.String(4), nullable=False),
        sa.Column("application_id_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("photo_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("contact_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("kiosk_id", sa.String(64), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.kiosk_id"], name="fk_applications_kiosk_id_kiosks"),
        sa.PrimaryKeyConstraint("id", name="pk_applications"),
        sa.UniqueConstraint("application_key", name="uq_applications_application_key"),
        sa.UniqueConstraint("receipt_id", name="uq_applications_receipt_id"),
    )
    op.create_index("ix_applications_kiosk_id", "applications", ["kiosk_id"])
    op.create_table(
        "idempotency_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kiosk_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_json", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.kiosk_id"], name="fk_idempotency_records_kiosk_id_kiosks"),
        sa.PrimaryKeyConstraint("id", name="pk_idempotency_records"),
        sa.UniqueConstraint("kiosk_id", "scope", "key", name="uq_idempotency_records_kiosk_scope_key"),
    )
    op.create_table(
        "pickups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pickup_id", sa.String(32), nullable=False),
        sa.Column("application_key", sa.String(64), nullable=False),
        sa.Column("application_id_last4", sa.String(4), nullable=False),
        sa.Column("notice_number", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("card_auth_cert_serial", sa.String(40), nullable=False),
        sa.Column("card_issuer_key_id", sa.String(128), nullable=False),
        sa.Column("basic4_match_key", sa.String(64), nullable=False),
        sa.Column("photo_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("application_row_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("handed_over_at", UTCDateTime(), nullable=True),
        sa.Column("handed_over_by", sa.Integer(), nullable=True),
        sa.Column("handed_over_kiosk_id", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_row_id"], ["applications.id"], name="fk_pickups_application_row_id_applications"
        ),
        sa.ForeignKeyConstraint(["handed_over_by"], ["clerks.id"], name="fk_pickups_handed_over_by_clerks"),
        sa.ForeignKeyConstraint(
            ["handed_over_kiosk_id"], ["kiosks.kiosk_id"], name="fk_pickups_handed_over_kiosk_id_kiosks"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_pickups"),
        sa.UniqueConstraint("notice_number", name="uq_pickups_notice_number"),
        sa.UniqueConstraint("pickup_id", name="uq_pickups_pickup_id"),
    )
    op.create_index("ix_pickups_application_key", "pickups", ["application_key"])
    op.create_table(
        "crls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer_key_id", sa.String(128), nullable=False),
        sa.Column("issuer_dn", sa.String(1024), nullable=False),
        sa.Column("crl_number", sa.String(42), nullable=True),
        sa.Column("this_update", UTCDateTime(), nullable=False),
        sa.Column("next_update", UTCDateTime(), nullable=False),
        sa.Column("imported_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_crls"),
        sa.UniqueConstraint("issuer_key_id", name="uq_crls_issuer_key_id"),
    )
    op.create_table(
        "revoked_certificates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crl_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(42), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["crl_id"], ["crls.id"], name="fk_revoked_certificates_crl_id_crls", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_revoked_certificates"),
        sa.UniqueConstraint("crl_id", "serial", name="uq_revoked_certificates_crl_serial"),
    )


def downgrade() -> None:
    for table in (
        "revoked_certificates",
        "crls",
        "pickups",
        "idempotency_records",
        "applications",
        "clerk_sessions",
        "clerks",
        "kiosks",
    ):
        op.drop_table(table)
