"""The photo: the live picture with the face oval, what to change right now, a countdown, then the shot.

Guidance comes from the camera's live checks (``ViewState.photo.guidance``); only the first fix is shown
large and spoken, so the resident has one thing to do at a time.
"""

from __future__ import annotations

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


class PhotoScreen(KioskScreen):
    screen = Screen.PHOTO

    def reset(self) -> None:
        self.ids.preview.clear()
        super().reset()

    def speech(self, view: ViewState) -> Speech:
        photo = view.photo
        if photo is not None and photo.countdown is not None:
            return [("photo.hold_still", {})]
        lines: Speech = [("photo.title", {}), ("photo.hint", {}), *self.message(view)]
        if photo is not None and photo.guidance:
            lines = [(photo.guidance[0], {})]
        return lines


load_sibling_kv(__file__)
