"""Kiosk health for operators (issue 13): what a heartbeat now reports, and who disabled or enabled a kiosk.

``kiosks.outbox_dead`` (items the kiosk's outbox gave up on: staff must look), ``last_error_code`` (a short
code such as ``reader_error``, never a message) and ``last_error_at`` (by the server's clock: the kiosk sends
the error's age); ``enabled_changed_at`` / ``enabled_changed_by``: the last disable or enable.

``kiosk_events``: every disable and enable, with the operator, the kiosk they were signed in at (none from
the server's command line) and the reason, sealed (``server/audit.py``).

Revision ID: 0009
Revises: 0008
Create Date: 2027-02-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_KIOSK_COLUMNS = (
    ("outbox_dead", sa.Integer()),
    ("last_error_code", sa.String(64)),
    ("last_error_at", UTCDateTime()),
    ("enabled_changed_at", UTCDateTime()),
    ("enabled_changed_by", sa.String(64)),
)


def upgrade() -> None:
    # Plain ADD COLUMN (nullable): a batch copy would re-create ``kiosks``, which many tables reference.
    for name, kind in _KIOSK_COLUMNS:
        op.add_column("kiosks", sa.Column(name, kind, nullable=True))
    op.create_table(
        "kiosk_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kiosk_id", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("via_kiosk_id", sa.String(64), nullable=True),
        sa.Column("reason_sealed", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["kiosk_id"], ["kiosks.kiosk_id"], name="fk_kiosk_events_kiosk_id_kiosks"),
        sa.PrimaryKeyConstraint("id", name="pk_kiosk_events"),
    )
    op.create_index("ix_kiosk_events_kiosk_id", "kiosk_events", ["kiosk_id"])


def downgrade() -> None:
    op.drop_index("ix_kiosk_events_kiosk_id", table_name="kiosk_events")
    op.drop_table("kiosk_events")
    for name, _kind in reversed(_KIOSK_COLUMNS):
        op.drop_column("kiosks", name)
