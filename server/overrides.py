"""Supervisor overrides: letting one pickup go ahead although required checks did not pass, with a reason.

Why: a card must not be handed over when the chip did not verify, the card is not the expected one, the
basic 4 does not match or the clerk could not confirm the face (``contract.payloads.REQUIRED_HANDOVER_CHECKS``)
— unless a supervisor, signed in at the same kiosk, takes responsibility and says why (issue 10: "a pickup
cannot complete when a required check failed unless a supervisor overrides with a reason, which is
recorded"). The override is shaped like a handover grant (``server/grants.py``), for the same reason: the
handover it lets through may wait in the kiosk's outbox long after the supervisor signed out.

- 256 random bits, shown once; the database keeps its SHA-256, the pickup, the kiosk, the supervisor, the
  check names and the reason — sealed, since a supervisor's free text may name the resident.
- Accepted only from the kiosk it was issued to, for its pickup, until ``handover_grant_lifetime`` (the
  grant's lifetime: the two travel together), and once: the handover it lets through marks it used.
- It names the failed checks exactly: the handover must report the same set as not passed, so an override
  given for a face the clerk could not confirm cannot also wave through a basic 4 mismatch found later.
- The server still compares the card's serial itself: no override hands over another card
  (``card_mismatch``). Whether the supervisor must be another person than the clerk is UNCONFIRMED; it is
  not enforced (a small office may have one person at the counter), but both are recorded.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from contract.payloads import REQUIRED_HANDOVER_CHECKS, checks_needing_override
from server.errors import ApiError
from server.keys import ServerKeys
from server.models import CheckOverride, Pickup

REASON_PURPOSE = "override-reason"


def override_digest(override_id: str) -> str:
    return hashlib.sha256(override_id.encode("ascii", "replace")).hexdigest()


def _in_order(names: Sequence[str]) -> list[str]:
    return [name for name in REQUIRED_HANDOVER_CHECKS if name in set(names)]


def issue(
    session: Session,
    pickup: Pickup,
    *,
    kiosk_id: str,
    supervisor_id: int,
    failed_checks: Sequence[str],
    reason: str,
    keys: ServerKeys,
    now: datetime,
    lifetime: timedelta,
) -> tuple[str, datetime]:
    """Store an override of ``failed_checks`` for ``pickup`` at ``kiosk_id``; returns its id (shown once) and
    expiry."""
    override_id = secrets.token_urlsafe(32)
    expires_at = now + lifetime
    session.add(
        CheckOverride(
            override_sha256=override_digest(override_id),
            pickup_row_id=pickup.id,
            kiosk_id=kiosk_id,
            supervisor_id=supervisor_id,
            failed_checks=json.dumps(_in_order(failed_checks)),
            reason_sealed=keys.seal(reason.encode("utf-8"), purpose=REASON_PURPOSE),
            created_at=now,
            expires_at=expires_at,
        )
    )
    return override_id, expires_at


def failed_checks_of(row: CheckOverride) -> list[str]:
    return [str(name) for name in json.loads(row.failed_checks)]


def reason_of(row: CheckOverride, keys: ServerKeys) -> str:
    """The supervisor's reason, unsealed (for an auditor's export; never logged)."""
    return keys.unseal(row.reason_sealed, purpose=REASON_PURPOSE).decode("utf-8")


def redeem(session: Session, override_id: str, pickup: Pickup, *, kiosk_id: str, now: datetime) -> CheckOverride:
    """The override row if ``override_id`` is valid for ``pickup`` from ``kiosk_id`` now; 403 otherwise.

    Locked, so two handovers cannot both use it; the caller marks it used in the handover's transaction (a
    refused handover leaves it usable).
    """
    row = session.scalar(
        select(CheckOverride).where(CheckOverride.override_sha256 == override_digest(override_id)).with_for_update()
    )
    if row is None or row.pickup_row_id != pickup.id or row.kiosk_id != kiosk_id:
        raise ApiError(
            403, "override_invalid", "This override is unknown, or was given for another pickup or kiosk."
        )
    if row.used_at is not None:
        raise ApiError(403, "override_used", "This override was already used for a handover.")
    if row.expires_at <= now:
        raise ApiError(403, "override_expired", "This override has expired; a supervisor must override again.")
    return row


def authorise_checks(
    session: Session,
    checks: dict[str, str],
    override_id: str | None,
    pickup: Pickup,
    *,
    kiosk_id: str,
    now: datetime,
) -> CheckOverride | None:
    """Whether a handover reporting ``checks`` may go ahead: None when every required check passed and no
    override came with it; the override row when it names exactly the checks that did not pass; 403 for an
    override that is not valid here, 409 ``checks_failed`` / ``override_mismatch`` otherwise."""
    needing = list(checks_needing_override(checks))
    if override_id is None:
        if needing:
            raise ApiError(
                409,
                "checks_failed",
                "Required checks did not pass; a supervisor must override them with a reason.",
                extra={"failed_checks": needing},
            )
        return None
    row = redeem(session, override_id, pickup, kiosk_id=kiosk_id, now=now)
    overridden = failed_checks_of(row)
    if overridden != needing:
        raise ApiError(
            409,
            "override_mismatch",
            "The override names other checks than the ones that did not pass.",
            extra={"failed_checks": needing, "overridden_checks": overridden},
        )
    return row
