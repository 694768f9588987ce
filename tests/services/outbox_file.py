"""The outbox as anyone else on the machine sees it: its SQLite file, read (or tampered with) through a
connection of our own — so tests observe what is on disk, not the outbox object's private state."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any


def rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(path, timeout=10.0)) as db:
        return list(db.execute(sql, params))


def row(path: Path, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...]:
    found = rows(path, sql, params)
    assert found, f"no row for {sql!r}"
    return found[0]


def write(path: Path, sql: str, params: tuple[Any, ...] = ()) -> None:
    """An outside write (an attacker, a bad restore, an older kiosk version), committed at once."""
    with contextlib.closing(sqlite3.connect(path, timeout=10.0)) as db:
        db.execute(sql, params)
        db.commit()
