"""Building blocks every screen uses: wrapped labels, big themed buttons, rows of equal height, panels.

Buttons grow with their text instead of clipping it: in long Portuguese or at large-text size a label must
wrap onto a second line, never be cut off, because a cut-off instruction is a lost resident.

Kivy keeps BOTH bindings when a class rule and a usage site bind the same property (whichever fires last
wins), so every look a usage site may change is a plain property here (``role``, ``tone``, ``frame``,
``scale``, ``wrap``, ``touch_scale``) and the derived values (font size, colour, text size, height) are
bound in exactly one place: the class rule in ``base.kv``.
"""

from __future__ import annotations

from kivy.properties import BooleanProperty, NumericProperty, OptionProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import ButtonBehavior
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.ui.kv import load_sibling_kv

ROLES = ("primary", "secondary", "danger", "staff", "toggle")
TEXT_ROLES = ("small", "body", "button", "title", "huge")
TONES = ("text", "muted", "ok", "warn", "bad", "staff_fg", "primary_fg")
FRAMES = ("none", "notice", "band")


class KioskLabel(Label):
    """A label that wraps to its width and is exactly as tall as its text (0 when empty)."""

    role = OptionProperty("body", options=TEXT_ROLES)
    scale = NumericProperty(1.0)
    tone = OptionProperty("text", options=TONES)
    strong = BooleanProperty(False)
    frame = OptionProperty("none", options=FRAMES)  # "notice": a bordered box; "band": a staff-coloured band
    inset = NumericProperty(0)  # inner horizontal/vertical space (framed labels)


class KioskButton(ButtonBehavior, Label):
    """A large, themed, wrapping button; ``natural_height`` is the height its text needs (≥ touch target)."""

    role = OptionProperty("secondary", options=ROLES)
    text_role = OptionProperty("button", options=TEXT_ROLES)
    scale = NumericProperty(1.0)
    touch_scale = NumericProperty(1.0)  # minimum height in touch targets
    wrap = BooleanProperty(True)  # False: one line, the width follows the text (set the width yourself)
    active = BooleanProperty(False)  # for toggles: the mode is on
    natural_height = NumericProperty(0)


class Row(BoxLayout):
    """A horizontal row whose height follows its tallest button, and whose buttons all share that height."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("orientation", "horizontal")
        kwargs.setdefault("size_hint_y", None)
        super().__init__(**kwargs)

    def add_widget(self, widget: Widget, *args: object, **kwargs: object) -> None:
        if hasattr(widget, "natural_height"):
            widget.bind(natural_height=self._fit)
        super().add_widget(widget, *args, **kwargs)
        self._fit()

    def remove_widget(self, widget: Widget, *args: object, **kwargs: object) -> None:
        if hasattr(widget, "natural_height"):
            widget.unbind(natural_height=self._fit)
        super().remove_widget(widget, *args, **kwargs)
        self._fit()

    def do_layout(self, *args: object) -> None:
        # Stretch here, not in add_widget: kv adds a child before applying the child's own rule (which
        # sets size_hint_y None for buttons), so only the layout pass sees the final value.
        for child in self.children:
            if child.size_hint_y != 1:
                child.size_hint_y = 1
        super().do_layout(*args)

    def _fit(self, *_: object) -> None:
        heights = [getattr(c, "natural_height", c.height) for c in self.children]
        self.height = max(heights, default=0) + self.padding[1] + self.padding[3]


class Column(BoxLayout):
    """A vertical stack as tall as its content (for use inside scroll views and centred panels)."""


class Panel(Column):
    """A surface with a border: groups a screen's content the way a paper form groups fields."""


load_sibling_kv(__file__)
