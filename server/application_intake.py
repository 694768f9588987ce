"""Taking in one application: the photo rules the request applies, the row and its sealed photo, and how a
retry with other bytes is recognised as the same application.

Why apart from the route: the route decides HTTP answers; this decides what is stored, and is shared by the
replay check (``same_application``) and the clerk's photo (``application_photo``), which read back what
``prepare`` wrote. The photo goes to the photo store *before* the write transaction (``server/photo_store.py``:
a file, written and fsync'd while other requests write theirs), so the one write transaction of a new
application carries a small row only; ``discard`` removes the file again when that transaction loses a race.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from contract.payloads import effective_options
from contract.photo import validate_photo, validate_photo_header
from server.deps import ServerContext
from server.errors import ApiError
from server.idempotency import SameRequest
from server.identifiers import decode_photo, mask_application_id, new_receipt_id
from server.models import Application
from server.photo_checks import PASSED, PENDING, PHOTO_PURPOSE
from server.photo_store import PhotoUnavailable, StoredPhoto
from server.schemas import ApplicationCreate, ApplicationReceipt

CONTACT_PURPOSE = "contact"
OPTIONS_PURPOSE = "options"
ID_PURPOSE = "application-id"


def check_photo_rules(context: ServerContext, photo: bytes) -> str:
    """The rules the request applies (``PhotoRejected`` when one fails); the photo_check state to store.

    ``[photos] checks = "background"``: only what the headers tell (no pixel decoded), the rest is the job's
    (pending). ``"request"``: every rule now, as before issue 11 (passed)."""
    if context.settings.photo_checks_in == "request":
        validate_photo(photo, content=context.settings.photo_face_checks)
        return PASSED
    validate_photo_header(photo)
    return PENDING


def _contact(body: ApplicationCreate) -> dict[str, Any] | None:
    contact = None if body.contact is None else body.contact.model_dump(exclude_none=True)
    return contact or None


def _options(body: ApplicationCreate) -> dict[str, Any]:
    # Absent options (a kiosk from before they existed) mean the defaults; what is stored is what the city acts on.
    return effective_options(None if body.options is None else body.options.model_dump())  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A new application ready to insert, its photo already in the store."""

    application: Application
    stored: StoredPhoto

    def receipt(self) -> dict[str, Any]:
        row = self.application
        return ApplicationReceipt(
            receipt_id=row.receipt_id,
            application_id_masked=mask_application_id(row.application_id_last4),
            status="received",
            received_at=row.received_at,
            duplicate=False,
            photo_check=row.photo_check,  # type: ignore[arg-type]
        ).model_dump(mode="json")


def prepare(
    context: ServerContext, body: ApplicationCreate, *, kiosk_id: str, lookup: str, photo: bytes, photo_check: str,
    now: datetime,
) -> Prepared:
    """Seal everything, put the photo in the store, and build the row (not added to any session yet)."""
    keys = context.keys
    contact = _contact(body)
    stored = context.photos.put(keys.seal(photo, purpose=PHOTO_PURPOSE))
    application = Application(
        receipt_id=new_receipt_id(),
        application_key=lookup,
        application_id_last4=body.application_id[-4:],
        application_id_sealed=keys.seal(body.application_id.encode("ascii"), purpose=ID_PURPOSE),
        photo_sealed=stored.column,
        photo_ref=stored.ref,
        photo_sha256=stored.sha256,
        photo_check=photo_check,
        photo_checked_at=now if photo_check == PASSED else None,
        photo_check_attempts=0,
        contact_sealed=None if contact is None else keys.seal(json.dumps(contact).encode(), purpose=CONTACT_PURPOSE),
        options_sealed=keys.seal(
            json.dumps(_options(body), ensure_ascii=False).encode("utf-8"), purpose=OPTIONS_PURPOSE
        ),
        status="received",
        kiosk_id=kiosk_id,
        submitted_at=body.submitted_at,
        received_at=now,
        updated_at=now,
    )
    return Prepared(application, stored)


def application_photo(context: ServerContext, application: Application) -> bytes:
    """The application's photo, read from wherever it is stored and checked against the row's digest
    (``PhotoUnavailable`` when missing or not the one recorded)."""
    sealed = context.photos.get(application.photo_ref, application.photo_sha256, application.photo_sealed)
    return context.keys.unseal(sealed, purpose=PHOTO_PURPOSE)


def same_application(context: ServerContext, body: ApplicationCreate, lookup: str) -> SameRequest:
    """For ``idempotency.find``: is the application stored under a record the one this request describes?

    Asked only when the bytes differ from the stored request's. Compares what the city acts on — the id
    (by its keyed hash), the submission time, the contact, the options (defaults filled in, so an absent
    ``options`` and the defaults spelled out are the same request) and the photo's bytes."""

    def same(session: Session, answer: dict[str, Any]) -> bool:
        receipt_id = answer.get("receipt_id")
        stored = session.scalar(select(Application).where(Application.receipt_id == receipt_id))
        if stored is None or stored.application_key != lookup or stored.submitted_at != body.submitted_at:
            return False
        keys = context.keys
        contact = None if stored.contact_sealed is None else json.loads(
            keys.unseal(stored.contact_sealed, purpose=CONTACT_PURPOSE)
        )
        if contact != _contact(body):
            return False
        if stored.options_sealed is not None and json.loads(
            keys.unseal(stored.options_sealed, purpose=OPTIONS_PURPOSE)
        ) != _options(body):
            return False
        try:
            return application_photo(context, stored) == decode_photo(body.photo_jpeg_base64)
        except (ApiError, PhotoUnavailable):
            return False

    return same
