"""Building blocks every screen uses: wrapped labels, big themed buttons, rows of equal height, panels.

Buttons grow with their text instead of clipping it: in long Portuguese or at large-text size a label must
wrap onto a second line, never be cut off, because a cut-off instruction is a lost resident.

Kivy keeps BOTH bindings when a class rule and a usage site bind the same property (whichever fires last
wins), so every look a usage site may change is a plain property here (``role``, ``tone``, ``frame``,
``scale``, ``wrap``, ``touch_scale``) and the derived values (font size, colour, text size, height) are
bound in exactly one place: the class rule in ``base.kv``.

Both text widgets draw their text through ``kiosk.typeset.linebreak`` (kinsoku shori): Kivy alone would wrap
Japanese and Chinese at any character, starting lines with "。" or "ー". ``text`` stays exactly what the
caller set (tests, speech and the layout signature read it); only the core label that draws gets the
text with line breaks, ``shown_text``.
"""

from __future__ import annotations

from collections.abc import Hashable

from kivy.properties import BooleanProperty, NumericProperty, OptionProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import ButtonBehavior
from kivy.uix.label import Label
from kivy.uix.widget import Widget

from kiosk.typeset.linebreak import BreakCache
from kiosk.ui.kv import load_sibling_kv

ROLES = ("primary", "secondary", "danger", "staff", "toggle")
TEXT_ROLES = ("small", "body", "button", "title", "huge")
TONES = ("text", "muted", "ok", "warn", "bad", "staff_fg", "primary_fg")
FRAMES = ("none", "notice", "band")


# One cache for every label and button: the same sentence at the same width and font is broken once.
LINE_BREAKS = BreakCache()


class LineBreaking:
    """Mixin for Label subclasses: the drawn text gets kinsoku-correct line breaks for the wrapping width.

    Kivy renders from its core label's ``text``, which ``Label`` copies from ``text`` on every change and
    then re-renders in ``texture_update`` (Kivy triggers that for any change of text, ``text_size``,
    font, size or padding). Replacing the core label's text at that one point re-breaks on every such
    change and leaves the widget's ``text`` untouched.
    """

    language = StringProperty("")  # the text's language (phrase model); kv binds it to app.language

    def on_language(self, *_: object) -> None:
        self._trigger_texture()

    @property
    def shown_text(self) -> str:
        """What is drawn: ``text`` with line breaks (unchanged for Latin text, markup or no wrap width)."""
        width = self.text_size[0]
        label = self._label
        if width is None or label is None or self.markup or self.shorten or not self.text:
            return self.text
        available = width - self.padding[0] - self.padding[2]  # Kivy lays text out inside the padding
        label.resolve_font_name()  # measure with the font the next render will use (bold changes the file)
        key: Hashable = (label.options.get("font_name_r"), self.font_size, self.bold, self.italic,
                         self.font_hinting, self.font_kerning, self.font_features)
        return LINE_BREAKS.get(self.text, available, lambda s: label.get_extents(s)[0], self.language, key)

    def texture_update(self, *largs: object) -> None:
        if self._label is not None and not self.markup:
            self._label.text = self.shown_text
        super().texture_update(*largs)


class KioskLabel(LineBreaking, Label):
    """A label that wraps to its width and is exactly as tall as its text (0 when empty)."""

    role = OptionProperty("body", options=TEXT_ROLES)
    scale = NumericProperty(1.0)
    tone = OptionProperty("text", options=TONES)
    strong = BooleanProperty(False)
    frame = OptionProperty("none", options=FRAMES)  # "notice": a bordered box; "band": a staff-coloured band
    inset = NumericProperty(0)  # inner horizontal/vertical space (framed labels)


class KioskButton(LineBreaking, ButtonBehavior, Label):
    """A large, themed, wrapping button; ``natural_height`` is the height its text needs (≥ touch target)."""

    role = OptionProperty("secondary", options=ROLES)
    text_role = OptionProperty("button", options=TEXT_ROLES)
    scale = NumericProperty(1.0)
    touch_scale = NumericProperty(1.0)  # minimum height in touch targets
    wrap = BooleanProperty(True)  # False: one line, the width follows the text (set the width yourself)
    active = BooleanProperty(False)  # for toggles: the mode is on
    natural_height = NumericProperty(0)
    # not offered on this screen now: invisible and deaf to touches (a disabled button is only faded, and a
    # screen's own ``opacity: 0`` loses against the disabled rule whenever ``disabled`` changes)
    hidden = BooleanProperty(False)
    # hidden and taking no room (height 0). Set here, not as a usage site's ``height: … else 0``: the class
    # rule's height binding fires again whenever the text's natural height changes and would win
    collapsed = BooleanProperty(False)

    def on_touch_down(self, touch: object) -> bool:
        if self.hidden or self.collapsed:
            return False
        return bool(super().on_touch_down(touch))


class KinsokuLabel(LineBreaking, Label):
    """A plain Label (no theme rule) whose Japanese/Chinese lines break correctly: for usage sites that
    style a Label themselves (``text_size: self.width, None``) instead of using KioskLabel."""


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
