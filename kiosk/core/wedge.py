"""A USB barcode scanner in keyboard-wedge mode: characters typed in a fast burst, ended by CR, LF or Tab.

Most scanners are set up to "type" the code and press Enter (some Tab). The terminator ends the code and
is never part of it; a burst with a long pause inside (a person at a real keyboard, a scanner that lost
the code halfway) is dropped rather than taken as a partial code. Scanners type a character every few
milliseconds; ``max_gap_seconds`` is generous for slow USB hubs (UNCONFIRMED per model: configurable).
Nothing here keeps a code after it is handed over.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TERMINATORS = frozenset({"\r", "\n", "\t"})
MAX_CODE_LENGTH = 512  # far above any code the kiosk reads: a stuck key cannot grow the buffer forever


@dataclass(slots=True)
class WedgeBuffer:
    max_gap_seconds: float = 0.3
    _chars: list[str] = field(default_factory=list, repr=False)
    _last: float | None = None

    def feed(self, char: str, now: float) -> str | None:
        """Add one typed character; returns the whole code when a terminator ends a burst, else None."""
        if self._last is not None and now - self._last > self.max_gap_seconds:
            self._chars.clear()  # the pause broke the burst: what came before was not one code
        self._last = now
        if char in TERMINATORS:
            code, self._chars = "".join(self._chars), []
            self._last = None
            return code or None
        if len(char) == 1 and char.isprintable() and len(self._chars) < MAX_CODE_LENGTH:
            self._chars.append(char)
        return None

    def clear(self) -> None:
        self._chars.clear()
        self._last = None


__all__ = ["MAX_CODE_LENGTH", "TERMINATORS", "WedgeBuffer"]
