"""What each My Number card PIN must look like — one place for the card, the driver and the UI.

Formats from card-protocol.md §1: 4 digits (auth, card-info, 住基), sign password 6–16 of A–Z/0–9 (tools
upper-case input; P8N adds "at least one letter and one digit" for *setting* it), birth-date PIN YYMMDD,
PIN A = the 12-digit My Number, PIN B = 14 digits.
"""

from __future__ import annotations

import re
from enum import StrEnum


class PinFormat(StrEnum):
    DIGITS4 = "digits4"
    SIGN = "sign"
    DIGITS6 = "digits6"
    DIGITS12 = "digits12"
    DIGITS14 = "digits14"


_PATTERNS = {
    PinFormat.DIGITS4: re.compile(rb"[0-9]{4}"),
    PinFormat.SIGN: re.compile(rb"[A-Z0-9]{6,16}"),
    PinFormat.DIGITS6: re.compile(rb"[0-9]{6}"),
    PinFormat.DIGITS12: re.compile(rb"[0-9]{12}"),
    PinFormat.DIGITS14: re.compile(rb"[0-9]{14}"),
}


def pin_format_ok(fmt: PinFormat, value: bytes | bytearray) -> bool:
    """True when ``value`` (ASCII bytes) has the shape the card accepts for ``fmt``."""
    return _PATTERNS[fmt].fullmatch(bytes(value)) is not None


def new_sign_password_ok(value: bytes | bytearray) -> bool:
    """Setting a sign password additionally needs a letter and a digit (P8N; UNCONFIRMED on the card)."""
    raw = bytes(value)
    return (pin_format_ok(PinFormat.SIGN, raw) and re.search(rb"[A-Z]", raw) is not None
            and re.search(rb"[0-9]", raw) is not None)
