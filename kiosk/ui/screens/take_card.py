"""The session is over but the card is still on the reader: "take your card", said again and again.

A card left behind is the next person's to misuse, so nothing else can start until it is removed (the
shell ignores touches meanwhile). ``ViewState.reminder`` counts the reminders: each new count changes the
speech lines, so the guidance is spoken again.
"""

from __future__ import annotations

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


class TakeCardScreen(KioskScreen):
    screen = Screen.TAKE_CARD

    def speech(self, view: ViewState) -> Speech:
        return [("take_card.title", {"reminder": view.reminder}), ("take_card.hint", {})]


load_sibling_kv(__file__)
