"""An on-screen keyboard that offers only the characters the input accepts (``InputView.keys``).

What is typed never lives here: a key posts ``PinDigit(char)`` (the event of every pad) and the flow's
input model keeps, checks and shows it. Letters the input cannot take are simply absent — a resident
cannot type what would be refused.
"""

from __future__ import annotations

from kivy.properties import ListProperty, NumericProperty
from kivy.uix.gridlayout import GridLayout

from kiosk.core.events import PinDigit
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.widgets.base import KioskButton


class KeyboardKey(KioskButton):
    pass


class Keyboard(GridLayout):
    keys = ListProperty([])
    columns = NumericProperty(10)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._built: tuple[str, ...] | None = None
        self._keys: dict[str, KeyboardKey] = {}  # made once, reused (see PinPad: kivy/kivy#3305)
        self.bind(keys=self._rebuild)
        self._rebuild()

    def _rebuild(self, *_: object) -> None:
        order = tuple(self.keys)
        if order == self._built:
            return
        self._built = order
        self.clear_widgets()
        for char in order:
            key = self._keys.get(char)
            if key is None:
                key = self._keys[char] = KeyboardKey(text=char)
                key.bind(on_release=lambda button: _post(PinDigit(button.text)))
            self.add_widget(key)


def _post(event: object) -> None:
    from kivy.app import App

    App.get_running_app().post(event)


load_sibling_kv(__file__)
