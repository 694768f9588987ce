"""The pickup's holder (sealed), what a handover recorded, and supervisors' overrides of failed checks.

``pickups.holder_sealed``: the holder's name and birth date for the clerk's visual check, sealed like the
photo; pickups created before this revision have none (the clerk's lookup then shows no name and
``under_15`` is null). ``pickups.handover_details``: the checks, the PINs set and the documents collected, as
JSON without personal data. ``check_overrides``: a supervisor's single-use override of failed required
checks for one pickup at one kiosk, stored as its SHA-256, with the reason sealed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN: a batch copy would drop and re-create ``pickups``, which handover grants reference,
    # and fail on a SQLite database that holds them (as migration 0005 found for ``kiosks``).
    op.add_column("pickups", sa.Column("holder_sealed", sa.LargeBinary(), nullable=True))
    op.add_column("pickups", sa.Column("handover_details", sa.Text(), nullable=True))
    op.create_table(
        "check_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("override_sha256", sa.String(64), nullable=False),
        sa.Column("pickup_row_id", sa.Integer(), nullable=False),
        sa.Column("kiosk_id", sa.String(64), nullable=False),
        sa.Column("supervisor_id", sa.Integer(), nullable=False),
        sa.Column("failed_checks", sa.String(128), nullable=False),
        sa.Column("reason_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pickup_row_id"], ["pickups.id"], name="fk_check_overrides_pickup_row_id_pickups", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.kiosk_id"], name="fk_check_overrides_kiosk_id_kiosks"),
        sa.ForeignKeyConstraint(["supervisor_id"], ["clerks.id"], name="fk_check_overrides_supervisor_id_clerks"),
        sa.PrimaryKeyConstraint("id", name="pk_check_overrides"),
        sa.UniqueConstraint("override_sha256", name="uq_check_overrides_override_sha256"),
    )
    op.create_index("ix_check_overrides_pickup_row_id", "check_overrides", ["pickup_row_id"])


def downgrade() -> None:
    op.drop_table("check_overrides")
    op.drop_column("pickups", "handover_details")
    op.drop_column("pickups", "holder_sealed")
