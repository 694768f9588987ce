"""Pickups as data: creating one (operator API and CLI) and rendering one for the clerk.

Shared by ``routes/pickups.py`` and ``cli.py add-pickup`` so both seed pickups the same way: photo checked by
the same rules, basic 4 information reduced to its keyed hash at once, the application id stored only as a
lookup key plus its last four digits. The holder's name and birth date — what the clerk compares with the
person at the counter — are kept sealed (``holder_sealed``) and shown only in the clerk's lookup, with
``under_15`` worked out from the birth date on the day of the lookup in Japan (``contract.age``).
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract.age import is_under_15, japan_day
from contract.basic4 import normalise_birth_date
from contract.crl import normalise_key_id, normalise_serial
from contract.photo import PhotoRejected, validate_photo
from server import lifecycle, matching
from server.application_intake import application_photo
from server.deps import ServerContext
from server.errors import ApiError
from server.identifiers import (
    application_lookup_key,
    decode_photo,
    encode_photo,
    mask_application_id,
    new_pickup_id,
)
from server.models import Application, Pickup
from server.photo_store import PhotoUnavailable
from server.schemas import Basic4In, CardRef, HolderOut, PickupCreate, PickupOut

HOLDER_PURPOSE = "pickup-holder"
log = logging.getLogger("server.pickups")


def basic4(model: Basic4In) -> matching.Basic4:
    return matching.Basic4(name=model.name, address=model.address, birth_date=model.birth_date, sex=model.sex)


def photo_of(session: Session, context: ServerContext, pickup: Pickup) -> str | None:
    """The photo for the clerk's face check: the pickup's own, else the application's."""
    if pickup.photo_sealed is not None:
        return encode_photo(context.keys.unseal(pickup.photo_sealed, purpose="pickup-photo"))
    if pickup.application_row_id is not None:
        application = session.get(Application, pickup.application_row_id)
        if application is not None:
            try:
                return encode_photo(application_photo(context, application))
            except PhotoUnavailable as exc:  # missing or not the recorded one: never show another person's
                log.error("photo of application row %d not shown: %s", application.id, exc)
    return None


def _iso_birth_date(value: str) -> str:
    digits = normalise_birth_date(value)  # ValueError for a date that is not one
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"


def seal_holder(context: ServerContext, model: Basic4In) -> bytes:
    """The name as given and the birth date as ``YYYY-MM-DD``, sealed; ValueError for an impossible date."""
    holder = {"name": model.name, "birth_date": _iso_birth_date(model.birth_date)}
    return context.keys.seal(json.dumps(holder, ensure_ascii=False).encode("utf-8"), purpose=HOLDER_PURPOSE)


def holder_of(context: ServerContext, pickup: Pickup) -> HolderOut | None:
    """The pickup's holder, unsealed; None for a pickup created before the server kept it."""
    if pickup.holder_sealed is None:
        return None
    return HolderOut.model_validate_json(context.keys.unseal(pickup.holder_sealed, purpose=HOLDER_PURPOSE))


def holder_under_15(holder: HolderOut | None, now: datetime) -> bool | None:
    """Whether the holder is under 15 today in Japan; None when unknown (no birth date, or one in the future)."""
    if holder is None:
        return None
    today: date = japan_day(now)
    return None if holder.birth_date > today else is_under_15(holder.birth_date, today)


def clerk_view(session: Session, context: ServerContext, pickup: Pickup) -> PickupOut:
    """Everything the clerk's check needs: the photo, the holder's name and birth date, and ``under_15``."""
    holder = holder_of(context, pickup)
    return pickup_out(
        pickup,
        photo=photo_of(session, context, pickup),
        holder=holder,
        under_15=holder_under_15(holder, context.clock()),
    )


def pickup_out(
    pickup: Pickup, *, photo: str | None, holder: HolderOut | None = None, under_15: bool | None = None
) -> PickupOut:
    """The API form; ``holder`` only where a clerk checks the person (the lookup), never in other answers."""
    return PickupOut(
        pickup_id=pickup.pickup_id,
        application_id_masked=mask_application_id(pickup.application_id_last4),
        notice_number=pickup.notice_number,
        status=pickup.status,  # type: ignore[arg-type]
        card=CardRef(auth_cert_serial=pickup.card_auth_cert_serial, issuer_key_id=pickup.card_issuer_key_id),
        basic4_match_key=pickup.basic4_match_key,
        photo_jpeg_base64=photo,
        holder=holder,
        under_15=under_15,
        created_at=pickup.created_at,
        handed_over_at=pickup.handed_over_at,
    )


def create_pickup(context: ServerContext, body: PickupCreate) -> PickupOut:
    """Store a new pickup; 422 for a bad photo or basic 4 data, 409 when the notice number exists."""
    photo = None
    if body.photo_jpeg_base64 is not None:
        photo = decode_photo(body.photo_jpeg_base64)
        try:
            validate_photo(photo)
        except PhotoRejected as exc:
            raise ApiError(422, exc.code, exc.message) from exc
    try:
        match_key = matching.match_key(context.keys.matching, basic4(body.basic4))
        holder_sealed = seal_holder(context, body.basic4)
    except ValueError as exc:
        raise ApiError(422, "basic4_invalid", str(exc)) from exc
    keys = context.keys
    lookup = application_lookup_key(keys, body.application_id)
    now = context.clock()
    with context.sessions() as session:
        application = session.scalar(select(Application).where(Application.application_key == lookup))
        pickup = Pickup(
            pickup_id=new_pickup_id(),
            application_key=lookup,
            application_id_last4=body.application_id[-4:],
            notice_number=body.notice_number,
            status="ready",
            card_auth_cert_serial=normalise_serial(body.card.auth_cert_serial),
            card_issuer_key_id=normalise_key_id(body.card.issuer_key_id),
            basic4_match_key=match_key,
            photo_sealed=None if photo is None else keys.seal(photo, purpose="pickup-photo"),
            holder_sealed=holder_sealed,
            application_row_id=None if application is None else application.id,
            created_at=now,
            updated_at=now,
        )
        session.add(pickup)
        if application is not None and application.status in lifecycle.BEFORE_PICKUP:
            application.status = "ready_for_pickup"
            application.updated_at = now
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            raise ApiError(409, "notice_number_exists", "A pickup with this notice number exists.") from None
        holder = holder_of(context, pickup)
        return pickup_out(pickup, photo=photo_of(session, context, pickup), under_15=holder_under_15(holder, now))
