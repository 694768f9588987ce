"""The pickup's clerk-facing steps around the card: the application (name, birth date, photo), the new
card's checks, and the pickup interrupted by a pulled card (which PINs were and were not set).

The name, birth date and photo are personal data: they are drawn from the view and dropped (texture too)
when the screen is left; nothing is cached across pickups.
"""

from __future__ import annotations

from kivy.properties import ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

import kiosk.ui.screens.result  # noqa: F401 - loads the StatusMark kv rule that PickupCheckRow uses
from kiosk.core.view import PickupView, Screen, ViewState
from kiosk.ui.kv import discard_children, load_sibling_kv, release
from kiosk.ui.screens.base import KioskScreen, Speech
from kiosk.ui.screens.photo_review import jpeg_texture


class PickupCheckRow(BoxLayout):
    name = StringProperty("")
    status = StringProperty("not_checked")
    reason_key = StringProperty("")


def fill_checks(container: BoxLayout, pickup: PickupView | None) -> None:
    """One row per check, in the view's order (rows are reused)."""
    checks = pickup.checks if pickup is not None else ()
    rows = list(reversed(container.children))
    while len(rows) > len(checks):
        row = rows.pop()
        container.remove_widget(row)
        release(row)
    while len(rows) < len(checks):
        rows.append(PickupCheckRow())
        container.add_widget(rows[-1])
    for row, check in zip(rows, checks, strict=True):
        row.name, row.status, row.reason_key = check.name, check.status, check.reason_key or ""


def pin_list(t: object, names: tuple[str, ...], language: str = "en") -> str:
    """The PINs as one run of text: 、 between them in Japanese and Chinese, a comma elsewhere."""
    from kiosk.ui.text import as_label, pin_name_key

    if not callable(t):
        return ""
    separator = "、" if language in ("ja", "ja-easy", "zh-Hans") else ", "
    return separator.join(as_label(str(t(pin_name_key(name)))) for name in names) or str(
        t("pickup.stopped.none"))


def _status(view: ViewState | None, name: str) -> str | None:
    pickup = view.pickup if view is not None else None
    return next((c.status for c in pickup.checks if c.name == name), None) if pickup is not None else None


def identity_passed(view: ViewState | None) -> bool:
    """The card on the reader is the one issued for this pickup (else the clerk can only cancel)."""
    return _status(view, "card_identity") == "passed"


def certificates_passed(view: ViewState | None) -> bool:
    return _status(view, "card_verified") == "passed"


class PickupApplicationScreen(KioskScreen):
    screen = Screen.PICKUP_APPLICATION
    photo_texture = ObjectProperty(None, allownone=True)

    def render(self, view: ViewState) -> None:
        photo = view.pickup.application_photo if view.pickup is not None else None
        if photo is not getattr(self, "_photo", None):
            self._photo = photo
            self.photo_texture = jpeg_texture(photo)
        super().render(view)

    def reset(self) -> None:
        self._photo = None
        self.photo_texture = None
        super().reset()

    def speech(self, view: ViewState) -> Speech:
        return [("pickup.application.title", {}), *self.message(view)]


class ChecksScreen(KioskScreen):
    """A screen with the pickup's check rows (``ids.checks``); ``title_key`` is what it says first."""

    title_key = "pickup.checks.title"

    def render(self, view: ViewState) -> None:
        super().render(view)
        fill_checks(self.ids.checks, view.pickup)

    def reset(self) -> None:
        discard_children(self.ids.checks)
        super().reset()

    def speech(self, view: ViewState) -> Speech:
        return [(self.title_key, {}), *self.message(view)]


class PickupChecksScreen(ChecksScreen):
    screen = Screen.PICKUP_CHECKS


class PickupStoppedScreen(KioskScreen):
    screen = Screen.PICKUP_STOPPED

    def speech(self, view: ViewState) -> Speech:
        return [("pickup.stopped.title", {}), *self.message(view)]


load_sibling_kv(__file__)
