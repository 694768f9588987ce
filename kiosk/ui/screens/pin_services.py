"""The PIN services: the four PINs' tries (no try spent), changing one, what became of a change, and where
a locked PIN is reset (the slip). Only counts, names and message keys reach these screens, never a PIN."""

from __future__ import annotations

from kivy.app import App
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.core.view import PinServicesView, Screen, ViewState
from kiosk.ui import text as ui_text
from kiosk.ui.kv import discard_children, load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech
from kiosk.ui.screens.result import ExpiryRow, PinRow  # noqa: F401 - PinRow: its kv rule, for the rows here
from kiosk.ui.widgets.base import KioskButton, KioskLabel


def pin_label(pin: str) -> str:
    app = App.get_running_app()
    return ui_text.as_label(app.t(ui_text.pin_name_key(pin)))


class ChangeButton(KioskButton):
    """"Change: <this PIN>" (posts ``EditField(pin)``)."""

    pin = StringProperty("")


class PinServiceRow(BoxLayout):
    """One PIN's tries, and "change" when this kiosk may change it now (the button exists only then)."""

    pin = StringProperty("")
    changeable = BooleanProperty(False)
    tries = ObjectProperty(None, allownone=True)

    def on_kv_post(self, base_widget: object) -> None:
        if self.changeable:
            self.change = ChangeButton(pin=self.pin)
            self.add_widget(self.change)


class OutcomeRow(BoxLayout):
    """What became of one PIN: changed / not changed / unknown (never shown as a success), and why."""

    pin = StringProperty("")
    outcome = StringProperty("not_changed")
    line = ObjectProperty(None, allownone=True)


class AdviceBlock(BoxLayout):
    """One locked PIN on the slip: where it is reset, and what to bring."""

    advice = ObjectProperty(None, allownone=True)


class _ServicesScreen(KioskScreen):
    services = ObjectProperty(None, allownone=True)

    def render(self, view: ViewState) -> None:
        services = view.pin_services
        if services != self.services:
            self.services = services
            self._fill(services)
        super().render(view)

    def reset(self) -> None:
        self.services = None
        self._fill(None)
        super().reset()

    def _fill(self, services: PinServicesView | None) -> None:
        raise NotImplementedError


class PinServicesScreen(_ServicesScreen):
    screen = Screen.PIN_SERVICES

    def _fill(self, services: PinServicesView | None) -> None:
        rows = self.ids.rows
        discard_children(rows)
        for tries in services.pins if services else ():
            rows.add_widget(PinServiceRow(pin=tries.pin, tries=tries, changeable=tries.pin in services.changeable))
        expiries = self.ids.expiries
        discard_children(expiries)
        for line in services.expiries if services else ():
            expiries.add_widget(ExpiryRow(state=line.state, text=ui_text.expiry_text(App.get_running_app().t, line)))

    def speech(self, view: ViewState) -> Speech:
        return [("pin_service.menu", {}), *self.message(view)]


class PinChangeResultScreen(_ServicesScreen):
    screen = Screen.PIN_CHANGE_RESULT

    def _fill(self, services: PinServicesView | None) -> None:
        rows = self.ids.rows
        discard_children(rows)
        for line in services.results if services else ():
            rows.add_widget(OutcomeRow(pin=line.pin, outcome=line.outcome, line=line))

    def speech(self, view: ViewState) -> Speech:
        services = view.pin_services
        if services is None:
            return []
        lines: Speech = [(services.headline.key, dict(services.headline.args))] if services.headline else []
        lines += [(line.outcome_key, {}) for line in services.results]
        return lines


class PinResetGuideScreen(_ServicesScreen):
    screen = Screen.PIN_RESET_GUIDE

    def _fill(self, services: PinServicesView | None) -> None:
        blocks = self.ids.blocks
        discard_children(blocks)
        for advice in services.resets if services else ():
            block = AdviceBlock(advice=advice)
            for key, args in advice.bring:
                block.ids.bring.add_widget(KioskLabel(text="・" + App.get_running_app().t(key, **dict(args))))
            blocks.add_widget(block)

    def speech(self, view: ViewState) -> Speech:
        services = view.pin_services
        lines: Speech = [("pin_service.slip.title", {}), ("pin_service.reset.not_here", {})]
        for advice in services.resets if services else ():
            lines.append((advice.guide_key, dict(advice.guide_args)))
        return lines


load_sibling_kv(__file__)
