"""Synthetic residents' applications with markers that a byte search can find (nothing real here)."""

from __future__ import annotations

import base64
import functools
import io
import json
import os
from typing import Any

NAME = "試験山田花子"  # synthetic
NAME_KANA = "シケンヤマダハナコ"
EMAIL = "hanako.shiken@example.invalid"
PHONE = "090-0000-4321"
PHOTO_MARKER = b"SYNTHETIC-PHOTO-MARKER"


def application_id(n: int) -> str:
    """23 digits, recognisable in a byte dump: 9876 + the item number zero-padded."""
    return f"9876{n:019d}"


def photo(size: int = 2048) -> bytes:
    """A JPEG-shaped blob: SOI, the marker, random filler (incompressible, like a real photo), EOI."""
    body = PHOTO_MARKER + os.urandom(max(0, size - len(PHOTO_MARKER) - 4))
    return b"\xff\xd8" + body + b"\xff\xd9"


@functools.lru_cache(maxsize=8)
def jpeg_photo(quality: int = 77) -> bytes:
    """A real 700 x 900 RGB JPEG of a synthetic face that passes every photo rule, the face rules the
    reference server applies included (``tests/support/faces.py``: drawn, no real person); quality 77 gives
    about 50 KB. Different qualities give different bytes (another photo of the same person). The marker
    rides in a JPEG comment segment. Qualities below 40 are raised to 40, which keeps the file above the
    20 KB minimum of the upload rules."""
    from PIL import Image

    from tests.support.faces import portrait

    out = io.BytesIO()
    Image.fromarray(portrait()).save(out, "JPEG", quality=max(40, quality), comment=PHOTO_MARKER)
    return out.getvalue()


def application(n: int, *, photo_size: int = 2048, jpeg_quality: int | None = None) -> dict[str, Any]:
    """One application; ``jpeg_quality`` switches to a real JPEG (needed by the reference server)."""
    data = jpeg_photo(jpeg_quality) if jpeg_quality is not None else photo(photo_size)
    return {
        "application_id": application_id(n),
        "photo_jpeg_base64": base64.b64encode(data).decode("ascii"),
        "contact": {"name": f"{NAME} {NAME_KANA}", "email": EMAIL, "phone": PHONE},
        "submitted_at": "2026-11-26T10:00:00+09:00",
    }


def personal_needles(app: dict[str, Any]) -> dict[str, bytes]:
    """Every form in which the application's personal data could leak into a file, as bytes."""
    needles = {
        "name": NAME.encode("utf-8"),
        "name_kana": NAME_KANA.encode("utf-8"),
        "name_json_escaped": json.dumps(NAME)[1:-1].encode("ascii"),
        "email": EMAIL.encode(),
        "phone": PHONE.encode(),
        "application_id": app["application_id"].encode(),
        "photo_marker": PHOTO_MARKER,
        "photo_base64": app["photo_jpeg_base64"][8:64].encode(),
    }
    needles["name_utf16"] = NAME.encode("utf-16-le")
    return needles


def grant(n: int) -> str:
    """A handover grant's shape (43+ URL-safe characters); the fake server accepts any such grant."""
    return f"TEST-GRANT-{n:032d}"


def handover_details() -> dict[str, Any]:
    """What a clean counter reports: every check passed, the four PINs set, the notification card collected."""
    return {
        "checks": dict.fromkeys(("card_verified", "card_identity", "basic4_match", "face_visual", "pins_set"),
                                "passed"),
        "pins_set": ["auth", "sign", "card_info", "juki"],
        "collected": {"notification_card": True, "juki_card": False, "old_card": False},
    }


def handover(n: int, **changes: Any) -> dict[str, Any]:
    """One outbox ``handover`` item (contract.payloads.HandoverItem): pickup, card serial, time, grant, and
    what the counter reported (checks, PINs set, documents collected)."""
    item: dict[str, Any] = {
        "pickup_id": f"P-{n:016X}",
        "card_auth_cert_serial": f"0A1B{n:04X}",
        "handed_over_at": "2026-11-26T10:00:00+09:00",
        "grant": grant(n),
        **handover_details(),
    }
    item.update(changes)
    return item
