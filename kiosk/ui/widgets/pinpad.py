"""On-screen PIN pad with fixed digit positions (or the flow's shuffled order) and masked dots.

Digits never live here: a press posts ``PinDigit`` and the flow answers with how many are entered
(``InputView.entered``, the input model of ``kiosk.core.input``) — the UI cannot leak what it never
holds. Only when the resident pressed "show" does the flow send the digits (``shown``), and only then
are they drawn.
"""

from __future__ import annotations

from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.gridlayout import GridLayout

from kiosk.core.events import PinBackspace, PinClear, PinDigit
from kiosk.core.input import PIN4, InputBuffer
from kiosk.ui.keys import SYMBOLS
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.widgets.base import KioskButton

DEFAULT_LAYOUT = InputBuffer(PIN4).view().keys


class DigitButton(KioskButton):
    pass


class PinActionButton(KioskButton):
    action = StringProperty("clear")  # "clear" | "backspace"


class PinPad(GridLayout):
    """3 × 4 keys: the first nine digits of ``layout`` row by row, then clear, the tenth digit, delete."""

    layout = ListProperty(list(DEFAULT_LAYOUT))

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._built: tuple[str, ...] | None = None
        # keys are made once and reused: a discarded Kivy widget whose kv rules still listen to the theme
        # can raise ReferenceError when the theme changes (kivy/kivy#3305)
        self._keys: dict[str, KioskButton] = {}
        self.bind(layout=self._rebuild)
        self._rebuild()

    def _rebuild(self, *_: object) -> None:
        order = tuple(self.layout)
        if order == self._built:
            return
        self._built = order
        self.clear_widgets()
        for digit in order[:9]:
            self.add_widget(self._digit(digit))
        self.add_widget(self._action("clear", PinClear))
        self.add_widget(self._digit(order[9]))
        self.add_widget(self._action("backspace", PinBackspace))
        self._even_rows()

    def _even_rows(self, *_: object) -> None:
        """Every key as tall as the tallest: a grid of equal keys is easier to aim at than a ragged one."""
        self.row_default_height = max((key.natural_height for key in self.children), default=0)

    def _digit(self, digit: str) -> KioskButton:
        button = self._keys.get(digit)
        if button is None:
            button = self._keys[digit] = DigitButton(text=digit)
            button.bind(on_release=lambda _b: _post(PinDigit(digit)), natural_height=self._even_rows)
        return button

    def _action(self, name: str, event: type) -> KioskButton:
        button = self._keys.get(f"action:{name}")
        if button is None:
            button = self._keys[f"action:{name}"] = PinActionButton(action=name)
            button.bind(on_release=lambda _b: _post(event()), natural_height=self._even_rows)
        return button


class PinDots(BoxLayout):
    entered = NumericProperty(0)
    length = NumericProperty(4)
    shown = ObjectProperty(None, allownone=True)
    cells = ListProperty([])

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._update()

    def on_entered(self, *_: object) -> None:
        self._update()

    def on_length(self, *_: object) -> None:
        self._update()

    def on_shown(self, *_: object) -> None:
        self._update()

    def _update(self) -> None:
        if self.shown is not None:
            digits = list(str(self.shown))
            self.cells = [digits[i] if i < len(digits) else "_" for i in range(int(self.length))]
        else:
            self.cells = [
                SYMBOLS["dot_filled"] if i < self.entered else SYMBOLS["dot_empty"] for i in range(int(self.length))
            ]

    def on_cells(self, _instance: object, cells: list[str]) -> None:
        from kivy.factory import Factory

        while len(self.children) < len(cells):
            self.add_widget(Factory.PinCell())
        while len(self.children) > len(cells):
            self.remove_widget(self.children[0])
        for label, text in zip(reversed(self.children), cells, strict=True):
            label.text = text


class PinEntryPanel(BoxLayout):
    """Dots + show/hide + the pad; ``complete`` tells the screen's OK button when it may be pressed."""

    pin = ObjectProperty(None, allownone=True)
    complete = BooleanProperty(False)
    default_layout = ListProperty(list(DEFAULT_LAYOUT))


def _post(event: object) -> None:
    from kivy.app import App

    App.get_running_app().post(event)


load_sibling_kv(__file__)
