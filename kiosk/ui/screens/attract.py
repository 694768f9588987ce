"""The idle screen: what this kiosk does, one big start button, and every language at first sight."""

from __future__ import annotations

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


class AttractScreen(KioskScreen):
    screen = Screen.ATTRACT

    def speech(self, view: ViewState) -> Speech:
        return [("attract.title", {}), ("attract.subtitle", {})]


load_sibling_kv(__file__)
