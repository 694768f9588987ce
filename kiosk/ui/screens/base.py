"""What every screen is: a widget that shows one ``ViewState`` and names what should be spoken.

Screens hold no state of their own beyond the last view they were given; ``reset`` drops it when the screen
is left, so a cached screen never keeps a previous resident's details or PIN length around.
"""

from __future__ import annotations

from typing import ClassVar

from kivy.properties import ObjectProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.widgets import load_all

load_all()  # widget rules first: kv rules apply in load order, and screen rules refine widget rules

Speech = list[tuple[str, dict]]  # (message key, arguments): never free text, never personal data


class Body(BoxLayout):
    """A screen's content: stacked in portrait, side by side in landscape — and then top-aligned (a plain
    horizontal BoxLayout would sit the shorter column at the bottom, far from where reading starts)."""

    def do_layout(self, *args: object) -> None:
        super().do_layout(*args)
        if self.orientation == "horizontal":
            top = self.top - self.padding[1]
            for child in self.children:
                child.top = top


class KioskScreen(BoxLayout):
    screen: ClassVar[Screen]
    view = ObjectProperty(None, allownone=True)

    def render(self, view: ViewState) -> None:
        self.view = view

    def reset(self) -> None:
        self.view = None

    def prewarm(self) -> None:
        """Optional: build what the first real render would otherwise build (see ``KioskRoot.prebuild_one``)."""

    def speech(self, view: ViewState) -> Speech:
        """The keys to read aloud when this screen appears (or its message changes)."""
        return []

    @staticmethod
    def message(view: ViewState) -> Speech:
        return [(view.message_key, dict(view.message_args))] if view.message_key else []


load_sibling_kv(__file__)
