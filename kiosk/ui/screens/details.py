"""Contact e-mail (optional), the electronic certificates (none under 15) and the braille name (optional)."""

from __future__ import annotations

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


class DetailsScreen(KioskScreen):
    screen = Screen.DETAILS

    def speech(self, view: ViewState) -> Speech:
        return [("details.apply.title", {})]


load_sibling_kv(__file__)
