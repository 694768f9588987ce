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
    with op.batch_alter_table("kiosks") as batch:
        batch.add_column(sa.Column("sign_in_failures", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("sign_in_window_start", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("office", sa.String(64), nullable=True))
    with op.batch_alter_table("clerks") as batch:
        batch.add_column(sa.Column("office", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clerks") as batch:
        batch.drop_column("office")
    with op.batch_alter_table("kiosks") as batch:
        batch.drop_column("office")
        batch.drop_column("sign_in_window_start")
        batch.drop_column("sign_in_failures")
