"""Renewals with an existing card (nonces, renewals) and the options of an application.

``renewal_nonces`` keeps only the SHA-256 of each nonce; ``renewals.nonce_id`` is unique, so one nonce can
carry one renewal at most, whatever the application code does. ``applications.options_sealed`` is NULL for
applications received before kiosks sent options (they mean the defaults, ``contract.payloads``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("applications", sa.Column("options_sealed", sa.LargeBinary(), nullable=True))
    op.create_table(
        "renewal_nonces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce_sha256", sa.String(64), nullable=False),
        sa.Column("kiosk_id", sa.String(64), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.kiosk_id"], name="fk_renewal_nonces_kiosk_id_kiosks"),
        sa.PrimaryKeyConstraint("id", name="pk_renewal_nonces"),
        sa.UniqueConstraint("nonce_sha256", name="uq_renewal_nonces_nonce_sha256"),
    )
    op.create_index("ix_renewal_nonces_kiosk_id", "renewal_nonces", ["kiosk_id"])
    op.create_table(
        "renewals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receipt_id", sa.String(32), nullable=False),
        sa.Column("nonce_id", sa.Integer(), nullable=False),
        sa.Column("kiosk_id", sa.String(64), nullable=False),
        sa.Column("certificate_serial", sa.String(42), nullable=False),
        sa.Column("certificate_issuer_key_id", sa.String(128), nullable=False),
        sa.Column("photo_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("contact_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("options_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("evidence_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["nonce_id"], ["renewal_nonces.id"], name="fk_renewals_nonce_id_renewal_nonces"),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.kiosk_id"], name="fk_renewals_kiosk_id_kiosks"),
        sa.PrimaryKeyConstraint("id", name="pk_renewals"),
        sa.UniqueConstraint("receipt_id", name="uq_renewals_receipt_id"),
        sa.UniqueConstraint("nonce_id", name="uq_renewals_nonce_id"),
    )
    op.create_index("ix_renewals_kiosk_id", "renewals", ["kiosk_id"])
    op.create_index("ix_renewals_certificate_serial", "renewals", ["certificate_serial"])


def downgrade() -> None:
    op.drop_table("renewals")
    op.drop_table("renewal_nonces")
    with op.batch_alter_table("applications") as batch:
        batch.drop_column("options_sealed")
