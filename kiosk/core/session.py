"""One resident's session: preferences, timers, the PIN being typed, and the wipe that ends it all.

Why a separate object: every flow (card check, application, PIN change, pickup) needs the same promises,
and they are privacy promises, so they live in one place:

* **Idle time-out with a warning.** ``idle_warning_seconds`` before the end the view shows how many seconds
  are left; any activity (or "more time") starts the full period again. Accessibility guidance asks for a
  warning and an extension rather than a hard cut (workflows-and-peers.md, part D). The timer is paused
  while the card is busy — waiting for the card is not the resident being idle.
* **PIN-entry time-out.** Digits typed and then left alone for ``pin_entry_seconds`` are zeroed, so a
  half-typed (or "shown") PIN does not sit on a screen someone walked away from. It does not end the
  session: that is the idle timer's job, and a slow typist should not lose their place.
* **The wipe.** ``end()`` wipes every held object (``Verdict.wipe()`` and friends), zeroes the PIN buffer
  and changes the session id — the UI drops cached textures when the id changes. Preferences (language,
  large text, high contrast, speech) are reset to the kiosk's defaults unless the caller keeps them for a
  "put your card back" restart (same person at the screen, see ``card_check``).
* **What is typed lives in one ``InputBuffer``** (``kiosk.core.input``: a ``bytearray``, because Python
  strings cannot be wiped), handed over by ``submit()`` into a fresh buffer the receiver zeroes. The
  session owns it so that the wipe reaches it whatever flow is on screen; a flow asks for the input it
  needs with ``start_entry(spec)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from kiosk.config import TimeoutSection
from kiosk.core.input import PIN4, InputBuffer, InputSpec


class Wipeable(Protocol):
    """Anything holding personal data that can be overwritten in place (``Verdict``, card details)."""

    def wipe(self) -> None: ...


@dataclass(slots=True)
class Preferences:
    """Display and speech settings; per session, never personal data."""

    language: str
    large_text: bool = False
    high_contrast: bool = False
    speech: bool = True


@dataclass(frozen=True, slots=True)
class IdleStatus:
    expired: bool = False
    warning: int | None = None  # whole seconds left while the warning is up


class Session:
    """State that belongs to the person at the screen, and the timers that decide when they are gone."""

    def __init__(self, *, idle_seconds: float, idle_warning_seconds: float, pin_entry_seconds: float,
                 default_language: str) -> None:
        if idle_seconds <= 0 or pin_entry_seconds <= 0 or idle_warning_seconds < 0:
            raise ValueError("time-outs must be positive")
        self.idle_seconds = idle_seconds
        self.warning_after = max(0.0, idle_seconds - idle_warning_seconds)
        self.pin_entry_seconds = pin_entry_seconds
        self.default_language = default_language
        self.id = 1
        self.active = False
        self.prefs = Preferences(default_language)
        self.staff_called = False
        self.entry = InputBuffer(PIN4)
        self._held: list[Wipeable] = []
        self._last_activity = 0.0
        self.warning: int | None = None  # seconds left while the idle warning is up (from the last ``idle``)
        self._paused = False
        self._last_pin_key: float | None = None

    @classmethod
    def from_timeouts(cls, timeouts: TimeoutSection, default_language: str) -> Session:
        return cls(idle_seconds=timeouts.idle_seconds, idle_warning_seconds=timeouts.idle_warning_seconds,
                   pin_entry_seconds=timeouts.pin_entry_seconds, default_language=default_language)

    # --- activity and timers ----------------------------------------------------------------------------

    def begin(self, now: float) -> None:
        """Someone is here (a touch, a card, a setting): start the session if it was not running."""
        if not self.active:
            self.active = True
            self._paused = False
            self._last_activity = now

    def touch(self, now: float) -> None:
        """Any activity, "more time" included: the full idle period starts again and the warning goes."""
        self.begin(now)
        self._last_activity = now
        self.warning = None

    def pause(self) -> None:
        """Card I/O running: the resident is waiting, not idle."""
        self._paused = True
        self.warning = None

    def resume(self, now: float) -> None:
        """Card I/O over: the next screen gets the full idle period."""
        self._paused = False
        self._last_activity = now

    def idle(self, now: float) -> IdleStatus:
        """Where the idle timer stands at ``now``; also keeps ``warning`` for the view."""
        status = self._idle_status(now)
        self.warning = status.warning
        return status

    def _idle_status(self, now: float) -> IdleStatus:
        if not self.active or self._paused:
            return IdleStatus()
        elapsed = now - self._last_activity
        if elapsed >= self.idle_seconds:
            return IdleStatus(expired=True)
        if elapsed >= self.warning_after:
            return IdleStatus(warning=max(1, math.ceil(self.idle_seconds - elapsed)))
        return IdleStatus()

    def start_entry(self, spec: InputSpec) -> InputBuffer:
        """A fresh, empty buffer for ``spec`` (whatever was typed before is zeroed first)."""
        self.entry.clear()
        self.entry = InputBuffer(spec)
        self._last_pin_key = None
        return self.entry

    def pin_key(self, now: float) -> None:
        """A key on the pad: the entry timer restarts (it only runs while characters are typed)."""
        self._last_pin_key = now

    def pin_timed_out(self, now: float) -> bool:
        return (self.entry.count > 0 and self._last_pin_key is not None
                and now - self._last_pin_key >= self.pin_entry_seconds)

    # --- personal data ----------------------------------------------------------------------------------

    def hold(self, item: Wipeable) -> Wipeable:
        """Remember something holding personal data, so that ``end()`` wipes it whatever happens."""
        self._held.append(item)
        return item

    def release(self, item: Wipeable) -> None:
        """Wipe one held item now (the flow is done with it) and forget it."""
        item.wipe()
        self._held = [held for held in self._held if held is not item]

    def wipe_personal_data(self) -> None:
        for item in self._held:
            item.wipe()
        self._held.clear()
        self.entry.clear()
        self._last_pin_key = None

    def end(self, *, keep_preferences: bool = False) -> None:
        """The WIPE: personal data, PIN, staff call, timers — and a new session id for the next view."""
        self.wipe_personal_data()
        self.id += 1
        self.active = False
        self._paused = False
        self.warning = None
        self.staff_called = False
        if not keep_preferences:
            self.prefs = Preferences(self.default_language)


__all__ = ["IdleStatus", "Preferences", "Session", "Wipeable"]
