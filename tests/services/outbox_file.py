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


def _has_payload_table(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'payloads'").fetchone() is not None


def payload_of(path: Path, item_id: str) -> Any:
    """An item's stored (sealed) payload wherever this outbox version keeps it; None when there is none."""
    with contextlib.closing(sqlite3.connect(path, timeout=10.0)) as db:
        found = db.execute("SELECT seq, payload FROM items WHERE id = ?", (item_id,)).fetchone()
        assert found, f"no item {item_id}"
        if _has_payload_table(db):
            blob = db.execute("SELECT blob FROM payloads WHERE item_seq = ?", (found[0],)).fetchone()
            if blob is not None:
                return blob[0]
        return found[1]


def set_payload(path: Path, item_id: str, blob: Any) -> None:
    """Overwrite an item's stored payload from outside (corruption, a bad restore, a swapped row), in
    whichever place this outbox version keeps it; ``None`` removes it."""
    with contextlib.closing(sqlite3.connect(path, timeout=10.0)) as db:
        seq, inline = db.execute("SELECT seq, payload FROM items WHERE id = ?", (item_id,)).fetchone()
        if _has_payload_table(db) and inline is None:
            if blob is None:
                db.execute("DELETE FROM payloads WHERE item_seq = ?", (seq,))
            else:
                db.execute("INSERT OR REPLACE INTO payloads (item_seq, blob) VALUES (?, ?)", (seq, blob))
        else:
            db.execute("UPDATE items SET payload = ? WHERE id = ?", (blob, item_id))
        db.commit()
