"""Pictures drawn with canvas instructions (no image files): they follow the theme, including high contrast."""

from __future__ import annotations

from kivy.uix.widget import Widget

from kiosk.ui.kv import load_sibling_kv


class CardPicture(Widget):
    """A card lying on a reader."""


load_sibling_kv(__file__)
