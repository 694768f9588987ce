"""PIN entry: which PIN, how many tries are left, the last error, and the pad.

The remaining tries are always on screen before the first digit, because a resident who knows "3 left"
types more carefully, and one who sees "1 left" is sent to the counter by the flow instead.
"""

from __future__ import annotations

from kivy.properties import BooleanProperty

from kiosk.core.messages import PIN_CARD_INFO
from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


class PinEntryScreen(KioskScreen):
    screen = Screen.PIN_ENTRY
    details_pin = BooleanProperty(False)  # the card-info PIN pad (asked for "show details")

    def render(self, view: ViewState) -> None:
        super().render(view)
        self.details_pin = view.message_key == PIN_CARD_INFO

    def speech(self, view: ViewState) -> Speech:
        pin = view.pin
        lines: Speech = [(view.message_key or "pin.auth", dict(view.message_args))]
        if pin and pin.error_key:
            lines.append((pin.error_key, dict(pin.error_args)))
        if pin and pin.remaining_tries is not None and pin.error_key != "pin.wrong":
            lines.append(("pin.remaining", {"remaining": pin.remaining_tries}))
        if pin and pin.note_key:
            lines.append((pin.note_key, dict(pin.note_args)))
        lines.append(("pin.shield", {}))
        return lines


load_sibling_kv(__file__)
