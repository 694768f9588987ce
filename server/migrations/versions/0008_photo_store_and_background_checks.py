"""Application photos outside the row, and photo checks after the answer (issue 11).

``applications.photo_ref`` / ``photo_sha256``: a photo kept by the filesystem photo store
(``server/photo_store.py``) is a file named by this random id, and the row holds the SHA-256 of its sealed
bytes, checked on every read; ``photo_sealed`` is then empty (b""). The column stays NOT NULL: changing that
on SQLite means copying the table, which pickups reference (see 0007) and which, in the deployments that
need the file store, is full of photos.

``photo_check`` (pending | passed | retake_needed), ``photo_rule`` (the ``photo_*`` code of the failed rule),
``photo_checked_at``, and the job's claim (``photo_check_lease_until``, ``photo_check_attempts``): the face
rules run in a background job of every server process (``server/photo_checks.py``), which claims a pending
row with a conditional UPDATE. Rows stored before this revision were checked on arrival: ``passed``.

Revision ID: 0008
Revises: 0007
Create Date: 2027-01-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, no batch copy (see the docstring).
    op.add_column("applications", sa.Column("photo_ref", sa.String(64), nullable=True))
    op.add_column("applications", sa.Column("photo_sha256", sa.String(64), nullable=True))
    op.add_column(
        "applications", sa.Column("photo_check", sa.String(16), nullable=False, server_default="passed")
    )
    op.add_column("applications", sa.Column("photo_rule", sa.String(32), nullable=True))
    op.add_column("applications", sa.Column("photo_checked_at", UTCDateTime(), nullable=True))
    op.add_column("applications", sa.Column("photo_check_lease_until", UTCDateTime(), nullable=True))
    op.add_column(
        "applications", sa.Column("photo_check_attempts", sa.Integer(), nullable=False, server_default="0")
    )
    op.create_index("ix_applications_photo_check", "applications", ["photo_check"])


def downgrade() -> None:
    op.drop_index("ix_applications_photo_check", table_name="applications")
    for column in (
        "photo_check_attempts",
        "photo_check_lease_until",
        "photo_checked_at",
        "photo_rule",
        "photo_check",
        "photo_sha256",
        "photo_ref",
    ):
        op.drop_column("applications", column)
