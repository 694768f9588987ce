"""``/v1/applications``: card applications sent by kiosks (mTLS), idempotent by ``Idempotency-Key``."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract.photo import PhotoRejected, validate_photo
from server import idempotency
from server.deps import ContextDep, IdempotencyKey, KioskDep, SessionDep
from server.errors import ApiError
from server.identifiers import application_lookup_key, decode_photo, mask_application_id, new_receipt_id
from server.models import Application
from server.schemas import ApplicationCreate, ApplicationId, ApplicationReceipt, ApplicationState, ErrorBody

router = APIRouter(prefix="/v1/applications", tags=["applications"])

SCOPE = "applications"
_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "Unknown or untrusted kiosk certificate."},
    409: {"model": ErrorBody, "description": "already_submitted (with `receipt`) or idempotency_key_reused."},
    413: {"model": ErrorBody, "description": "Body too large."},
    422: {"model": ErrorBody, "description": "Invalid body, header or photo (photo_* codes)."},
}


def _state(application: Application) -> ApplicationState:
    return ApplicationState(
        receipt_id=application.receipt_id,
        application_id_masked=mask_application_id(application.application_id_last4),
        status=application.status,  # type: ignore[arg-type]
        received_at=application.received_at,
        updated_at=application.updated_at,
    )


def _already_submitted(application: Application) -> ApiError:
    return ApiError(
        409,
        "already_submitted",
        "An application with this application id was already received.",
        extra={"receipt": _state(application).model_dump(mode="json")},
    )


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
        validate_photo(photo)
    except PhotoRejected as exc:
        raise ApiError(422, exc.code, exc.message) from exc
    keys = context.keys
    lookup = application_lookup_key(keys, body.application_id)
    contact = None if body.contact is None else body.contact.model_dump(exclude_none=True)
    now = context.clock()
    application = Application(
        receipt_id=new_receipt_id(),
        application_key=lookup,
        application_id_last4=body.application_id[-4:],
        application_id_sealed=keys.seal(body.application_id.encode("ascii"), purpose="application-id"),
        photo_sealed=keys.seal(photo, purpose="application-photo"),
        contact_sealed=None if not contact else keys.seal(json.dumps(contact).encode(), purpose="contact"),
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
                raise _already_submitted(existing)
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
            raise _already_submitted(existing) from None
    return JSONResponse(receipt, status_code=201)


@router.get(
    "/{application_id}",
    response_model=ApplicationState,
    responses={404: {"model": ErrorBody}, 403: {"model": ErrorBody}, 422: {"model": ErrorBody}},
    summary="Status of an application",
)
def application_status(
    application_id: Annotated[ApplicationId, Path()], _kiosk: KioskDep, context: ContextDep, session: SessionDep
) -> ApplicationState:
    lookup = application_lookup_key(context.keys, application_id)
    application = session.scalar(select(Application).where(Application.application_key == lookup))
    session.close()
    if application is None:
        raise ApiError(404, "application_not_found", "No application with this id was received.")
    return _state(application)
