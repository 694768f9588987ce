"""Idempotent writes: the first answer to (kiosk, scope, key) is stored and replayed to retries.

Kiosks send through a durable outbox and retry after timeouts, so the server must tell "the same request
again" from "a different request reusing a key". Two ways of hashing the body:

* ``body_sha256``: the SHA-256 of the bytes received (applications). A kiosk's retry sends the same bytes:
  the outbox keeps the item's JSON and the client serialises it the same way every time. Hashing the bytes
  costs ~0.1 ms for a 300 KB application instead of ~0.3 ms to re-serialise the parsed model. A retry whose
  bytes differ — re-serialised by other software, or stored under the canonical hash by a server before
  this rule — is not refused on the hash alone: the route's ``same_request`` compares what the request
  *says* with what was stored (for applications: the id, photo, contact, options and submission time), and
  only a real difference is 409 ``idempotency_key_reused``. Only that rare path pays for the comparison.
* ``request_hash``: the body in canonical JSON (sorted keys, no spaces; renewals, handovers), so that a
  retry serialised differently still matches.

The record is inserted in the same transaction as the write it describes; the unique constraint on
(kiosk, scope, key) settles races between two concurrent retries.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.errors import ApiError
from server.models import IdempotencyRecord

# Asked with the stored answer (its JSON body) when the hashes differ; True: the same request all the same.
SameRequest = Callable[[Session, dict[str, Any]], bool]


def body_sha256(raw: bytes) -> str:
    """The SHA-256 of the request body exactly as received."""
    return hashlib.sha256(raw).hexdigest()


def request_hash(body: BaseModel) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: a lone surrogate (valid JSON, "\ud800") must reach the route's own refusal, not a 500 here.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Replay:
    status_code: int
    body: dict[str, Any]


def find(
    session: Session,
    *,
    kiosk_id: str,
    scope: str,
    key: str,
    body_hash: str,
    same_request: SameRequest | None = None,
) -> Replay | None:
    """The stored answer for a retry, None for a new key, 409 for a key reused with another body.

    ``same_request`` (optional) is asked only when the hashes differ: True when the request is the stored
    one all the same (see the module docstring)."""
    record = session.execute(
        select(IdempotencyRecord.request_sha256, IdempotencyRecord.status_code, IdempotencyRecord.response_json).where(
            IdempotencyRecord.kiosk_id == kiosk_id, IdempotencyRecord.scope == scope, IdempotencyRecord.key == key
        )
    ).first()
    if record is None:
        return None
    stored_hash, status_code, response_json = record
    answer = json.loads(response_json)
    if stored_hash != body_hash and (same_request is None or not same_request(session, answer)):
        raise ApiError(
            409,
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request body; use a new key.",
        )
    return Replay(status_code, answer)


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
