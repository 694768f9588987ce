""""Put your card on the reader": a picture first, words second, because many residents look, not read."""

from __future__ import annotations

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


class InsertCardScreen(KioskScreen):
    screen = Screen.INSERT_CARD

    def speech(self, view: ViewState) -> Speech:
        return [("insert.title", {}), ("insert.hint", {}), *self.message(view)]


load_sibling_kv(__file__)
