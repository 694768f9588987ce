"""The 23-digit application ID on the keypad: the digits shown in groups of four, as the form prints them."""

from __future__ import annotations

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


class IdKeypadScreen(KioskScreen):
    screen = Screen.ID_KEYPAD

    def speech(self, view: ViewState) -> Speech:
        lines: Speech = [("id.keypad.title", {})]
        if view.pin is not None and view.pin.error_key:
            lines.append((view.pin.error_key, dict(view.pin.error_args)))
        return lines


load_sibling_kv(__file__)
