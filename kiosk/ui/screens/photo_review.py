"""The photo taken: shown to the resident with the result of every automatic check and, when one failed,
what to change. The picture is personal data: its texture is dropped when the screen is left."""

from __future__ import annotations

import io

from kivy.core.image import Image as CoreImage
from kivy.graphics.texture import Texture
from kivy.properties import ObjectProperty

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import discard_children, load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


def jpeg_texture(jpeg: bytes | None) -> Texture | None:
    """The photo as a texture to draw (decoded in memory: it is never written anywhere)."""
    if not jpeg:
        return None
    try:
        return CoreImage(io.BytesIO(jpeg), ext="jpg").texture
    except Exception:  # a photo the UI cannot decode is shown as none (the checks already said why)
        return None


class PhotoReviewScreen(KioskScreen):
    screen = Screen.PHOTO_REVIEW
    photo_texture = ObjectProperty(None, allownone=True)

    def render(self, view: ViewState) -> None:
        jpeg = view.photo.jpeg if view.photo is not None else None
        if jpeg is not getattr(self, "_jpeg", None):
            self._jpeg = jpeg
            self.photo_texture = jpeg_texture(jpeg)
        super().render(view)
        fixes = self.ids.fixes
        discard_children(fixes)
        from kivy.app import App
        from kivy.factory import Factory

        for key in view.photo.problems if view.photo is not None else ():
            fixes.add_widget(Factory.FixRow(text=App.get_running_app().t(key)))

    def reset(self) -> None:
        self._jpeg = None
        self.photo_texture = None
        discard_children(self.ids.fixes)
        super().reset()

    def speech(self, view: ViewState) -> Speech:
        lines: Speech = [*self.message(view)]
        if view.photo is not None:
            lines += [(key, {}) for key in view.photo.problems]
        return lines


load_sibling_kv(__file__)
