"""Pickups as data: creating one (operator API and CLI) and rendering one for the clerk.

Shared by ``routes/pickups.py`` and ``cli.py add-pickup`` so both seed pickups the same way: photo checked by
the same rules, basic 4 information reduced to its keyed hash at once, the application id stored only as a
lookup key plus its last four digits.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract.crl import normalise_key_id, normalise_serial
from contract.photo import PhotoRejected, validate_photo
from server import lifecycle, matching
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
from server.schemas import Basic4In, CardRef, PickupCreate, PickupOut


def basic4(model: Basic4In) -> matching.Basic4:
    return matching.Basic4(name=model.name, address=model.address, birth_date=model.birth_date, sex=model.sex)


def photo_of(session: Session, context: ServerContext, pickup: Pickup) -> str | None:
    """The photo for the clerk's face check: the pickup's own, else the application's."""
    if pickup.photo_sealed is not None:
        return encode_photo(context.keys.unseal(pickup.photo_sealed, purpose="pickup-photo"))
    if pickup.application_row_id is not None:
        application = session.get(Application, pickup.application_row_id)
        if application is not None:
            return encode_photo(context.keys.unseal(application.photo_sealed, purpose="application-photo"))
    return None


def pickup_out(pickup: Pickup, *, photo: str | None) -> PickupOut:
    return PickupOut(
        pickup_id=pickup.pickup_id,
        application_id_masked=mask_application_id(pickup.application_id_last4),
        notice_number=pickup.notice_number,
        status=pickup.status,  # type: ignore[arg-type]
        card=CardRef(auth_cert_serial=pickup.card_auth_cert_serial, issuer_key_id=pickup.card_issuer_key_id),
        basic4_match_key=pickup.basic4_match_key,
        photo_jpeg_base64=photo,
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
        return pickup_out(pickup, photo=photo_of(session, context, pickup))
