"""Idempotent writes: the first answer to (kiosk, scope, key) is stored and replayed to retries.

Kiosks send through a durable outbox and retry after timeouts, so the server must tell "the same request
again" from "a different request reusing a key". The body is hashed in canonical JSON (sorted keys, no
spaces) so that a retry serialised differently still matches. The record is inserted in the same
transaction as the write it describes; the unique constraint on (kiosk, scope, key) settles races between
two concurrent retries.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.errors import ApiError
from server.models import IdempotencyRecord


def request_hash(body: BaseModel) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: a lone surrogate (valid JSON, "\ud800") must reach the route's own refusal, not a 500 here.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Replay:
    status_code: int
    body: dict[str, Any]


def find(session: Session, *, kiosk_id: str, scope: str, key: str, body_hash: str) -> Replay | None:
    """The stored answer for a retry, None for a new key, 409 for a key reused with another body."""
    record = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.kiosk_id == kiosk_id, IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    )
    if record is None:
        return None
    if record.request_sha256 != body_hash:
        raise ApiError(
            409,
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request body; use a new key.",
        )
    return Replay(record.status_code, json.loads(record.response_json))


def remember(
    session: Session,
    *,
    kiosk_id: str,
    scope: str,
    key: str,
    body_hash: str,
    status_code: int,
    body: dict[str, Any],
    now: datetime,
) -> None:
    session.add(
        IdempotencyRecord(
            kiosk_id=kiosk_id,
            scope=scope,
            key=key,
            request_sha256=body_hash,
            status_code=status_code,
            response_json=json.dumps(body, separators=(",", ":")),
            created_at=now,
        )
    )
