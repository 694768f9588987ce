"""``/v1/staff-calls``: "call staff" at a kiosk reaches the clerks' screens.

Kiosks (mTLS) report a call and may take it back; clerks (bearer token) list the open ones and acknowledge
one ("on my way"). A call is only *which kiosk* and *when*: no resident data is accepted (unknown fields
are a 422) or stored. The kiosk makes the call id (a UUID), so a retry after a lost answer is the same call,
not a second one.

Clerks see the calls of their own office: a clerk whose ``office`` is set sees the calls of kiosks of that
office, and of kiosks with no office (UNCONFIRMED how a city assigns kiosks; an unassigned kiosk's call is
shown to everyone rather than to no one, so a resident is never left waiting); a clerk without an office
sees every call (a one-office city sets none). A call outside a clerk's view is, for that clerk, not found.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server import security
from server.deps import ClerkDep, ContextDep, KioskDep
from server.errors import ApiError
from server.models import Clerk, Kiosk, StaffCall
from server.schemas import (
    STAFF_CALL_ID_PATTERN,
    ErrorBody,
    StaffCallCreate,
    StaffCallList,
    StaffCallOut,
    StaffCallReceipt,
)

router = APIRouter(prefix="/v1/staff-calls", tags=["staff calls"])

CallId = Annotated[str, Path(pattern=STAFF_CALL_ID_PATTERN, description="The UUID the kiosk made.")]
_KIOSK_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "Unknown or untrusted kiosk certificate."},
    422: {"model": ErrorBody, "description": "Invalid request (unknown fields are refused)."},
}
_CLERK_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "token_required, token_invalid or token_expired."},
    **_KIOSK_ERRORS,
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "model": ErrorBody,
        "description": "staff_call_not_found (for a kiosk: also another kiosk's call; for a clerk: also a call "
        "from another office's kiosk).",
    }
}


def _out(call: StaffCall, *, now: datetime, clerk: str | None) -> dict[str, Any]:
    return StaffCallOut(
        call_id=call.call_id,
        kiosk_id=call.kiosk_id,
        status=call.status,  # type: ignore[arg-type]
        called_at=call.called_at,
        received_at=call.received_at,
        age_seconds=round(max(0.0, (now - call.received_at).total_seconds()), 3),
        cancelled_at=call.cancelled_at,
        acknowledged_at=call.acknowledged_at,
        acknowledged_by_clerk_id=call.acknowledged_by,
        acknowledged_by=clerk,
    ).model_dump(mode="json")


def _clerk_name(session: Session, clerk_id: int | None) -> str | None:
    if clerk_id is None:
        return None
    clerk = session.get(Clerk, clerk_id)
    return clerk.username if clerk is not None else None


def _visible_to(session: Session, query: Select[Any], principal: security.Principal) -> Select[Any]:
    """``query`` narrowed to the calls ``principal`` sees: their office's kiosks and unassigned ones."""
    office = session.scalar(select(Clerk.office).where(Clerk.id == principal.clerk_id))
    if office is None:
        return query
    kiosks = select(Kiosk.kiosk_id).where(or_(Kiosk.office == office, Kiosk.office.is_(None)))
    return query.where(StaffCall.kiosk_id.in_(kiosks))


def _find(session: Session, call_id: str, *, for_update: bool = False) -> StaffCall | None:
    query = select(StaffCall).where(StaffCall.call_id == call_id)
    return session.scalar(query.with_for_update() if for_update else query)


@router.post(
    "",
    status_code=201,
    response_model=StaffCallReceipt,
    responses={
        200: {"model": StaffCallReceipt, "description": "A retry with the same call_id: the call as it is now."},
        409: {"model": ErrorBody, "description": "staff_call_id_taken: another kiosk used this call_id."},
        **_KIOSK_ERRORS,
    },
    summary="Report that a resident asked for staff (kiosk)",
)
def report_call(body: StaffCallCreate, kiosk: KioskDep, context: ContextDep) -> Any:
    now = context.clock()
    with context.sessions() as session:
        for attempt in range(2):
            existing = _find(session, body.call_id)
            if existing is not None:
                if existing.kiosk_id != kiosk.kiosk_id:
                    raise ApiError(409, "staff_call_id_taken", "Another kiosk already used this call id.")
                answer = _out(existing, now=now, clerk=_clerk_name(session, existing.acknowledged_by))
                session.close()
                return JSONResponse({**answer, "duplicate": True}, status_code=200)
            call = StaffCall(
                call_id=body.call_id,
                kiosk_id=kiosk.kiosk_id,
                status="open",
                called_at=body.called_at,
                received_at=now,
            )
            session.add(call)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()  # a concurrent retry of the same call won: answer as a retry
                if attempt:
                    raise
                continue
            return JSONResponse({**_out(call, now=now, clerk=None), "duplicate": False}, status_code=201)
    raise AssertionError("unreachable")


@router.delete(
    "/{call_id}",
    response_model=StaffCallOut,
    responses={**_NOT_FOUND, **_KIOSK_ERRORS},
    summary="Take a call back: the resident no longer needs staff (the kiosk that made it)",
)
def cancel_call(call_id: CallId, kiosk: KioskDep, context: ContextDep) -> Any:
    now = context.clock()
    with context.sessions() as session:
        call = _find(session, call_id, for_update=True)
        if call is None or call.kiosk_id != kiosk.kiosk_id:
            raise ApiError(404, "staff_call_not_found", "This kiosk made no call with this id.")
        if call.status != "cancelled":  # cancelling twice is the same as once
            call.status = "cancelled"
            call.cancelled_at = now
        answer = _out(call, now=now, clerk=_clerk_name(session, call.acknowledged_by))
        session.commit()
    return answer


@router.get(
    "",
    response_model=StaffCallList,
    responses=_CLERK_ERRORS,
    summary="Open staff calls of the clerk's office, newest first (clerk)",
)
def list_calls(
    principal: ClerkDep,
    context: ContextDep,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many calls.")] = 100,
) -> Any:
    now = context.clock()
    query = (
        select(StaffCall)
        .where(StaffCall.status == "open")
        .order_by(StaffCall.received_at.desc(), StaffCall.id.desc())
        .limit(limit)
    )
    with context.reads() as session:
        calls = [_out(call, now=now, clerk=None) for call in session.scalars(_visible_to(session, query, principal))]
        session.close()
    return {"calls": calls, "count": len(calls)}


@router.post(
    "/{call_id}/ack",
    response_model=StaffCallOut,
    responses={
        **_NOT_FOUND,
        409: {"model": ErrorBody, "description": "staff_call_cancelled: the resident took the call back."},
        **_CLERK_ERRORS,
    },
    summary="Acknowledge a call: a clerk is on the way (clerk)",
)
def acknowledge_call(call_id: CallId, principal: ClerkDep, context: ContextDep) -> Any:
    now = context.clock()
    with context.sessions() as session:
        visible = _visible_to(session, select(StaffCall.id).where(StaffCall.call_id == call_id), principal)
        call = _find(session, call_id, for_update=True) if session.scalar(visible) is not None else None
        if call is None:
            raise ApiError(404, "staff_call_not_found", "No staff call with this id (for this clerk's office).")
        if call.status == "cancelled":
            raise ApiError(409, "staff_call_cancelled", "The resident took this call back.")
        if call.status == "open":  # a second acknowledgement keeps the first clerk
            call.status = "acknowledged"
            call.acknowledged_at = now
            call.acknowledged_by = principal.clerk_id
        answer = _out(call, now=now, clerk=_clerk_name(session, call.acknowledged_by))
        session.commit()
    return answer
