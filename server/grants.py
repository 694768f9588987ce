"""Handover grants: a clerk's single-use authorisation for one handover, that outlives the clerk's session.

Why: the kiosk records a handover through its durable outbox, and an outbox item may wait for days (an
outage, a server move). A clerk's bearer token lives 30 minutes, so a handover authorised by it could
never land once it had waited too long. Instead, while signed in, the clerk asks for a grant for *this*
pickup at *this* kiosk; the kiosk stores the grant (sealed) with the handover, and the server accepts it:

- only from the kiosk it was issued to (mTLS identity) and only for its pickup;
- only until ``Settings.handover_grant_lifetime`` (default 7 days) has passed;
- only once: the first handover recorded with it consumes it (``used_at``). A retry of that same
  request (same Idempotency-Key and body) is answered from the idempotency store before the grant is
  looked at, so a lost answer is still replayed; any other request with a used grant is refused.

Like clerk tokens, the grant is 256 random bits and the database keeps only its SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.errors import ApiError
from server.models import HandoverGrant, Pickup


def grant_digest(grant: str) -> str:
    return hashlib.sha256(grant.encode("ascii", "replace")).hexdigest()


def issue(
    session: Session, pickup: Pickup, *, kiosk_id: str, clerk_id: int, now: datetime, lifetime: timedelta
) -> tuple[str, datetime]:
    """Create a grant for ``pickup`` at ``kiosk_id``; returns the grant (shown once) and its expiry."""
    grant = secrets.token_urlsafe(32)
    expires_at = now + lifetime
    session.add(
        HandoverGrant(
            grant_sha256=grant_digest(grant),
            pickup_row_id=pickup.id,
            kiosk_id=kiosk_id,
            clerk_id=clerk_id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return grant, expires_at


def redeem(session: Session, grant: str, pickup: Pickup, *, kiosk_id: str, now: datetime) -> HandoverGrant:
    """The grant row if ``grant`` authorises a handover of ``pickup`` from ``kiosk_id`` now; 403 otherwise.

    The caller marks it used in the same transaction as the handover (so a failed handover — a card
    mismatch, say — leaves the grant usable). The row is locked so two different requests with one grant
    cannot both succeed.
    """
    row = session.scalar(
        select(HandoverGrant).where(HandoverGrant.grant_sha256 == grant_digest(grant)).with_for_update()
    )
    if row is None:
        raise ApiError(403, "grant_invalid", "This handover grant is unknown; the clerk must authorise the handover.")
    if row.pickup_row_id != pickup.id:
        raise ApiError(403, "grant_invalid", "This handover grant was issued for another pickup.")
    if row.kiosk_id != kiosk_id:
        raise ApiError(403, "grant_invalid", "This handover grant was issued to another kiosk.")
    if row.used_at is not None:
        raise ApiError(403, "grant_used", "This handover grant was already used for a handover.")
    if row.expires_at <= now:
        raise ApiError(403, "grant_expired", "This handover grant has expired; the clerk must authorise again.")
    return row
