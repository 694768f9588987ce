"""The outcome: verified or not, each check in plain words, certificate expiry, PIN tries, and — only on
request — the card's details.

Details are personal data. They are drawn only while ``ResultView.details`` is present (after the resident
pressed "show"), never spoken, and their widgets are destroyed when the view no longer carries them or the
screen is left, so no texture of them outlives the session.
"""

from __future__ import annotations

from kivy.app import App
from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.core.view import ResultView, Screen, ViewState
from kiosk.ui import text as ui_text
from kiosk.ui.kv import discard_children, load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech
from kiosk.ui.widgets.base import KioskLabel


class CheckRow(BoxLayout):
    status = StringProperty("not_checked")
    message_key = StringProperty("")


class PinRow(BoxLayout):
    name_key = StringProperty("pinname.generic")
    remaining = NumericProperty(0)
    usable = NumericProperty(0)  # the tries the resident can use here (the last one is the counter's)
    maximum = NumericProperty(0)
    blocked = BooleanProperty(False)
    not_set = BooleanProperty(False)


class NoticeRow(KioskLabel):
    """One consequence with its next step, right under the headline (``ResultView.notices``)."""

    notice_tone = StringProperty("warn")


class ExpiryRow(KioskLabel):
    """One validity line (``ResultView.expiries``); an expired item is shown in the "bad" tone."""

    state = StringProperty("valid")


class DetailRow(BoxLayout):
    """One line of personal data; only ever built from ``ResultView.details``."""

    label_key = StringProperty("")
    value = StringProperty("")


class ResultScreen(KioskScreen):
    screen = Screen.RESULT
    result = ObjectProperty(None, allownone=True)
    details_button = BooleanProperty(True)  # "show details" only where a card-info PIN may be sent

    def render(self, view: ViewState) -> None:
        super().render(view)
        result = view.result
        newly_shown = bool(result and result.details) and not (self.result and self.result.details)
        if result is not self.result:
            self._fill(result)
        self.result = result
        self.details_button = bool(result and (result.details is not None or result.details_offered))
        if newly_shown:
            # the resident just typed a PIN to see them: bring them into view (after the layout pass)
            Clock.schedule_once(lambda _dt: self.ids.scroll.scroll_to(self.ids.details_panel, animate=False), 0)

    def reset(self) -> None:
        self._fill(None)
        self.result = None
        super().reset()

    def prewarm(self) -> None:
        """Create the rows a typical result needs before any card is read (part of the screen prebuild):
        applying kv rules to a dozen rows is the costliest part of showing the first result."""
        self._pool: dict[type, list] = {CheckRow: [CheckRow() for _ in range(12)], PinRow: [PinRow() for _ in range(4)]}

    def _rows(self, container: object, cls: type, count: int) -> list:
        """``count`` rows of ``cls`` in ``container``, reusing the rows already there and the warm pool."""
        pool = getattr(self, "_pool", {}).setdefault(cls, [])
        while len(container.children) > count:
            row = container.children[0]
            container.remove_widget(row)
            pool.append(row)
        while len(container.children) < count:
            container.add_widget(pool.pop() if pool else cls())
        return list(reversed(container.children))

    def _fill(self, result: ResultView | None) -> None:
        checks, pins, details = self.ids.checks, self.ids.pins, self.ids.details
        old = (self.result.checks, self.result.pins) if self.result else None
        new = (result.checks, result.pins) if result else None
        if old != new:
            lines = result.checks if result else ()
            for row, line in zip(self._rows(checks, CheckRow, len(lines)), lines, strict=True):
                row.status, row.message_key = line.status, line.message_key
            tries_list = result.pins if result else ()
            for row, tries in zip(self._rows(pins, PinRow, len(tries_list)), tries_list, strict=True):
                row.name_key = ui_text.pin_name_key(tries.pin)
                row.remaining, row.maximum = tries.remaining, tries.maximum
                row.usable = tries.usable if tries.usable is not None else tries.remaining
                row.blocked, row.not_set = tries.blocked, tries.not_set
        expiries = self.ids.expiries
        discard_children(expiries)
        for line in result.expiries if result else ():
            expiries.add_widget(ExpiryRow(state=line.state, text=ui_text.expiry_text(App.get_running_app().t, line)))
        notices = self.ids.notices
        discard_children(notices)
        for notice in result.notices if result else ():
            notices.add_widget(NoticeRow(notice_tone=notice.tone,
                                         text=ui_text.message(App.get_running_app().t, notice.key, notice.args)))
        # Personal data: rebuilt from scratch every time, removed as soon as the view drops it.
        discard_children(details)
        for label_key, value in (result.details or ()) if result else ():
            details.add_widget(DetailRow(label_key=label_key, value=value))

    def speech(self, view: ViewState) -> Speech:
        result = view.result
        if result is None:
            return []
        headline = result.headline
        lines: Speech = [(headline.key, dict(headline.args)) if headline else (
            "result.verified" if result.verified else "result.not_verified", {})]
        lines += [(notice.key, dict(notice.args)) for notice in result.notices]
        lines += self.message(view)
        if result.renewal_key:
            lines.append((result.renewal_key, {}))

        lines.append(("result.take_card", {}))
        return lines


load_sibling_kv(__file__)
