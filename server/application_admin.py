"""The operator's hand on the application lifecycle: ``kiosk server set-application-status ID STATE``.

Why a module of its own (like ``pickup_admin``): the CLI today, an operator API later, and tests all move
applications the same way, through ``server.lifecycle``'s rules. Only what an operator decides is set here
(in production, refused, re-opened); "ready for pickup" and "picked up" come from the pickup records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from server.deps import ServerContext
from server.identifiers import application_lookup_key, mask_application_id
from server.lifecycle import LEGACY_NAMES, TransitionRefused, check_operator_move
from server.models import Application


class ApplicationNotFound(LookupError):
    """No application row under this 申請書ID (the message never repeats the id)."""


@dataclass(frozen=True, slots=True)
class StatusChange:
    application_id_masked: str
    receipt_id: str
    previous: str
    status: str
    changed: bool
    updated_at: datetime


def set_application_status(context: ServerContext, application_id: str, target: str) -> StatusChange:
    """Move one application to ``target`` if the lifecycle allows it; the same state again changes nothing.

    Raises ``ApplicationNotFound`` or ``lifecycle.TransitionRefused`` (a ValueError saying what to do instead).
    """
    lookup = application_lookup_key(context.keys, application_id)
    now = context.clock()
    with context.sessions() as session:
        application = session.scalar(
            select(Application).where(Application.application_key == lookup).with_for_update()
        )
        if application is None:
            raise ApplicationNotFound("no application was received under this application id")
        previous = LEGACY_NAMES.get(application.status, application.status)
        changed = check_operator_move(previous, target)
        if changed:
            application.status = target
            application.updated_at = now
        session.commit()
        return StatusChange(
            application_id_masked=mask_application_id(application.application_id_last4),
            receipt_id=application.receipt_id,
            previous=previous,
            status=target,
            changed=changed,
            updated_at=application.updated_at,
        )


__all__ = ["ApplicationNotFound", "StatusChange", "TransitionRefused", "set_application_status"]
