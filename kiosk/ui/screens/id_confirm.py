"""Is this your application ID? A QR-read ID is shown but cannot be edited here (a typo cannot creep in)."""

from __future__ import annotations

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


class IdConfirmScreen(KioskScreen):
    screen = Screen.ID_CONFIRM

    def speech(self, view: ViewState) -> Speech:
        lines: Speech = [("id.confirm.title", {})]  # the number itself is never read aloud
        if view.id_entry is not None and view.id_entry.from_qr:
            lines.append(("id.confirm.from_qr", {}))
        return lines


load_sibling_kv(__file__)
