"""Alembic environment: runs against the engine the server hands over (no alembic.ini, no global URL).

``render_as_batch`` lets later migrations alter SQLite tables (SQLite cannot ALTER most things in place).
"""

from __future__ import annotations

from alembic import context

from server.models import Base

engine = context.config.attributes.get("engine")
if engine is None:  # pragma: no cover - only reached by someone running the alembic CLI by hand
    raise RuntimeError("run migrations through server.db.upgrade_to_head(engine)")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
