"""Handover grants (a clerk's single-use authorisation that outlives the session) and staff calls.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handover_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grant_sha256", sa.String(64), nullable=False),
        sa.Column("pickup_row_id", sa.Integer(), nullable=False),
        sa.Column("kiosk_id", sa.String(64), nullable=False),
        sa.Column("clerk_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pickup_row_id"], ["pickups.id"], name="fk_handover_grants_pickup_row_id_pickups", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.kiosk_id"], name="fk_handover_grants_kiosk_id_kiosks"),
        sa.ForeignKeyConstraint(["clerk_id"], ["clerks.id"], name="fk_handover_grants_clerk_id_clerks"),
        sa.PrimaryKeyConstraint("id", name="pk_handover_grants"),
        sa.UniqueConstraint("grant_sha256", name="uq_handover_grants_grant_sha256"),
    )
    op.create_index("ix_handover_grants_pickup_row_id", "handover_grants", ["pickup_row_id"])
    op.create_table(
        "staff_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(36), nullable=False),
        sa.Column("kiosk_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("called_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.kiosk_id"], name="fk_staff_calls_kiosk_id_kiosks"),
        sa.ForeignKeyConstraint(["acknowledged_by"], ["clerks.id"], name="fk_staff_calls_acknowledged_by_clerks"),
        sa.PrimaryKeyConstraint("id", name="pk_staff_calls"),
        sa.UniqueConstraint("call_id", name="uq_staff_calls_call_id"),
    )
    op.create_index("ix_staff_calls_kiosk_id", "staff_calls", ["kiosk_id"])
    op.create_index("ix_staff_calls_status", "staff_calls", ["status"])


def downgrade() -> None:
    op.drop_table("staff_calls")
    op.drop_table("handover_grants")
