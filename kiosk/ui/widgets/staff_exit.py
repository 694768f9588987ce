"""The staff exit dialog behind the hidden corner: a digit pad, masked entry, and the PIN check.

The check (PBKDF2) runs on a short-lived thread so the UI keeps drawing; the typed digits live in a
bytearray that is zeroed as soon as the check is done or the dialog closes.
"""

from __future__ import annotations

import threading

from kivy.clock import Clock
from kivy.properties import NumericProperty, ObjectProperty, StringProperty

from kiosk.ui.keys import STAFF_TEXTS
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.staff import MAX_LENGTH, StaffExitGuard
from kiosk.ui.widgets.overlay import Overlay


class StaffExitDialog(Overlay):
    guard = ObjectProperty(None, allownone=True)  # StaffExitGuard
    entered = NumericProperty(0)
    message = StringProperty("")

    def __init__(self, **kwargs: object) -> None:
        self.register_event_type("on_exit_confirmed")
        super().__init__(**kwargs)
        self._digits = bytearray()
        self._checking = False

    def on_guard(self, _instance: object, guard: StaffExitGuard | None) -> None:
        self.message = STAFF_TEXTS["exit.prompt"] if guard and guard.enabled else STAFF_TEXTS["exit.disabled"]

    def digit(self, digit: str) -> None:
        if len(self._digits) < MAX_LENGTH and not self._checking:
            self._digits += digit.encode("ascii")
            self.entered = len(self._digits)

    def backspace(self) -> None:
        if self._digits and not self._checking:
            self._digits[-1] = 0
            del self._digits[-1]
            self.entered = len(self._digits)

    def submit(self) -> None:
        guard = self.guard
        if guard is None or self._checking:
            return
        if guard.locked():
            self.message = STAFF_TEXTS["exit.locked"]
            return
        pin = self._digits.decode("ascii")
        self._wipe()
        self._checking = True

        def check() -> None:
            ok = guard.check(pin)
            Clock.schedule_once(lambda _dt: self._checked(ok), 0)

        threading.Thread(target=check, name="staff-exit-check", daemon=True).start()

    def _checked(self, ok: bool) -> None:
        self._checking = False
        if ok:
            self.dispatch("on_exit_confirmed")
            return
        locked = self.guard is not None and self.guard.locked()
        self.message = STAFF_TEXTS["exit.locked" if locked else "exit.wrong"]

    def close(self) -> None:
        self._wipe()
        if self.parent is not None:
            self.parent.remove_widget(self)

    def _wipe(self) -> None:
        for i in range(len(self._digits)):
            self._digits[i] = 0
        self._digits.clear()
        self.entered = 0

    def on_exit_confirmed(self) -> None:
        pass


load_sibling_kv(__file__)
