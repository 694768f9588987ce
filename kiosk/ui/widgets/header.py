"""The top bar: reader status (always visible), the language switch, and the hidden staff corner.

The reader status is on every screen because "nothing happens" is the most common kiosk complaint: a
resident (or the clerk walking by) must see at a glance whether the reader is there and sees the card.
"""

from __future__ import annotations

from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from kiosk.ui.kv import load_sibling_kv, release

STAFF_HOLD_SECONDS = 3.0

# Reader states that need attention draw the warning symbol and the "bad" colour.
TROUBLE_STATES = frozenset({"no_reader", "reader_lost", "not_my_number", "service_down"})


class StaffCorner(Widget):
    """An unmarked corner: holding it for three seconds opens the staff exit dialog (and nothing else).

    A long hold on an empty corner is something residents do not do by accident, and it needs no
    hardware key; the staff PIN behind it is the real lock.
    """

    hold_seconds = NumericProperty(STAFF_HOLD_SECONDS)

    def __init__(self, **kwargs: object) -> None:
        self.register_event_type("on_staff_hold")
        super().__init__(**kwargs)
        self._pending = None

    def on_touch_down(self, touch):
        if not self.collide_point(*touch.pos):
            return False
        touch.grab(self)
        self._pending = Clock.schedule_once(lambda _dt: self.dispatch("on_staff_hold"), self.hold_seconds)
        return False  # let the touch reach the rest (it also counts as activity)

    def on_touch_up(self, touch):
        if touch.grab_current is self:
            touch.ungrab(self)
            if self._pending is not None:
                self._pending.cancel()
                self._pending = None
        return False

    def on_staff_hold(self) -> None:
        self._pending = None


class ReaderStatus(BoxLayout):
    state = StringProperty("no_reader")
    trouble = BooleanProperty(True)

    def on_state(self, _instance: object, value: str) -> None:
        self.trouble = value in TROUBLE_STATES


class HeaderBar(BoxLayout):
    reader = StringProperty("no_reader")
    demo = BooleanProperty(False)

    def on_demo(self, _instance: object, demo: bool) -> None:
        """The demo tab exists only in demo mode (added, not hidden, so it takes no space otherwise)."""
        from kivy.factory import Factory

        existing = [w for w in self.children if w.__class__.__name__ == "DemoTab"]
        if demo and not existing:
            self.add_widget(Factory.DemoTab(), index=1)
        for widget in existing if not demo else ():
            self.remove_widget(widget)
            release(widget)


load_sibling_kv(__file__)
