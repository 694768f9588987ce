"""券面事項確認AP (card surface): the card face as data — face photo, name and address images, expiry.

The face photo is JPEG 2000 on the card; ``face_png()`` decodes it (Pillow, with a pixel cap so a hostile
card cannot make us decode a bomb) into PNG bytes any UI toolkit can show.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import date

from drivers import errors, tlv
from drivers.mynumber import aids
from drivers.mynumber.base import CardApplication, PinInput

LOG = logging.getLogger(__name__)
MAX_FACE_PIXELS = 2_000_000  # a card photo is ~300×400; anything far larger is hostile
_FIELDS = {0xDF22: "birth", 0xDF23: "sex", 0xDF24: "public_key", 0xDF25: "name_png", 0xDF26: "address_png",
           0xDF27: "face_jp2", 0xDF28: "signature", 0xDF29: "expiry", 0xDF2A: "security_code_png"}
# FF20 82 LL LL + DF21 12 + 9 two-byte offsets = 26 bytes; a little more in case of another length form.
_HEAD_READ = 32


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
        return face_png(self.face_jp2)


def face_png(face_jp2: bytes) -> bytes:
    """A card's JPEG 2000 face photo as PNG bytes; ProtocolError if it is not a sane image."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(face_jp2)) as image:
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
    outer = _card_face(data)
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


def _card_face(data: bytes) -> tlv.Tlv:
    """The card face's outer FF20 TLV, or a TlvError naming the tag found instead."""
    outer = tlv.parse_one(data)
    if outer.tag != 0xFF20:
        raise errors.TlvError(f"card-face entries start with tag {outer.tag:X}, expected FF20")
    return outer


def _field_value(data: bytes, tag: int, name: str) -> bytes:
    for child in _card_face(data).children():
        if child.tag == tag:
            return child.value
    raise errors.TlvError(f"card-face entries lack {name}")


def _yyyymmdd(value: bytes) -> date | None:
    """Expiry text format is UNCONFIRMED (card-protocol.md §4.5); YYYYMMDD is read, anything else is None."""
    text = value.decode("ascii", "replace")
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def field_span(head: bytes, tag: int) -> tuple[int, int] | None:
    """Where field ``tag`` (DF22…DF2A) lies in the card-face EF, from its first bytes: ``FF20 <len> DF21 <9
    offsets>``; a field runs from its offset to the next one (the last, to the end of FF20). None when the
    header does not have that shape or the offsets do not increase inside the EF — the caller then reads
    the whole EF.

    The offsets count from the start of the EF, as in basic 4 (§4.2, derived; UNCONFIRMED for this EF).
    """
    try:
        outer_tag, length, outer_header = tlv.read_header(head)
        inner_tag, inner_length, inner_header = tlv.read_header(head, outer_header)
    except errors.TlvError:
        return None
    if outer_tag != 0xFF20 or inner_tag != 0xDF21 or inner_length != 2 * len(_FIELDS) or tag not in _FIELDS:
        return None
    start = outer_header + inner_header
    if start + inner_length > len(head):
        return None
    raw = head[start : start + inner_length]
    offsets = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, inner_length, 2)]
    end_of_ef = outer_header + length
    if offsets != sorted(offsets) or offsets[0] != start + inner_length or offsets[-1] >= end_of_ef:
        return None
    index = list(_FIELDS).index(tag)
    after = offsets[index + 1] if index + 1 < len(offsets) else end_of_ef
    return offsets[index], after - offsets[index]


class SurfaceAp(CardApplication):
    info = aids.SURFACE

    @staticmethod
    def _surface_pin(pin_a: PinInput | None, pin_b: PinInput | None) -> tuple[aids.PinRef, PinInput]:
        if pin_a is not None and pin_b is None:
            return aids.SURFACE_PIN_A, pin_a
        if pin_b is not None and pin_a is None:
            return aids.SURFACE_PIN_B, pin_b
        raise ValueError("give exactly one of pin_a, pin_b")

    def read_entries(self, *, pin_a: PinInput | None = None, pin_b: PinInput | None = None,
                     confirm_last_try: bool = False) -> SurfaceEntries:
        """PIN A (the My Number) or PIN B (birth date + expiry year + security code) opens the card face."""
        ref, value = self._surface_pin(pin_a, pin_b)
        self.verify(ref, value, confirm_last_try=confirm_last_try)
        data = self.session.read_tlv_ef(aids.EF_SURFACE_ENTRIES)
        if not data:
            raise errors.ProtocolError("the card-face EF is empty")
        return parse_surface_entries(data)

    def read_face_photo(self, *, pin_a: PinInput | None = None, pin_b: PinInput | None = None,
                        confirm_last_try: bool = False) -> bytes:
        """Only the face photo (JPEG 2000), found by the EF's DF21 offsets: about half of the EF's bytes, the
        name and address images are not read."""
        return self._read_field(0xDF27, "face_jp2", pin_a, pin_b, confirm_last_try)

    def read_card_expiry(self, *, pin_a: PinInput | None = None, pin_b: PinInput | None = None,
                         confirm_last_try: bool = False) -> date | None:
        """The card's own expiry (DF29, printed on the card face), a few bytes found by the DF21 offsets;
        None when the text is not a YYYYMMDD date (its format is UNCONFIRMED)."""
        return _yyyymmdd(self._read_field(0xDF29, "expiry", pin_a, pin_b, confirm_last_try))

    def _read_field(self, tag: int, name: str, pin_a: PinInput | None, pin_b: PinInput | None,
                    confirm_last_try: bool) -> bytes:
        """One card-face field's value. A header that does not hold the expected offsets (an unconfirmed
        layout) falls back to reading the whole EF; either way what is returned is the field's value."""
        ref, value = self._surface_pin(pin_a, pin_b)
        self.verify(ref, value, confirm_last_try=confirm_last_try)
        session = self.session
        session.select_ef(aids.EF_SURFACE_ENTRIES)
        span = field_span(session.read_span(0, _HEAD_READ), tag)
        if span is not None:
            found = self._field_at(tag, *span)
            if found is not None:
                return found
        LOG.info("card-face offsets not as expected: reading the whole card-face EF")
        data = session.read_tlv_ef(aids.EF_SURFACE_ENTRIES)
        if not data:
            raise errors.ProtocolError("the card-face EF is empty")
        return _field_value(data, tag, name)

    def _field_at(self, tag: int, offset: int, length: int) -> bytes | None:
        data = self.session.read_span(offset, length)
        try:
            found = tlv.parse_one(data)
        except errors.TlvError:
            return None
        if found.tag != tag or len(found.encoded) != length:
            return None
        return found.value
