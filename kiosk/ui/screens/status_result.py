"""Where an application is, in plain words with the next step (from the central server)."""

from __future__ import annotations

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


class StatusResultScreen(KioskScreen):
    screen = Screen.STATUS_RESULT

    def speech(self, view: ViewState) -> Speech:
        return [(view.status.status_key, {})] if view.status is not None else []


load_sibling_kv(__file__)
