"""``/v1/kiosks``: kiosks report health (heartbeat, mTLS), staff see the fleet (clerk token), and an operator
takes a kiosk out of service or back (``server/fleet.py`` decides state and health for all of them)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy import select, update

from server.deps import ClerkDep, ContextDep, KioskDep, OperatorDep, ReadSessionDep, SessionDep
from server.errors import ApiError
from server.fleet import HealthRules, KioskHealth, UnknownKiosk, judge, set_enabled
from server.models import Kiosk
from server.schemas import (
    ErrorBody,
    Heartbeat,
    HeartbeatAck,
    KioskChange,
    KioskDisable,
    KioskEnable,
    KioskList,
    KioskOut,
)
from server.settings import KIOSK_ID_PATTERN

router = APIRouter(prefix="/v1/kiosks", tags=["kiosks"])

KioskId = Annotated[str, Path(pattern=KIOSK_ID_PATTERN, description="The kiosk's id (kiosk server add-kiosk).")]


@router.post(
    "/heartbeat",
    response_model=HeartbeatAck,
    responses={403: {"model": ErrorBody}, 422: {"model": ErrorBody}},
    summary="Report kiosk health",
)
def heartbeat(body: Heartbeat, kiosk: KioskDep, context: ContextDep, session: SessionDep) -> HeartbeatAck:
    now = context.clock()
    error_at = None
    if body.last_error_age_seconds is not None:
        error_at = now - timedelta(seconds=min(body.last_error_age_seconds, 10 * 365 * 86400.0))
    session.execute(
        update(Kiosk)
        .where(Kiosk.kiosk_id == kiosk.kiosk_id)
        .values(
            last_heartbeat_at=now,
            version=body.version,
            reader_state=body.reader_state,
            outbox_depth=body.outbox_depth,
            outbox_oldest_age_seconds=body.outbox_oldest_age_seconds,
            outbox_dead=body.outbox_dead,
            last_error_code=body.last_error_code,
            last_error_at=error_at,
        )
    )
    session.commit()
    return HeartbeatAck(kiosk_id=kiosk.kiosk_id, received_at=now)


def kiosk_out(health: KioskHealth) -> KioskOut:
    return KioskOut.model_validate(health.as_dict())


@router.get(
    "",
    response_model=KioskList,
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}},
    summary="List kiosks: state, health and their last heartbeat (clerk)",
)
def list_kiosks(_principal: ClerkDep, context: ContextDep, session: ReadSessionDep) -> KioskList:
    now, rules = context.clock(), HealthRules.from_settings(context.settings)
    kiosks = session.scalars(select(Kiosk).order_by(Kiosk.kiosk_id)).all()
    items = [kiosk_out(judge(k, now=now, rules=rules)) for k in kiosks]
    session.close()
    return KioskList(kiosks=items, count=len(items))


def _change(kiosk_id: str, *, enabled: bool, reason: str | None, principal: OperatorDep, caller: KioskDep,
            context: ContextDep, session: SessionDep) -> KioskChange:
    now = context.clock()
    try:
        row, changed = set_enabled(session, kiosk_id, enabled=enabled, actor=principal.username,
                                   role=principal.role, via_kiosk_id=caller.kiosk_id, reason=reason,
                                   keys=context.keys, now=now)
    except UnknownKiosk as exc:
        session.rollback()
        raise ApiError(404, "kiosk_not_found", str(exc)) from None
    session.commit()
    view = judge(row, now=now, rules=HealthRules.from_settings(context.settings))
    return KioskChange(kiosk=kiosk_out(view), changed=changed)


@router.post(
    "/{kiosk_id}/disable",
    response_model=KioskChange,
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 404: {"model": ErrorBody},
               422: {"model": ErrorBody}},
    summary="Take a kiosk out of service (operator); its next request is refused with kiosk_disabled",
)
def disable_kiosk(kiosk_id: KioskId, body: KioskDisable, principal: OperatorDep, caller: KioskDep,
                  context: ContextDep, session: SessionDep) -> KioskChange:
    """Recorded with the operator, the kiosk they are signed in at and the reason (sealed). An operator may
    disable the very kiosk they are signed in at: it is refused from then on like any other, so enable it
    from another kiosk or with ``kiosk server kiosk-enable`` on the server host. Only the ``operator`` role
    may (a supervisor overrides pickup checks; running the fleet is the operator's job)."""
    return _change(kiosk_id, enabled=False, reason=body.reason, principal=principal, caller=caller,
                   context=context, session=session)


@router.post(
    "/{kiosk_id}/enable",
    response_model=KioskChange,
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 404: {"model": ErrorBody},
               422: {"model": ErrorBody}},
    summary="Put a disabled kiosk back in service (operator)",
)
def enable_kiosk(kiosk_id: KioskId, principal: OperatorDep, caller: KioskDep, context: ContextDep,
                 session: SessionDep, body: KioskEnable | None = None) -> KioskChange:
    return _change(kiosk_id, enabled=True, reason=None if body is None else body.reason, principal=principal,
                   caller=caller, context=context, session=session)
