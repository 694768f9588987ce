"""The bottom bar on every screen: larger text, high contrast, spoken guidance, and "call staff".

It sits at the bottom because on a tall portrait kiosk the bottom is what a seated (wheelchair) user and
a short user can reach; "call staff" is the last resort and must be reachable from anywhere.
"""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.widgets.base import Column


class AssistBar(Column):
    """Portrait: the three toggles in a row and "call staff" full width below (the widest target on the
    screen); landscape: all four in one row, because vertical space is what landscape lacks."""

    large_text = BooleanProperty(False)
    high_contrast = BooleanProperty(False)
    speech = BooleanProperty(True)
    staff_called = BooleanProperty(False)
    staff_call = StringProperty("")  # "" | "sending" | "sent" | "failed" (ViewState.staff_call)
    portrait = BooleanProperty(True)

    def on_kv_post(self, _base_widget: object) -> None:
        self.on_portrait(self, self.portrait)

    def on_portrait(self, _instance: object, portrait: bool) -> None:
        call_staff, toggles = self.ids.get("call_staff"), self.ids.get("toggles")
        if call_staff is None or toggles is None:
            return  # the kv rule is still being applied; on_kv_post places it
        wanted = self if portrait else toggles
        if call_staff.parent is wanted:
            return
        if call_staff.parent is not None:
            call_staff.parent.remove_widget(call_staff)
        wanted.add_widget(call_staff, index=0)


load_sibling_kv(__file__)
