"""Card I/O after the PIN: same reassurance as reading, different words."""

from __future__ import annotations

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


class VerifyingScreen(KioskScreen):
    screen = Screen.VERIFYING

    def speech(self, view: ViewState) -> Speech:
        return [("verifying.title", {}), ("card.keep_still", {})]


load_sibling_kv(__file__)
