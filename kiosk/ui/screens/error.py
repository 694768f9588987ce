"""Something went wrong that the resident can act on (wrong card, reader problem): say what, offer a restart."""

from __future__ import annotations

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


class ErrorScreen(KioskScreen):
    screen = Screen.ERROR

    def speech(self, view: ViewState) -> Speech:
        return [("error.title", {}), *self.message(view)]


load_sibling_kv(__file__)
