"""``/v1/pickups``: cards waiting at the counter; clerks look them up and authorise the handover.

The handover itself is recorded by the kiosk (often later, through its outbox) with a single-use grant the
clerk obtained while signed in (``server/grants.py``), not with the clerk's short-lived token. It is refused
unless the card on the counter is the card recorded for this pickup (its authentication certificate
serial), and it happens once: a retry with the same Idempotency-Key replays the first answer, any other
attempt gets 403 (grant used) or 409.

The handover reports each check of the counter (``contract.payloads.HANDOVER_CHECKS``), the PINs the
resident set and the documents collected; they are stored with it (``pickups.handover_details``, no personal
data). A required check that did not pass stops it (409 ``checks_failed``) unless a supervisor's override
(``server/overrides.py``) for this pickup and kiosk names exactly those checks.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract.crl import normalise_serial
from contract.payloads import PIN_NAMES, REQUIRED_HANDOVER_CHECKS
from server import grants, idempotency, matching, overrides, pickup_admin
from server.deps import ClerkDep, ContextDep, IdempotencyKey, KioskDep, OperatorDep, SupervisorDep
from server.errors import ApiError
from server.identifiers import application_lookup_key
from server.models import Application, Clerk, Pickup
from server.schemas import (
    NOTICE_NUMBER_PATTERN,
    PICKUP_ID_PATTERN,
    ApplicationId,
    Basic4Check,
    Basic4CheckResult,
    ErrorBody,
    HandoverGrantOut,
    HandoverRequest,
    HandoverResult,
    OverrideOut,
    OverrideRequest,
    PickupCreate,
    PickupOut,
)

router = APIRouter(prefix="/v1/pickups", tags=["pickups"])

_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "token_required, token_invalid or token_expired."},
    403: {"model": ErrorBody, "description": "Kiosk not accepted, or operator role required."},
    404: {"model": ErrorBody, "description": "pickup_not_found."},
    422: {"model": ErrorBody, "description": "Invalid request."},
}
PickupId = Annotated[str, Path(pattern=PICKUP_ID_PATTERN)]


def _find(session: Session, pickup_id: str, *, for_update: bool = False) -> Pickup:
    query = select(Pickup).where(Pickup.pickup_id == pickup_id)
    pickup = session.scalar(query.with_for_update() if for_update else query)
    if pickup is None:
        raise ApiError(404, "pickup_not_found", "No pickup with this id.")
    return pickup


@router.post(
    "",
    status_code=201,
    response_model=PickupOut,
    responses={**_AUTH_ERRORS, 409: {"model": ErrorBody, "description": "notice_number_exists."}},
    summary="Create a pickup (operator; seeds the counter workflow)",
)
def create_pickup(body: PickupCreate, _principal: OperatorDep, context: ContextDep) -> PickupOut:
    return pickup_admin.create_pickup(context, body)


@router.get(
    "",
    response_model=PickupOut,
    responses=_AUTH_ERRORS,
    summary="Find a pickup by notice number or application id (clerk): the card expected, the photo, the "
    "holder's name and birth date, and whether they are under 15",
)
def find_pickup(
    _principal: ClerkDep,
    context: ContextDep,
    notice_number: Annotated[str | None, Query(pattern=NOTICE_NUMBER_PATTERN)] = None,
    application_id: Annotated[ApplicationId | None, Query()] = None,
) -> PickupOut:
    if (notice_number is None) == (application_id is None):
        raise ApiError(422, "query_invalid", "Give exactly one of notice_number or application_id.")
    query = select(Pickup)
    if notice_number is not None:
        query = query.where(Pickup.notice_number == notice_number)
    elif application_id is not None:
        lookup = application_lookup_key(context.keys, application_id)
        query = query.where(Pickup.application_key == lookup).order_by(Pickup.created_at.desc(), Pickup.id.desc())
    with context.reads() as session:
        pickup = session.scalars(query.limit(1)).first()
        if pickup is None:
            raise ApiError(404, "pickup_not_found", "No pickup matches.")
        result = pickup_admin.clerk_view(session, context, pickup)
        session.close()
    return result


@router.post(
    "/{pickup_id}/handover-grants",
    status_code=201,
    response_model=HandoverGrantOut,
    responses={
        **_AUTH_ERRORS,
        409: {"model": ErrorBody, "description": "already_handed_over or pickup_cancelled."},
    },
    summary="Authorise one handover of this pickup at this kiosk (clerk); the grant outlives the session",
)
def grant_handover(
    pickup_id: PickupId, principal: ClerkDep, kiosk: KioskDep, context: ContextDep
) -> HandoverGrantOut:
    now = context.clock()
    with context.sessions() as session:
        pickup = _find(session, pickup_id)
        _check_open(pickup)
        grant, expires_at = grants.issue(
            session,
            pickup,
            kiosk_id=kiosk.kiosk_id,
            clerk_id=principal.clerk_id,
            now=now,
            lifetime=context.settings.handover_grant_lifetime,
        )
        session.commit()
    return HandoverGrantOut(grant=grant, pickup_id=pickup_id, kiosk_id=kiosk.kiosk_id, expires_at=expires_at)


@router.post(
    "/{pickup_id}/overrides",
    status_code=201,
    response_model=OverrideOut,
    responses={
        **_AUTH_ERRORS,
        403: {"model": ErrorBody, "description": "Kiosk not accepted, or supervisor_required."},
        409: {"model": ErrorBody, "description": "already_handed_over or pickup_cancelled."},
    },
    summary="Override required checks that did not pass, with a reason (supervisor); single use, this kiosk",
)
def override_checks(
    pickup_id: PickupId, body: OverrideRequest, principal: SupervisorDep, kiosk: KioskDep, context: ContextDep
) -> OverrideOut:
    now = context.clock()
    with context.sessions() as session:
        pickup = _find(session, pickup_id)
        _check_open(pickup)
        override_id, expires_at = overrides.issue(
            session,
            pickup,
            kiosk_id=kiosk.kiosk_id,
            supervisor_id=principal.clerk_id,
            failed_checks=body.failed_checks,
            reason=body.reason,
            keys=context.keys,
            now=now,
            lifetime=context.settings.handover_grant_lifetime,
        )
        session.commit()
    return OverrideOut(
        override=override_id,
        pickup_id=pickup_id,
        kiosk_id=kiosk.kiosk_id,
        failed_checks=[name for name in REQUIRED_HANDOVER_CHECKS if name in body.failed_checks],
        supervisor=principal.username,
        expires_at=expires_at,
    )


@router.post(
    "/{pickup_id}/handover",
    response_model=HandoverResult,
    responses={
        403: {
            "model": ErrorBody,
            "description": "Kiosk not accepted, or the grant or override is refused: grant_invalid (unknown, "
            "another pickup or another kiosk), grant_used, grant_expired, override_invalid, override_used, "
            "override_expired. Sending it again will not help.",
        },
        404: {"model": ErrorBody, "description": "pickup_not_found."},
        409: {
            "model": ErrorBody,
            "description": "card_mismatch, checks_failed (+failed_checks: a supervisor must override them), "
            "override_mismatch (the override names other checks), already_handed_over, pickup_cancelled or "
            "idempotency_key_reused.",
        },
        422: {"model": ErrorBody, "description": "Invalid request."},
    },
    summary="Record that the card was handed over (kiosk, with the clerk's handover grant)",
)
def hand_over(
    pickup_id: PickupId,
    body: HandoverRequest,
    idempotency_key: IdempotencyKey,
    kiosk: KioskDep,
    context: ContextDep,
) -> Any:
    scope = f"handover:{pickup_id}"
    body_hash = idempotency.request_hash(body)
    now = context.clock()
    with context.sessions() as session:
        for attempt in range(2):
            try:
                # Lock the pickup first, then look for an earlier answer: a concurrent retry with the same
                # key that got the lock first has committed its record by the time we hold the lock. The
                # replay comes before the grant check: the grant is used up by the very answer replayed.
                pickup = _find(session, pickup_id, for_update=True)
                replay = idempotency.find(
                    session, kiosk_id=kiosk.kiosk_id, scope=scope, key=idempotency_key, body_hash=body_hash
                )
                if replay is not None:
                    return JSONResponse({**replay.body, "duplicate": True}, status_code=200)
                grant = grants.redeem(session, body.grant, pickup, kiosk_id=kiosk.kiosk_id, now=now)
                _check_handover(pickup, body)
                override = overrides.authorise_checks(
                    session, body.checks.model_dump(), body.override, pickup, kiosk_id=kiosk.kiosk_id, now=now
                )
                clerk = session.get(Clerk, grant.clerk_id)
                supervisor = None if override is None else session.get(Clerk, override.supervisor_id)
                grant.used_at = now
                if override is not None:
                    override.used_at = now
                pickup.handover_details = _details_json(body)
                pickup.status = "handed_over"
                pickup.handed_over_at = body.handed_over_at
                pickup.handed_over_by = grant.clerk_id
                pickup.handed_over_kiosk_id = kiosk.kiosk_id
                pickup.updated_at = now
                if pickup.application_row_id is not None:
                    application = session.get(Application, pickup.application_row_id)
                    if application is not None:
                        application.status = "picked_up"
                        application.updated_at = now
                result = HandoverResult(
                    pickup_id=pickup.pickup_id,
                    status="handed_over",
                    handed_over_at=body.handed_over_at,
                    clerk=clerk.username if clerk is not None else "",
                    kiosk_id=kiosk.kiosk_id,
                    overridden_checks=[] if override is None else overrides.failed_checks_of(override),
                    supervisor=None if supervisor is None else supervisor.username,
                    duplicate=False,
                ).model_dump(mode="json")
                idempotency.remember(
                    session,
                    kiosk_id=kiosk.kiosk_id,
                    scope=scope,
                    key=idempotency_key,
                    body_hash=body_hash,
                    status_code=200,
                    body=result,
                    now=now,
                )
                session.commit()
                return JSONResponse(result, status_code=200)
            except IntegrityError:
                session.rollback()  # a concurrent retry with the same key won; replay its answer
                if attempt:
                    raise
    raise AssertionError("unreachable")


def _details_json(body: HandoverRequest) -> str:
    """What the counter reported, as compact JSON: check outcomes, PIN names, documents collected — nothing
    personal, so it is stored in clear for the city's records (the override is its own sealed row)."""
    details = {
        "checks": body.checks.model_dump(),
        "pins_set": [name for name in PIN_NAMES if name in body.pins_set],
        "collected": body.collected.model_dump(),
    }
    return json.dumps(details, sort_keys=True, separators=(",", ":"))


def _check_open(pickup: Pickup) -> None:
    if pickup.status == "cancelled":
        raise ApiError(409, "pickup_cancelled", "This pickup was cancelled.")
    if pickup.status == "handed_over":
        handed = pickup.handed_over_at.isoformat().replace("+00:00", "Z") if pickup.handed_over_at else None
        raise ApiError(
            409, "already_handed_over", "This card was already handed over.", extra={"handed_over_at": handed}
        )


def _check_handover(pickup: Pickup, body: HandoverRequest) -> None:
    _check_open(pickup)
    if normalise_serial(body.card_auth_cert_serial) != pickup.card_auth_cert_serial:
        raise ApiError(
            409,
            "card_mismatch",
            "The card on the counter is not the card issued for this pickup (authentication certificate "
            "serial differs). Do not hand it over.",
        )


@router.post(
    "/{pickup_id}/basic4-check",
    response_model=Basic4CheckResult,
    responses=_AUTH_ERRORS,
    summary="Compare the card's basic 4 information with the pickup's (clerk); nothing is stored",
)
def basic4_check(
    pickup_id: PickupId, body: Basic4Check, _principal: ClerkDep, context: ContextDep
) -> Basic4CheckResult:
    with context.sessions() as session:
        pickup = _find(session, pickup_id)
        expected = pickup.basic4_match_key
        session.close()
    try:
        same = matching.matches(context.keys.matching, pickup_admin.basic4(body.basic4), expected)
    except ValueError as exc:
        raise ApiError(422, "basic4_invalid", str(exc)) from exc
    return Basic4CheckResult(match=same, normalisation=matching.NORMALISATION_VERSION)


@router.post(
    "/{pickup_id}/cancel",
    response_model=PickupOut,
    responses={**_AUTH_ERRORS, 409: {"model": ErrorBody, "description": "already_handed_over."}},
    summary="Cancel a pickup (operator)",
)
def cancel_pickup(pickup_id: PickupId, _principal: OperatorDep, context: ContextDep) -> PickupOut:
    now = context.clock()
    with context.sessions() as session:
        pickup = _find(session, pickup_id, for_update=True)
        if pickup.status == "handed_over":
            raise ApiError(409, "already_handed_over", "A handed-over card cannot be cancelled.")
        pickup.status = "cancelled"
        pickup.updated_at = now
        _after_cancel(session, pickup, now)
        session.commit()
        holder = pickup_admin.holder_of(context, pickup)
        return pickup_admin.pickup_out(pickup, photo=None, under_15=pickup_admin.holder_under_15(holder, now))


def _after_cancel(session: Session, pickup: Pickup, now: datetime) -> None:
    """No card waits any more: an application that was ready for pickup is back in production (a card to be
    made again), unless another pickup for it is still open. Refusing it is the operator's call."""
    if pickup.application_row_id is None:
        return
    application = session.get(Application, pickup.application_row_id)
    if application is None or application.status != "ready_for_pickup":
        return
    others = session.scalar(
        select(Pickup.id).where(
            Pickup.application_key == pickup.application_key, Pickup.status == "ready", Pickup.id != pickup.id
        )
    )
    if others is None:
        application.status = "in_production"
        application.updated_at = now
