"""Sign-in limits per kiosk, and offices for kiosks and clerks.

``kiosks.sign_in_failures`` / ``sign_in_window_start`` count failed clerk sign-ins at a kiosk across user
names (a kiosk left alone cannot be used to try many accounts). ``office`` groups kiosks and clerks: a
clerk sees the "call staff" requests of the kiosks of their office. NULL means "no office set" (one office).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy): on SQLite a batch would drop and re-create ``kiosks``, which every
    # other table references, and fail on a database that holds rows.
    op.add_column("kiosks", sa.Column("sign_in_failures", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("kiosks", sa.Column("sign_in_window_start", UTCDateTime(), nullable=True))
    op.add_column("kiosks", sa.Column("office", sa.String(64), nullable=True))
    op.add_column("clerks", sa.Column("office", sa.String(64), nullable=True))


def downgrade() -> None:
    # SQLite (3.35+) and PostgreSQL both drop a plain column in place.
    for table, column in (("clerks", "office"), ("kiosks", "office"), ("kiosks", "sign_in_window_start"),
                          ("kiosks", "sign_in_failures")):
        op.drop_column(table, column)
