"""The clerk's visual check: the card's face photo (from the card surface, JPEG 2000 decoded by the driver)
beside the application's photo, and the question "is this the person in both photos?"."""

from __future__ import annotations

import io

from kivy.core.image import Image as CoreImage
from kivy.graphics.texture import Texture
from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech
from kiosk.ui.screens.photo_review import jpeg_texture


def png_texture(png: bytes | None) -> Texture | None:
    """The card's face photo (PNG from ``SurfaceEntries.face_png``), decoded in memory only."""
    if not png:
        return None
    try:
        return CoreImage(io.BytesIO(png), ext="png").texture
    except Exception:  # an undecodable photo shows as "no photo"
        return None


class FacePhoto(BoxLayout):
    label = StringProperty("")
    texture = ObjectProperty(None, allownone=True)


class PickupCompareScreen(KioskScreen):
    screen = Screen.PICKUP_COMPARE
    application_texture = ObjectProperty(None, allownone=True)
    card_texture = ObjectProperty(None, allownone=True)

    def render(self, view: ViewState) -> None:
        pickup = view.pickup
        photo = pickup.application_photo if pickup is not None else None
        face = pickup.card_face_png if pickup is not None else None
        if photo is not getattr(self, "_photo", None):
            self._photo = photo
            self.application_texture = jpeg_texture(photo)
        if face is not getattr(self, "_face", None):
            self._face = face
            self.card_texture = png_texture(face)
        super().render(view)

    def reset(self) -> None:
        self._photo = self._face = None
        self.application_texture = self.card_texture = None
        super().reset()

    def speech(self, view: ViewState) -> Speech:
        return [("pickup.compare.title", {}), *self.message(view)]


load_sibling_kv(__file__)
