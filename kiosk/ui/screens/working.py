"""Saving the application, checking the photo, asking the central server: a moment's wait, said in words."""

from __future__ import annotations

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


class WorkingScreen(KioskScreen):
    screen = Screen.WORKING

    def speech(self, view: ViewState) -> Speech:
        return self.message(view)


load_sibling_kv(__file__)
