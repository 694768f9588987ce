"""The on-screen keyboard for the contact e-mail or the braille name: only the keys the field accepts."""

from __future__ import annotations

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


class TextEntryScreen(KioskScreen):
    screen = Screen.TEXT_ENTRY

    def speech(self, view: ViewState) -> Speech:
        editing = view.application.editing if view.application is not None else None
        return [("details.apply.braille" if editing == "braille" else "details.apply.email", {})]


load_sibling_kv(__file__)
