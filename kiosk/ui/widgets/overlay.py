"""A full-window layer with a scrim and a centred panel; touches never fall through to the screen below.

Overlays live inside the root widget (not Kivy's ModalView on the Window) so that screenshots of the
root, the tour and tests see exactly what a resident sees.
"""

from __future__ import annotations

from kivy.uix.floatlayout import FloatLayout

from kiosk.ui.kv import load_sibling_kv, release


class Overlay(FloatLayout):
    """Made anew each time it opens: once closed (taken off its layer) it is released (``kiosk.ui.kv``)."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("pos_hint", {"x": 0, "y": 0})  # fill the overlay layer, wherever it sits
        super().__init__(**kwargs)

    def on_parent(self, _instance: object, parent: object) -> None:
        if parent is None:
            release(self)

    def on_touch_down(self, touch):
        super().on_touch_down(touch)
        return True  # modal: nothing below reacts

    def on_touch_move(self, touch):
        super().on_touch_move(touch)
        return True

    def on_touch_up(self, touch):
        super().on_touch_up(touch)
        return True


load_sibling_kv(__file__)
