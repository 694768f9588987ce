"""The application lifecycle's names: received, in_production, ready_for_pickup, picked_up, refused.

Before this revision an application was received, card_ready (a pickup was seeded) or handed_over. The
columns stay as they are (``applications.status`` is a String(16) and every new name fits); the rows are
renamed so that one vocabulary is stored and shown (``server/lifecycle.py``). Downgrading maps the new names
back; in_production and refused had no old name and become received (the operator's decision is lost).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_RENAMES = (("card_ready", "ready_for_pickup"), ("handed_over", "picked_up"))
_applications = sa.table("applications", sa.column("status", sa.String(16)))


def upgrade() -> None:
    for old, new in _RENAMES:
        op.execute(_applications.update().where(_applications.c.status == old).values(status=new))


def downgrade() -> None:
    for old, new in _RENAMES:
        op.execute(_applications.update().where(_applications.c.status == new).values(status=old))
    op.execute(
        _applications.update()
        .where(_applications.c.status.in_(("in_production", "refused")))
        .values(status="received")
    )
