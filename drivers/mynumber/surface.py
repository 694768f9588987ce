"""券面事項確認AP (card surface): the card face as data — face photo, name and address images, expiry.

The face photo is JPEG 2000 on the card; ``face_png()`` decodes it (Pillow, with a pixel cap so a hostile
card cannot make us decode a bomb) into PNG bytes any UI toolkit can show.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from drivers import errors, tlv
from drivers.mynumber import aids
from drivers.mynumber.base import CardApplication, PinInput

MAX_FACE_PIXELS = 2_000_000  # a card photo is ~300×400; anything far larger is hostile
_FIELDS = {0xDF22: "birth", 0xDF23: "sex", 0xDF24: "public_key", 0xDF25: "name_png", 0xDF26: "address_png",
           0xDF27: "face_jp2", 0xDF28: "signature", 0xDF29: "expiry", 0xDF2A: "security_code_png"}


@dataclass(frozen=True, slots=True, repr=False)
class SurfaceEntries:
    """The card-face entries; ``repr`` names fields and sizes only (they are personal data)."""

    birth: str
    sex: str
    expiry: date | None
    name_png: bytes
    address_png: bytes
    face_jp2: bytes
    security_code_png: bytes
    signature: bytes
    raw: bytes

    def __repr__(self) -> str:
        return f"SurfaceEntries(face_jp2={len(self.face_jp2)} bytes, name_png={len(self.name_png)} bytes, …)"

    def face_png(self) -> bytes:
        """The face photo decoded from JPEG 2000 to PNG; ProtocolError if it is not a sane image."""
        from PIL import Image

        try:
            with Image.open(io.BytesIO(self.face_jp2)) as image:
                if image.format != "JPEG2000":
                    raise errors.ProtocolError(f"face photo is {image.format}, not JPEG 2000")
                if image.width * image.height > MAX_FACE_PIXELS:
                    raise errors.ProtocolError(f"face photo of {image.width}×{image.height} pixels refused")
                out = io.BytesIO()
                image.convert("RGB").save(out, format="PNG")
                return out.getvalue()
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
            raise errors.ProtocolError(f"face photo cannot be decoded: {exc}") from exc


def parse_surface_entries(data: bytes) -> SurfaceEntries:
    """Parse visual AP EF 0002 (FF20 { DF21 offsets, DF22 … DF2A }) — card-protocol.md §4.5."""
    outer = tlv.parse_one(data)
    if outer.tag != 0xFF20:
        raise errors.TlvError(f"card-face entries start with tag {outer.tag:X}, expected FF20")
    fields = {_FIELDS[c.tag]: c.value for c in outer.children() if c.tag in _FIELDS}
    missing = {"face_jp2", "name_png", "address_png"} - fields.keys()
    if missing:
        raise errors.TlvError(f"card-face entries lack {', '.join(sorted(missing))}")
    return SurfaceEntries(
        birth=fields.get("birth", b"").decode("ascii", "replace"),
        sex=fields.get("sex", b"").decode("ascii", "replace"),
        expiry=_yyyymmdd(fields.get("expiry", b"")),
        name_png=fields["name_png"],
        address_png=fields["address_png"],
        face_jp2=fields["face_jp2"],
        security_code_png=fields.get("security_code_png", b""),
        signature=fields.get("signature", b""),
        raw=outer.encoded,
    )


def _yyyymmdd(value: bytes) -> date | None:
    """Expiry text format is UNCONFIRMED (card-protocol.md §4.5); YYYYMMDD is read, anything else is None."""
    text = value.decode("ascii", "replace")
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


class SurfaceAp(CardApplication):
    info = aids.SURFACE

    def read_entries(self, *, pin_a: PinInput | None = None, pin_b: PinInput | None = None,
                     confirm_last_try: bool = False) -> SurfaceEntries:
        """PIN A (the My Number) or PIN B (birth date + expiry year + security code) opens the card face."""
        if (pin_a is None) == (pin_b is None):
            raise ValueError("give exactly one of pin_a, pin_b")
        ref, value = (aids.SURFACE_PIN_A, pin_a) if pin_a is not None else (aids.SURFACE_PIN_B, pin_b)
        self.verify(ref, value, confirm_last_try=confirm_last_try)
        data = self.session.read_tlv_ef(aids.EF_SURFACE_ENTRIES)
        if not data:
            raise errors.ProtocolError("the card-face EF is empty")
        return parse_surface_entries(data)
