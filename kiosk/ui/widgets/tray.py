"""Demo mode only: a tray of sample (synthetic) residents to put on and take off the simulated reader.

The tray calls the runtime's ``DemoCards`` object, which hands the request to the card service's worker;
nothing here touches a card. It is a staff/training tool, so its labels are fixed (Japanese + English).
"""

from __future__ import annotations

from typing import Protocol

from kivy.properties import ListProperty, ObjectProperty

from kiosk.ui.kv import discard_children, load_sibling_kv
from kiosk.ui.widgets.overlay import Overlay


class DemoCards(Protocol):
    """What the runtime offers the tray: names of sample cards, and non-blocking insert/remove."""

    def profiles(self) -> list[str]: ...

    def insert(self, profile: str) -> None: ...

    def remove(self) -> None: ...


class DemoTray(Overlay):
    cards = ObjectProperty(None, allownone=True)
    profiles = ListProperty([])

    def on_cards(self, _instance: object, cards: DemoCards | None) -> None:
        self.profiles = list(cards.profiles()) if cards is not None else []

    def on_kv_post(self, _base_widget: object) -> None:
        self.on_profiles(self, self.profiles)

    def on_profiles(self, _instance: object, profiles: list[str]) -> None:
        from kivy.factory import Factory

        grid = self.ids.get("grid")
        if grid is None:
            return  # the kv rule is not applied yet; on_kv_post fills the grid
        discard_children(grid)
        for name in profiles:
            button = Factory.KioskButton(role="secondary", text=name)
            button.bind(on_release=lambda _b, n=name: self.insert(n))
            grid.add_widget(button)

    def insert(self, profile: str) -> None:
        if self.cards is not None:
            self.cards.insert(profile)
        self.close()

    def remove(self) -> None:
        if self.cards is not None:
            self.cards.remove()
        self.close()

    def close(self) -> None:
        if self.parent is not None:
            self.parent.remove_widget(self)


load_sibling_kv(__file__)
