"""``/v1/kiosks``: kiosks report health (heartbeat, mTLS) and staff see the fleet (clerk token)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from sqlalchemy import select, update

from server.deps import ClerkDep, ContextDep, KioskDep, ReadSessionDep, SessionDep
from server.models import Kiosk
from server.schemas import ErrorBody, Heartbeat, HeartbeatAck, KioskList, KioskOut

router = APIRouter(prefix="/v1/kiosks", tags=["kiosks"])


@router.post(
    "/heartbeat",
    response_model=HeartbeatAck,
    responses={403: {"model": ErrorBody}, 422: {"model": ErrorBody}},
    summary="Report kiosk health",
)
def heartbeat(body: Heartbeat, kiosk: KioskDep, context: ContextDep, session: SessionDep) -> HeartbeatAck:
    now = context.clock()
    session.execute(
        update(Kiosk)
        .where(Kiosk.kiosk_id == kiosk.kiosk_id)
        .values(
            last_heartbeat_at=now,
            version=body.version,
            reader_state=body.reader_state,
            outbox_depth=body.outbox_depth,
            outbox_oldest_age_seconds=body.outbox_oldest_age_seconds,
        )
    )
    session.commit()
    return HeartbeatAck(kiosk_id=kiosk.kiosk_id, received_at=now)


def _state(kiosk: Kiosk, *, now: datetime, context: ContextDep) -> str:
    if not kiosk.enabled:
        return "disabled"
    if kiosk.last_heartbeat_at is None:
        return "never_seen"
    fresh = now - kiosk.last_heartbeat_at <= context.settings.heartbeat_stale_after
    return "online" if fresh else "stale"


@router.get(
    "",
    response_model=KioskList,
    responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}},
    summary="List kiosks with their last heartbeat (clerk)",
)
def list_kiosks(_principal: ClerkDep, context: ContextDep, session: ReadSessionDep) -> KioskList:
    now = context.clock()
    kiosks = session.scalars(select(Kiosk).order_by(Kiosk.kiosk_id)).all()
    session.close()
    items = [
        KioskOut(
            kiosk_id=k.kiosk_id,
            enabled=k.enabled,
            state=_state(k, now=now, context=context),  # type: ignore[arg-type]
            registered_at=k.registered_at,
            last_heartbeat_at=k.last_heartbeat_at,
            version=k.version,
            reader_state=k.reader_state,
            outbox_depth=k.outbox_depth,
            outbox_oldest_age_seconds=k.outbox_oldest_age_seconds,
        )
        for k in kiosks
    ]
    return KioskList(kiosks=items, count=len(items))
