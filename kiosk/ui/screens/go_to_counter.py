"""Sent to the counter (one try left at an unattended kiosk, a blocked PIN, …): why, and what to do now."""

from __future__ import annotations

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


class GoToCounterScreen(KioskScreen):
    screen = Screen.GO_TO_COUNTER

    def speech(self, view: ViewState) -> Speech:
        return [("counter.title", {}), *self.message(view), ("counter.hint", {})]


load_sibling_kv(__file__)
