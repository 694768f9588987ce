"""The resident's panel at the counter: the resident chooses the card's PINs here, each entered twice.

This screen faces the resident, in the resident palette and language, and shows nothing of the application
(no name, no photo: the view carries none while it is up). The PIN is drawn as dots from its count only;
a 4-digit PIN on the number pad, the sign password (A–Z, 0–9) on a keyboard of exactly those keys. The
clerk's part of the screen is one line asking them to look away.
"""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech
from kiosk.ui.text import pin_name_key


def target_key(target: str | None) -> str:
    return pin_name_key(target or "")


class PinSetupScreen(KioskScreen):
    screen = Screen.PIN_SETUP
    target = StringProperty("")
    sign = BooleanProperty(False)

    def render(self, view: ViewState) -> None:
        target = view.pickup.pin_target if view.pickup is not None else None
        self.target = target or ""
        self.sign = target == "sign"
        super().render(view)

    def speech(self, view: ViewState) -> Speech:
        pickup = view.pickup
        if pickup is None or not pickup.pin_target:
            intro = "pickup.pins.intro_child" if pickup is not None and pickup.under_15 else "pickup.pins.intro"
            return [("pickup.pins.title", {}), (intro, {})]
        rule = "pickup.pins.rule_sign" if pickup.pin_target == "sign" else "pickup.pins.rule4"
        lines: Speech = [(target_key(pickup.pin_target), {}), (rule, {})]
        if view.pin is not None and view.pin.stage == 2:
            lines.append(("input.again", {}))
        if view.pin is not None and view.pin.error_key:
            lines.append((view.pin.error_key, dict(view.pin.error_args)))
        return lines


load_sibling_kv(__file__)
