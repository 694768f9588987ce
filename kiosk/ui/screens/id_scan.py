"""Reading the 申請書ID: the form's QR code held up to the camera (a frame shows where), a barcode scanner,
or — one tap away — the keypad. Used by the application and by the status lookup."""

from __future__ import annotations

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


class IdScanScreen(KioskScreen):
    screen = Screen.ID_SCAN

    def reset(self) -> None:
        self.ids.preview.clear()
        super().reset()

    def speech(self, view: ViewState) -> Speech:
        entry = view.id_entry
        title = "status.scan.title" if entry is not None and entry.purpose == "status" else "id.scan.title"
        lines: Speech = [(title, {}), ("id.scan.hint", {})]
        if entry is not None and entry.error_key:
            lines.insert(0, (entry.error_key, {}))
        return lines


load_sibling_kv(__file__)
