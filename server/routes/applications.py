"""``/v1/applications``: card applications sent by kiosks (mTLS), idempotent by ``Idempotency-Key``, and
the status lookups residents make at a kiosk (rate-limited per kiosk: ``server/ratelimit.py``).

A second application for the same 申請書ID under another key — the resident applying twice, or two kiosks —
is answered 409 ``already_submitted`` with the first application's receipt (receipt id, masked id, status,
times; nothing personal), so the kiosk can tell the resident the truth and mark its item delivered.

What a submission costs the database (issue 11): one read-only transaction (is it a retry? already
submitted?) that waits for no writer, then — only for a new application — one write transaction holding a
small row and its idempotency record; the photo is in the photo store by then (``application_intake``).
Races between that read and the write are settled by the unique constraints: the loser's write fails and
it answers from a second read. The photo's pixel and face checks run after the answer
(``server/photo_checks.py``) unless ``[photos] checks = "request"``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract.photo import PhotoRejected
from server import application_intake, idempotency
from server.deps import BodySha256, ContextDep, IdempotencyKey, KioskDep, ServerContext
from server.errors import ApiError
from server.identifiers import application_lookup_key, decode_photo, mask_application_id
from server.lifecycle import Lifecycle, PickupFact, derive, resident_next_step
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
        photo_check=application.photo_check,  # type: ignore[arg-type]
        photo_rule=application.photo_rule,
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


def _earlier_answer(
    context: ServerContext, *, kiosk_id: str, key: str, body_hash: str, lookup: str, body: ApplicationCreate
) -> JSONResponse | None:
    """In one read-only session: the replay of a retry (200), or 409 ``already_submitted`` /
    ``idempotency_key_reused``; None for a new application.

    The application is looked for *before* the key's record: both are committed in one transaction, and on
    PostgreSQL each statement sees what was committed when it began, so a record found after the
    application is never missed, while in the other order a retry racing the first request could find
    the application but not yet its record and be told ``already_submitted``."""
    with context.reads() as session:
        existing = session.scalar(select(Application.id).where(Application.application_key == lookup))
        replay = idempotency.find(
            session,
            kiosk_id=kiosk_id,
            scope=SCOPE,
            key=key,
            body_hash=body_hash,
            same_request=application_intake.same_application(context, body, lookup),
        )
        if replay is not None:
            return JSONResponse({**replay.body, "duplicate": True}, status_code=200)
        if existing is not None:
            raise _already_submitted(session, session.get_one(Application, existing))
        session.close()
    return None


@router.post(
    "",
    status_code=201,
    response_model=ApplicationReceipt,
    responses={200: {"model": ApplicationReceipt, "description": "A retry: the original answer."}, **_ERRORS},
    summary="Submit a card application",
)
def submit_application(
    body: ApplicationCreate,
    idempotency_key: IdempotencyKey,
    body_hash: BodySha256,
    kiosk: KioskDep,
    context: ContextDep,
) -> Any:
    """201 with a receipt (``photo_check: "pending"`` while the photo's checks wait for the background job);
    200 with the original receipt (``duplicate: true``) for a retry with the same key."""
    lookup = application_lookup_key(context.keys, body.application_id)

    def earlier() -> JSONResponse | None:
        return _earlier_answer(
            context, kiosk_id=kiosk.kiosk_id, key=idempotency_key, body_hash=body_hash, lookup=lookup, body=body
        )

    answer = earlier()
    if answer is not None:
        return answer

    photo = decode_photo(body.photo_jpeg_base64)
    try:
        photo_check = application_intake.check_photo_rules(context, photo)
    except PhotoRejected as exc:
        raise ApiError(422, exc.code, exc.message) from exc
    now = context.clock()
    prepared = application_intake.prepare(
        context, body, kiosk_id=kiosk.kiosk_id, lookup=lookup, photo=photo, photo_check=photo_check, now=now
    )
    receipt = prepared.receipt()
    try:
        with context.sessions() as session:
            session.add(prepared.application)
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
        # lost a race: a concurrent retry or another key for the same application committed first
        context.photos.discard(prepared.stored)
        answer = earlier()
        if answer is None:
            raise
        return answer
    except BaseException:
        context.photos.discard(prepared.stored)
        raise
    if photo_check != "passed":
        context.photo_checks.wake()
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
    """received / in_production / ready_for_pickup / picked_up / refused, with when and what to do next, and
    where the photo's checks are (``photo_check``; a photo that needs a retake: ``next_step`` contact_counter).

    Also answers for applications that reached the city another way (post, smartphone) once their card is at
    the counter: the pickup records count. Unknown ids spend this kiosk's lookup budget (429 when empty).
    """
    _spend_lookup(context, kiosk.kiosk_id)
    lookup = application_lookup_key(context.keys, application_id)
    with context.reads() as session:
        application = session.scalar(select(Application).where(Application.application_key == lookup))
        stored = (application.status, application.updated_at) if application is not None else (None, None)
        lifecycle = derive(*stored, _pickup_facts(session, lookup))
        session.close()
    if lifecycle is None:
        raise _not_found()
    context.lookups.give_back(kiosk.kiosk_id)
    photo_check = None if application is None else application.photo_check
    return ApplicationStatusOut(
        application_id_masked=mask_application_id(application_id[-4:]),
        status=lifecycle.status,
        updated_at=lifecycle.updated_at,
        next_step=resident_next_step(lifecycle, photo_check),
        photo_check=photo_check,  # type: ignore[arg-type]
        photo_rule=None if application is None else application.photo_rule,
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
    with context.reads() as session:
        application = session.scalar(select(Application).where(Application.application_key == lookup))
        state = None if application is None else _state(session, application)
        session.close()
    if state is None:
        raise _not_found()
    context.lookups.give_back(kiosk.kiosk_id)
    return state
