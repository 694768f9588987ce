"""``/v1/applications``: card applications sent by kiosks (mTLS), idempotent by ``Idempotency-Key``, and
the status lookups residents make at a kiosk (rate-limited per kiosk: ``server/ratelimit.py``).

A second application for the same 申請書ID under another key — the resident applying twice, or two kiosks —
is answered 409 ``already_submitted`` with the first application's receipt (receipt id, masked id, status,
times; nothing personal), so the kiosk can tell the resident the truth and mark its item delivered.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract.payloads import effective_options
from contract.photo import PhotoRejected, validate_photo
from server import idempotency
from server.deps import ContextDep, IdempotencyKey, KioskDep, ServerContext
from server.errors import ApiError
from server.identifiers import application_lookup_key, decode_photo, mask_application_id, new_receipt_id
from server.lifecycle import Lifecycle, PickupFact, derive
from server.models import Application, Pickup
from server.ratelimit import retry_after_header
from server.schemas import (
    ApplicationCreate,
    ApplicationId,
    ApplicationReceipt,
    ApplicationState,
    ApplicationStatusOut,
    ErrorBody,
)

router = APIRouter(prefix="/v1/applications", tags=["applications"])

SCOPE = "applications"
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "Unknown or untrusted kiosk certificate."},
    409: {"model": ErrorBody, "description": "already_submitted (with `receipt`) or idempotency_key_reused."},
    413: {"model": ErrorBody, "description": "Body too large."},
    422: {"model": ErrorBody, "description": "Invalid body, header or photo (photo_* codes)."},
}


_LOOKUP_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "Unknown or untrusted kiosk certificate."},
    404: {"model": ErrorBody, "description": "application_not_found: nothing is known under this 申請書ID."},
    422: {"model": ErrorBody, "description": "The path is not a 申請書ID (exactly 23 ASCII digits)."},
    429: {
        "model": ErrorBody,
        "description": "too_many_lookups: this kiosk looked up too many unknown ids; `retry_after_seconds` "
        "and the Retry-After header say when the next lookup is allowed.",
        "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    },
}


def _pickup_facts(session: Session, lookup: str) -> list[PickupFact]:
    rows = session.execute(select(Pickup.status, Pickup.updated_at).where(Pickup.application_key == lookup))
    return [PickupFact(status, updated_at) for status, updated_at in rows]


def _lifecycle(session: Session, application: Application) -> Lifecycle:
    found = derive(application.status, application.updated_at, _pickup_facts(session, application.application_key))
    if found is None:  # cannot happen: an application row always gives a state
        raise ApiError(500, "internal_error", "The application's state could not be derived.")
    return found


def _state(session: Session, application: Application) -> ApplicationState:
    lifecycle = _lifecycle(session, application)
    return ApplicationState(
        receipt_id=application.receipt_id,
        application_id_masked=mask_application_id(application.application_id_last4),
        status=lifecycle.status,
        received_at=application.received_at,
        updated_at=lifecycle.updated_at,
    )


def _already_submitted(session: Session, application: Application) -> ApiError:
    return ApiError(
        409,
        "already_submitted",
        "An application with this application id was already received; the receipt is the first one's.",
        extra={"receipt": _state(session, application).model_dump(mode="json")},
    )


def _spend_lookup(context: ServerContext, kiosk_id: str) -> None:
    """Take a token from the kiosk's budget of unknown-id lookups, or refuse with 429 (ratelimit.py)."""
    wait = context.lookups.take(kiosk_id, context.clock())
    if wait is not None:
        after = retry_after_header(wait)
        raise ApiError(
            429,
            "too_many_lookups",
            "This kiosk looked up too many unknown application ids; the next lookup is possible in "
            f"{after} s.",
            extra={"retry_after_seconds": int(after)},
            headers={"Retry-After": after},
        )


def _not_found() -> ApiError:
    return ApiError(404, "application_not_found", "No application is known under this application id.")


def _replay(session: Session, *, kiosk_id: str, key: str, body_hash: str) -> JSONResponse | None:
    replay = idempotency.find(session, kiosk_id=kiosk_id, scope=SCOPE, key=key, body_hash=body_hash)
    if replay is None:
        return None
    return JSONResponse({**replay.body, "duplicate": True}, status_code=200)


@router.post(
    "",
    status_code=201,
    response_model=ApplicationReceipt,
    responses={200: {"model": ApplicationReceipt, "description": "A retry: the original answer."}, **_ERRORS},
    summary="Submit a card application",
)
def submit_application(
    body: ApplicationCreate, idempotency_key: IdempotencyKey, kiosk: KioskDep, context: ContextDep
) -> Any:
    """201 with a receipt; 200 with the original receipt (``duplicate: true``) for a retry with the same key."""
    body_hash = idempotency.request_hash(body)
    with context.sessions() as session:
        replay = _replay(session, kiosk_id=kiosk.kiosk_id, key=idempotency_key, body_hash=body_hash)
        session.close()
    if replay is not None:
        return replay

    photo = decode_photo(body.photo_jpeg_base64)
    try:
        validate_photo(photo, content=context.settings.photo_face_checks)
    except PhotoRejected as exc:
        raise ApiError(422, exc.code, exc.message) from exc
    keys = context.keys
    lookup = application_lookup_key(keys, body.application_id)
    contact = None if body.contact is None else body.contact.model_dump(exclude_none=True)
    # Absent options (a kiosk from before they existed) mean the defaults; what is stored is what the city acts on.
    options = effective_options(None if body.options is None else body.options.model_dump())  # type: ignore[arg-type]
    now = context.clock()
    application = Application(
        receipt_id=new_receipt_id(),
        application_key=lookup,
        application_id_last4=body.application_id[-4:],
        application_id_sealed=keys.seal(body.application_id.encode("ascii"), purpose="application-id"),
        photo_sealed=keys.seal(photo, purpose="application-photo"),
        contact_sealed=None if not contact else keys.seal(json.dumps(contact).encode(), purpose="contact"),
        options_sealed=keys.seal(json.dumps(options, ensure_ascii=False).encode("utf-8"), purpose="options"),
        status="received",
        kiosk_id=kiosk.kiosk_id,
        submitted_at=body.submitted_at,
        received_at=now,
        updated_at=now,
    )
    receipt = ApplicationReceipt(
        receipt_id=application.receipt_id,
        application_id_masked=mask_application_id(application.application_id_last4),
        status="received",
        received_at=now,
        duplicate=False,
    ).model_dump(mode="json")

    with context.sessions() as session:
        try:
            existing = session.scalar(select(Application).where(Application.application_key == lookup))
            if existing is not None:
                replay = _replay(session, kiosk_id=kiosk.kiosk_id, key=idempotency_key, body_hash=body_hash)
                if replay is not None:
                    return replay
                raise _already_submitted(session, existing)
            session.add(application)
            idempotency.remember(
                session,
                kiosk_id=kiosk.kiosk_id,
                scope=SCOPE,
                key=idempotency_key,
                body_hash=body_hash,
                status_code=201,
                body=receipt,
                now=now,
            )
            session.commit()
        except IntegrityError:
            session.rollback()  # lost a race: a concurrent retry or another key for the same application
            replay = _replay(session, kiosk_id=kiosk.kiosk_id, key=idempotency_key, body_hash=body_hash)
            if replay is not None:
                return replay
            existing = session.scalar(select(Application).where(Application.application_key == lookup))
            if existing is None:
                raise
            raise _already_submitted(session, existing) from None
    return JSONResponse(receipt, status_code=201)


@router.get(
    "/{application_id}/status",
    response_model=ApplicationStatusOut,
    responses=_LOOKUP_ERRORS,
    summary="Where an application is, for the resident at a kiosk (no personal data; rate-limited)",
)
def resident_status(
    application_id: Annotated[ApplicationId, Path()], kiosk: KioskDep, context: ContextDep
) -> ApplicationStatusOut:
    """received / in_production / ready_for_pickup / picked_up / refused, with when and what to do next.

    Also answers for applications that reached the city another way (post, smartphone) once their card is at
    the counter: the pickup records count. Unknown ids spend this kiosk's lookup budget (429 when empty).
    """
    _spend_lookup(context, kiosk.kiosk_id)
    lookup = application_lookup_key(context.keys, application_id)
    with context.sessions() as session:
        application = session.scalar(select(Application).where(Application.application_key == lookup))
        stored = (application.status, application.updated_at) if application is not None else (None, None)
        lifecycle = derive(*stored, _pickup_facts(session, lookup))
        session.close()
    if lifecycle is None:
        raise _not_found()
    context.lookups.give_back(kiosk.kiosk_id)
    return ApplicationStatusOut(
        application_id_masked=mask_application_id(application_id[-4:]),
        status=lifecycle.status,
        updated_at=lifecycle.updated_at,
        next_step=lifecycle.next_step,
    )


@router.get(
    "/{application_id}",
    response_model=ApplicationState,
    responses=_LOOKUP_ERRORS,
    summary="State of an application this city's kiosks received, with its receipt (rate-limited)",
)
def application_state(
    application_id: Annotated[ApplicationId, Path()], kiosk: KioskDep, context: ContextDep
) -> ApplicationState:
    _spend_lookup(context, kiosk.kiosk_id)
    lookup = application_lookup_key(context.keys, application_id)
    with context.sessions() as session:
        application = session.scalar(select(Application).where(Application.application_key == lookup))
        state = None if application is None else _state(session, application)
        session.close()
    if state is None:
        raise _not_found()
    context.lookups.give_back(kiosk.kiosk_id)
    return state
