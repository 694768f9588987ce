"""Everything that will be sent, in one view, the consent, and "apply". Nothing is sent before this."""

from __future__ import annotations

from kivy.properties import ObjectProperty

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech
from kiosk.ui.screens.photo_review import jpeg_texture


class ReviewScreen(KioskScreen):
    screen = Screen.REVIEW
    photo_texture = ObjectProperty(None, allownone=True)

    def render(self, view: ViewState) -> None:
        jpeg = view.application.photo_jpeg if view.application is not None else None
        if jpeg is not getattr(self, "_jpeg", None):
            self._jpeg = jpeg
            self.photo_texture = jpeg_texture(jpeg)
        super().render(view)

    def reset(self) -> None:
        self._jpeg = None
        self.photo_texture = None
        super().reset()

    def speech(self, view: ViewState) -> Speech:
        return [("review.title", {}), ("review.consent_text", {}), *self.message(view)]


load_sibling_kv(__file__)
