"""Identifiers the server hands out, and the masked form of an application id shown on receipts.

The 申請書ID's format itself is ``contract.application_id`` (the kiosk checks the same rule).
"""

from __future__ import annotations

import base64
import secrets

from contract.application_id import APPLICATION_ID_LENGTH
from contract.payloads import PayloadInvalid, decode_photo_base64
from server.errors import ApiError
from server.keys import ServerKeys


def new_receipt_id() -> str:
    return "R-" + secrets.token_hex(8).upper()


def new_pickup_id() -> str:
    return "P-" + secrets.token_hex(8).upper()


def mask_application_id(last4: str) -> str:
    """Only the last 4 of the 23 digits stay visible: enough for a resident to recognise a receipt."""
    return "*" * (APPLICATION_ID_LENGTH - len(last4)) + last4


def application_lookup_key(keys: ServerKeys, application_id: str) -> str:
    return keys.lookup_key("application-id", application_id)


def decode_photo(text: str) -> bytes:
    """``contract.payloads.decode_photo_base64`` (strict standard base64) as the API's 422."""
    try:
        return decode_photo_base64(text)
    except PayloadInvalid as exc:
        raise ApiError(422, "photo_not_base64", "photo_jpeg_base64 is not valid standard base64.") from exc


def encode_photo(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
