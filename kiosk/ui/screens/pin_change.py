"""One PIN of a PIN change: the current PIN, or the new one twice — on the number pad for the 4-digit PINs,
on a keyboard of exactly A–Z and 0–9 for the sign PIN (``InputView.keys``). Only dots are drawn."""

from __future__ import annotations

from kivy.properties import BooleanProperty

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


class PinChangeScreen(KioskScreen):
    screen = Screen.PIN_CHANGE
    letters = BooleanProperty(False)  # the sign PIN's keyboard instead of the number pad

    def render(self, view: ViewState) -> None:
        self.letters = bool(view.pin is not None and view.pin.keys and not set(view.pin.keys) <= set("0123456789"))
        super().render(view)

    def speech(self, view: ViewState) -> Speech:
        lines = self.message(view)
        if view.pin is not None and view.pin.error_key:
            lines.append((view.pin.error_key, dict(view.pin.error_args)))
        if view.pin is not None and view.pin.note_key:
            lines.append((view.pin.note_key, dict(view.pin.note_args)))
        lines.append(("pin.shield", {}))
        return lines


load_sibling_kv(__file__)
