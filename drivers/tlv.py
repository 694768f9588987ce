"""BER-TLV parsing that treats every length as hostile.

Card data arrives from an untrusted chip (or an attacker's emulator), so lengths are checked against the
buffer before anything is sliced, tags are limited to three bytes, lengths to three bytes (16 MiB) and
indefinite lengths are refused. Every failure is a ``TlvError``; nothing else escapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from drivers.errors import TlvError

MAX_TAG_BYTES = 3
MAX_LENGTH_BYTES = 3
MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class Tlv:
    """One parsed TLV: ``offset`` is where its tag starts in the buffer, ``end`` one past its value."""

    tag: int
    value: bytes
    offset: int
    header_length: int

    @property
    def constructed(self) -> bool:
        first = self.tag
        while first > 0xFF:
            first >>= 8
        return bool(first & 0x20)

    @property
    def end(self) -> int:
        return self.offset + self.header_length + len(self.value)

    @property
    def encoded(self) -> bytes:
        return encode(self.tag, self.value)

    def children(self) -> list[Tlv]:
        """Parse the value as a sequence of TLVs (padding after them is ignored)."""
        return parse_all(self.value)


def _read_tag(buf: bytes | memoryview, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise TlvError(f"tag expected at offset {pos}, data ends")
    first = buf[pos]
    tag = first
    pos += 1
    if first & 0x1F == 0x1F:
        for count in range(1, MAX_TAG_BYTES):
            if pos >= len(buf):
                raise TlvError("multi-byte tag truncated")
            byte = buf[pos]
            tag = (tag << 8) | byte
            pos += 1
            if not byte & 0x80:
                break
            if count == MAX_TAG_BYTES - 1:
                raise TlvError(f"tag longer than {MAX_TAG_BYTES} bytes")
    return tag, pos


def read_header(buf: bytes | memoryview, pos: int = 0) -> tuple[int, int, int]:
    """Return ``(tag, value_length, header_length)`` for the TLV starting at ``pos``.

    The value itself need not be in ``buf``: this is what a reader uses to learn an EF's size from its
    first bytes.
    """
    tag, cur = _read_tag(buf, pos)
    if cur >= len(buf):
        raise TlvError("length expected, data ends")
    first = buf[cur]
    cur += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise TlvError("indefinite length is not allowed")
    else:
        count = first & 0x7F
        if count > MAX_LENGTH_BYTES:
            raise TlvError(f"length of {count} bytes is not supported")
        if cur + count > len(buf):
            raise TlvError("long-form length truncated")
        length = int.from_bytes(bytes(buf[cur : cur + count]), "big")
        cur += count
    return tag, length, cur - pos


def total_length(prefix: bytes) -> int:
    """Size of the whole TLV (header + value) whose first bytes are ``prefix``."""
    _, length, header = read_header(prefix)
    return header + length


def parse_one(buf: bytes | memoryview, pos: int = 0) -> Tlv:
    """Parse the TLV at ``pos``; its value must lie inside ``buf``."""
    tag, length, header = read_header(buf, pos)
    start = pos + header
    if start + length > len(buf):
        raise TlvError(f"TLV {tag:X} claims {length} bytes, only {len(buf) - start} present")
    return Tlv(tag, bytes(buf[start : start + length]), pos, header)


def _is_padding(buf: bytes | memoryview, pos: int) -> bool:
    rest = bytes(buf[pos:])
    return rest == b"\xff" * len(rest) or rest == b"\x00" * len(rest)


def iterate(buf: bytes | memoryview, pos: int = 0, end: int | None = None) -> Iterator[Tlv]:
    """Yield consecutive TLVs until ``end``, stopping at trailing ``FF``/``00`` padding."""
    stop = len(buf) if end is None else end
    view = memoryview(bytes(buf[:stop]))
    while pos < stop:
        if _is_padding(view, pos):
            return
        tlv = parse_one(view, pos)
        yield tlv
        pos = tlv.end


def parse_all(buf: bytes | memoryview) -> list[Tlv]:
    return list(iterate(buf))


def find(tlvs: list[Tlv], tag: int) -> Tlv:
    """The first TLV with ``tag``; TlvError if absent (absence of a required field is malformed data)."""
    for tlv in tlvs:
        if tlv.tag == tag:
            return tlv
    raise TlvError(f"tag {tag:X} not found")


def encode_tag(tag: int) -> bytes:
    if tag < 0:
        raise ValueError("negative tag")
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes((length,))
    size = (length.bit_length() + 7) // 8
    if size > MAX_LENGTH_BYTES:
        raise ValueError("length too large")
    return bytes((0x80 | size,)) + length.to_bytes(size, "big")


def encode(tag: int, value: bytes, long_form: bool = False) -> bytes:
    """Encode one TLV. ``long_form`` forces the two-byte ``82 LL LL`` form, as the card uses it."""
    length = encode_length(len(value)) if not long_form else b"\x82" + len(value).to_bytes(2, "big")
    return encode_tag(tag) + length + value
