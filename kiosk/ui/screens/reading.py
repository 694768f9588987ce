"""Card I/O in progress: "keep the card still", with motion so the screen never looks frozen."""

from __future__ import annotations

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


class ReadingScreen(KioskScreen):
    screen = Screen.READING

    def speech(self, view: ViewState) -> Speech:
        return [("reading.title", {}), ("card.keep_still", {})]


load_sibling_kv(__file__)
