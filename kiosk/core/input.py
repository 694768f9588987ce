"""What a pad or on-screen keyboard asks for, and the buffer it fills — one model for every entry.

``InputSpec`` says what may be typed: how many characters (a range), from which alphabet, whether the
characters are masked, whether the entry must be made twice (a new PIN), and which kinds of character
must appear (the sign PIN needs a letter and a digit). The pad screen renders it: a number pad for a
digits-only alphabet, a keyboard that offers only the alphabet's keys otherwise. Every rule is checked
here, before anything reaches a card — the driver checks again (``drivers.pinformat``), because the
driver is the real guard.

``InputBuffer`` keeps what is typed in a ``bytearray`` (strings cannot be wiped), gives the view only
the count unless the person pressed "show", and hands the entry over with ``take()``, which moves it
into a fresh buffer the receiver owns and zeroes its own.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

from drivers.mynumber.session import zero
from drivers.pinformat import PinFormat

DIGITS = string.digits
UPPER = string.ascii_uppercase

INPUT_TOO_SHORT = "input.too_short"  # {minimum}
INPUT_MISSING_KIND = "input.missing_kind"  # {kinds}: e.g. a sign PIN without a digit
INPUT_MISMATCH = "input.mismatch"  # the second entry of a new PIN differs from the first
INPUT_AGAIN = "input.again"  # prompt for the second entry
INPUT_KEYS = (INPUT_TOO_SHORT, INPUT_MISSING_KIND, INPUT_MISMATCH, INPUT_AGAIN)


@dataclass(frozen=True, slots=True)
class InputSpec:
    """``must_contain``: groups of characters, one of each group must appear (e.g. letters, digits)."""

    min_length: int
    max_length: int
    alphabet: str = DIGITS
    masked: bool = True
    confirm: bool = False
    must_contain: tuple[str, ...] = ()
    fold_case: bool = False  # lower-case letters are taken as upper case (the sign PIN knows A–Z only)

    def __post_init__(self) -> None:
        if not 0 < self.min_length <= self.max_length:
            raise ValueError("an input needs 1 <= min_length <= max_length")

    @property
    def digits_only(self) -> bool:
        return set(self.alphabet) <= set(DIGITS)

    def normalise(self, char: str) -> str | None:
        """The character as stored, or None when it is not in the alphabet."""
        if len(char) != 1:
            return None
        if self.fold_case:
            char = char.upper()
        return char if char in self.alphabet else None

    def problem(self, value: bytes | bytearray) -> tuple[str, dict[str, object]] | None:
        """Why ``value`` is not acceptable yet (a message key and arguments), or None."""
        text = bytes(value).decode("utf-8", "replace")
        if len(text) < self.min_length:
            return INPUT_TOO_SHORT, {"minimum": self.min_length}
        missing = [group for group in self.must_contain if not any(c in group for c in text)]
        if missing:
            return INPUT_MISSING_KIND, {"kinds": tuple("digit" if set(g) <= set(DIGITS) else "letter"
                                                       for g in missing)}
        return None


# The entries the kiosk asks for (card-protocol.md §1; workflows-and-peers.md C.1).
PIN4 = InputSpec(4, 4)
NEW_PIN4 = InputSpec(4, 4, confirm=True)
SIGN_PIN = InputSpec(6, 16, alphabet=UPPER + DIGITS, fold_case=True)
NEW_SIGN_PIN = InputSpec(6, 16, alphabet=UPPER + DIGITS, confirm=True, must_contain=(UPPER, DIGITS), fold_case=True)
APPLICATION_ID = InputSpec(23, 23, masked=False)
# Contact e-mail (optional): what contract.payloads accepts is checked on submit; the keyboard offers these.
EMAIL_KEYS = string.ascii_lowercase + DIGITS + "@._-+"
EMAIL = InputSpec(3, 254, alphabet=EMAIL_KEYS, masked=False, fold_case=False)
# The braille name on the card (点字氏名): katakana, up to 11 characters (workflows-and-peers.md C.1).
KATAKANA = "".join(chr(c) for c in range(0x30A1, 0x30F5)) + "ー"
BRAILLE_NAME = InputSpec(1, 11, alphabet=KATAKANA, masked=False)

# The counter (kiosk/core/flows/pickup): the staff ID and password of server/security.py, and the lookup
# of a pickup by the number on its 交付通知書 (contract.payloads.NOTICE_NUMBER_PATTERN) or the 23-digit ID.
STAFF_ID_KEYS = string.ascii_lowercase + DIGITS + "._-"
STAFF_ID = InputSpec(1, 64, alphabet=STAFF_ID_KEYS, masked=False)
STAFF_PASSWORD = InputSpec(10, 128, alphabet="".join(chr(c) for c in range(0x21, 0x7F)))
LOOKUP_KEYS = DIGITS + UPPER + "-"
PICKUP_LOOKUP = InputSpec(1, 32, alphabet=LOOKUP_KEYS, masked=False)
SPEC_FOR_PIN_FORMAT = {PinFormat.DIGITS4: PIN4, PinFormat.SIGN: SIGN_PIN}


@dataclass(frozen=True, slots=True)
class InputView:
    """What the pad shows; the typed characters only when ``shown`` (the person asked to see them)."""

    entered: int
    min_length: int
    max_length: int
    keys: tuple[str, ...]  # the keys the pad offers, in display order
    masked: bool = True
    shown: str | None = None
    stage: int = 0  # 0: a single entry; 1: first of two; 2: the confirmation
    remaining_tries: int | None = None  # tries this kiosk lets the person use (see PinPolicy.usable_tries)
    error_key: str | None = None
    error_args: dict = field(default_factory=dict)
    note_key: str | None = None  # guidance said once before the first try (e.g. "pin.tries_rule")
    note_args: dict = field(default_factory=dict)

    @property
    def length(self) -> int:
        """For fixed-length pads (a 4-digit PIN): how many boxes to draw."""
        return self.max_length

    @property
    def complete(self) -> bool:
        return self.min_length <= self.entered <= self.max_length


class InputBuffer:
    """Typed characters in a fixed ``bytearray``; confirmation entries keep the first one aside."""

    def __init__(self, spec: InputSpec = PIN4) -> None:
        self.spec = spec
        # UTF-8 in a fixed bytearray (4 bytes per character at most): PINs are ASCII, a braille name katakana
        self._chars = bytearray(spec.max_length * 4)
        self._sizes: list[int] = []  # bytes of each character typed, for backspace
        self._used = 0
        self._count = 0
        self._first: bytearray | None = None  # the first entry, while the confirmation is typed
        self.show = False

    # --- typing ---------------------------------------------------------------------------------------

    @property
    def count(self) -> int:
        return self._count

    @property
    def stage(self) -> int:
        if not self.spec.confirm:
            return 0
        return 1 if self._first is None else 2

    def add(self, char: str) -> bool:
        """Append one character of the alphabet; anything else, or a full buffer, is ignored (False)."""
        stored = self.spec.normalise(char)
        if stored is None or self._count >= self.spec.max_length:
            return False
        encoded = stored.encode("utf-8")
        self._chars[self._used : self._used + len(encoded)] = encoded
        self._used += len(encoded)
        self._sizes.append(len(encoded))
        self._count += 1
        return True

    def backspace(self) -> None:
        if self._count:
            size = self._sizes.pop()
            self._count -= 1
            self._used -= size
            self._chars[self._used : self._used + size] = bytes(size)

    def clear(self) -> None:
        """Zero the current entry (and a kept first entry); "show" is switched off too."""
        self._zero_current()
        if self._first is not None:
            zero(self._first)
            self._first = None
        self.show = False

    def _zero_current(self) -> None:
        zero(self._chars)
        self._sizes.clear()
        self._used = 0
        self._count = 0

    def text(self) -> str:
        """What is typed, as text — for entries that are not secret (``spec.masked`` False) only."""
        if self.spec.masked:
            raise ValueError("a masked entry is never turned into a string")
        return self._chars[: self._used].decode("utf-8")

    def shown(self) -> str | None:
        if not self.show:
            return None
        return self._chars[: self._used].decode("utf-8")

    # --- submitting -----------------------------------------------------------------------------------

    def problem(self) -> tuple[str, dict[str, object]] | None:
        if self._count < self.spec.min_length:
            return INPUT_TOO_SHORT, {"minimum": self.spec.min_length}
        return self.spec.problem(self._chars[: self._used])

    def submit(self) -> tuple[bytearray | None, tuple[str, dict[str, object]] | None]:
        """``(entry, None)`` when complete (the receiver owns and zeroes it), ``(None, None)`` after the first
        of two entries, ``(None, (key, args))`` when the entry is refused (nothing is handed over)."""
        problem = self.problem()
        if problem is not None:
            return None, problem
        entry = bytearray(self._chars[: self._used])
        self._zero_current()
        if self.spec.confirm and self._first is None:
            self._first = entry
            self.show = False
            return None, None
        if self._first is not None:
            first, self._first = self._first, None
            same = first == entry
            zero(first)
            if not same:
                zero(entry)
                return None, (INPUT_MISMATCH, {})
        self.show = False
        return entry, None

    def view(self, *, remaining_tries: int | None = None, error: tuple[str, dict[str, object]] | None = None,
             note: tuple[str, dict[str, object]] | None = None, layout: tuple[str, ...] | None = None) -> InputView:
        if layout is None:
            layout = tuple(c for c in "1234567890" if c in self.spec.alphabet) if self.spec.digits_only else tuple(
                self.spec.alphabet)
        keys = layout
        return InputView(
            entered=self._count, min_length=self.spec.min_length, max_length=self.spec.max_length, keys=keys,
            masked=self.spec.masked, shown=self.shown() if self.spec.masked else self.text(),
            stage=self.stage, remaining_tries=remaining_tries,
            error_key=error[0] if error else None, error_args=dict(error[1]) if error else {},
            note_key=note[0] if note else None, note_args=dict(note[1]) if note else {})

    def holds_anything(self) -> bool:
        """True while any typed byte is still in memory here (for tests of the wipe)."""
        return any(self._chars) or (self._first is not None and any(self._first))


__all__ = ["APPLICATION_ID", "BRAILLE_NAME", "EMAIL", "INPUT_KEYS", "KATAKANA", "NEW_PIN4", "NEW_SIGN_PIN",
           "PICKUP_LOOKUP", "PIN4", "SIGN_PIN", "SPEC_FOR_PIN_FORMAT", "STAFF_ID", "STAFF_PASSWORD", "InputBuffer",
           "InputSpec", "InputView"]
