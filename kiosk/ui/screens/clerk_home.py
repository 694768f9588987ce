"""The counter's home: look up a pickup by the notice number or the application ID (typed on the keypad or
read by the scanner), and the open "call staff" requests of the office's kiosks, each with "on my way"."""

from __future__ import annotations

from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import discard_children, load_sibling_kv, release
from kiosk.ui.screens.base import KioskScreen, Speech


class CallRow(BoxLayout):
    call_id = StringProperty("")
    kiosk_id = StringProperty("")
    age_seconds = NumericProperty(0)
    acknowledged = BooleanProperty(False)


class ClerkHomeScreen(KioskScreen):
    screen = Screen.CLERK_HOME

    def render(self, view: ViewState) -> None:
        super().render(view)
        calls = view.clerk.staff_calls if view.clerk is not None else ()
        box = self.ids.calls
        rows = [child for child in box.children if isinstance(child, CallRow)]
        while len(rows) > len(calls):
            row = rows.pop()
            box.remove_widget(row)
            release(row)
        while len(rows) < len(calls):
            rows.append(CallRow())
            box.add_widget(rows[-1])
        for row, call in zip(reversed(box.children), calls, strict=True):
            row.call_id, row.kiosk_id, row.age_seconds = call.call_id, call.kiosk_id, call.age_seconds
            row.acknowledged = call.status == "acknowledged"

    def reset(self) -> None:
        discard_children(self.ids.calls)
        super().reset()

    def speech(self, view: ViewState) -> Speech:
        return [("clerk.home.title", {}), *self.message(view)]


load_sibling_kv(__file__)
