"""The card-info text AP's personal data: the basic 4 EF (§4.2) and the My Number EF (§4.1).

Parsing is strict about structure and defensive about the DF21 offsets: tools that trust the offsets
alone and tools that walk the TLVs alone read different things from a crafted EF, so both are done and
must agree. Values are personal data: ``Basic4`` never prints them, and masking of the My Number lives
here, in one place, so every screen and log masks it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from drivers.errors import ProtocolError
from drivers.mynumber.integrity import (
    TAG_ADDRESS,
    TAG_BASIC4,
    TAG_BIRTH,
    TAG_MY_NUMBER,
    TAG_NAME,
    TAG_OFFSETS,
    TAG_SEX,
    outer_children,
)
from drivers.tlv import parse_one

MY_NUMBER_DIGITS = 12
BASIC4_FIELDS = (TAG_NAME, TAG_ADDRESS, TAG_BIRTH, TAG_SEX)

# ISO 5218, as the card stores it (§4.2). "0" (not known) is ISO 5218 but not seen on cards; MNB's "3"
# is a single-source outlier (UNCONFIRMED) — such codes parse, with the label "unknown", rather than make
# a real card unreadable at the counter.
SEX_LABELS = {"0": "not_known", "1": "male", "2": "female", "9": "not_applicable"}
SEX_UNKNOWN_LABEL = "unknown"


# --- My Number ------------------------------------------------------------------------------------------


def my_number_check_digit(first_eleven: str) -> int:
    """The 12th digit of a My Number: weights 2..7 then 2..6 from the right, mod 11."""
    if len(first_eleven) != 11 or not first_eleven.isascii() or not first_eleven.isdigit():
        raise ValueError("expected the first 11 digits")
    total = 0
    for n in range(1, 12):
        digit = int(first_eleven[-n])
        weight = n + 1 if n <= 6 else n - 5
        total += digit * weight
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_valid_my_number(value: str) -> bool:
    """Twelve ASCII digits whose last is the check digit of the first eleven."""
    return (
        len(value) == MY_NUMBER_DIGITS
        and value.isascii()
        and value.isdigit()
        and my_number_check_digit(value[:11]) == int(value[11])
    )


def mask_my_number(value: str) -> str:
    """``"**** **** 9018"``: only the last four digits, grouped like the card prints the number.

    Anything that is not 12 digits is masked completely: a masking helper that echoed odd input back
    would leak exactly the values nobody expected.
    """
    if len(value) == MY_NUMBER_DIGITS and value.isascii() and value.isdigit():
        return f"**** **** {value[8:]}"
    return "**** **** ****"


def parse_my_number_ef(ef: bytes) -> str:
    """EF 0001 (``FF 10 0C`` + 12 ASCII digits; the padding after it is ignored) to the 12-digit string.

    A number whose check digit fails is malformed card data, not a number to show or send: a bit error
    or a forged EF must stop here.
    """
    tlv = parse_one(ef)
    if tlv.tag != TAG_MY_NUMBER or len(tlv.value) != MY_NUMBER_DIGITS:
        raise ProtocolError("My Number EF must be FF10 with 12 digits")
    if not all(0x30 <= byte <= 0x39 for byte in tlv.value):
        raise ProtocolError("My Number EF must hold ASCII digits only")
    number = tlv.value.decode("ascii")
    if not is_valid_my_number(number):
        raise ProtocolError("My Number EF holds a number whose check digit does not match")
    return number


# --- basic 4 --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, repr=False)
class Basic4:
    """基本4情報 as the card-info AP stores it. ``repr`` shows field lengths only (logs stay clean)."""

    name: str
    address: str
    birth_date: date
    sex: str  # ISO 5218 digit as text

    @property
    def sex_label(self) -> str:
        """A message key ("male", "female", "not_applicable", …); the UI translates it."""
        return SEX_LABELS.get(self.sex, SEX_UNKNOWN_LABEL)

    def __repr__(self) -> str:
        return (
            f"Basic4(name=<{len(self.name)} chars>, address=<{len(self.address)} chars>,"
            " birth_date=<date>, sex=<code>)"
        )

    __str__ = __repr__


def _text(value: bytes, what: str) -> str:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(f"basic 4 {what} is not valid UTF-8") from None
    if not text:
        raise ProtocolError(f"basic 4 {what} is empty")
    return text


def parse_birth_date(value: bytes) -> date:
    """ASCII YYYYMMDD (Gregorian) to a date; anything else is malformed."""
    if len(value) != 8 or not all(0x30 <= byte <= 0x39 for byte in value):
        raise ProtocolError("birth date must be 8 ASCII digits YYYYMMDD")
    text = value.decode("ascii")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise ProtocolError("birth date is not a calendar date") from None


def parse_sex(value: bytes) -> str:
    """One ASCII digit (see ``SEX_LABELS``)."""
    if len(value) != 1 or not 0x30 <= value[0] <= 0x39:
        raise ProtocolError("sex must be one ASCII digit")
    return value.decode("ascii")


def parse_basic4(ef: bytes) -> Basic4:
    """EF 0002: ``FF20 {DF21 offsets, DF22 name, DF23 address, DF24 birth, DF25 sex}`` + padding.

    The four DF21 offsets count from the start of the EF (§4.2, derived) and must point exactly at the
    fields the TLV walk finds; any disagreement means a crafted or damaged EF.
    """
    outer, children = outer_children(ef, TAG_BASIC4)
    tags = [child.tag for child in children]
    if tags != [TAG_OFFSETS, *BASIC4_FIELDS]:
        raise ProtocolError("basic 4 EF must hold DF21, DF22, DF23, DF24, DF25 in this order")
    header, fields = children[0], children[1:]
    if len(header.value) != 2 * len(BASIC4_FIELDS):
        raise ProtocolError(f"basic 4 offset header must be {2 * len(BASIC4_FIELDS)} bytes")
    offsets = [int.from_bytes(header.value[i : i + 2], "big") for i in range(0, len(header.value), 2)]
    walked = [outer.header_length + field.offset for field in fields]
    if offsets != walked:
        raise ProtocolError("basic 4 offset header does not match the fields")
    name, address, birth, sex = (field.value for field in fields)
    return Basic4(
        name=_text(name, "name"),
        address=_text(address, "address"),
        birth_date=parse_birth_date(birth),
        sex=parse_sex(sex),
    )
