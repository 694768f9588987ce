"""Before the handover (every check, the documents collected, a supervisor's approval when a required check
did not pass) and after it (recorded on the kiosk, then delivered to the central server)."""

from __future__ import annotations

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech
from kiosk.ui.screens.pickup_card import ChecksScreen


class PickupFinishScreen(ChecksScreen):
    screen = Screen.PICKUP_FINISH
    title_key = "pickup.finish.title"


def collected(view: ViewState | None, item: str) -> bool:
    pickup = view.pickup if view is not None else None
    return bool(pickup and dict(pickup.collected).get(item))


def blocked(view: ViewState | None) -> bool:
    """A required check did not pass and no supervisor approved: the handover button is not offered."""
    pickup = view.pickup if view is not None else None
    return bool(pickup and pickup.needs_override and not pickup.override_reason)


class PickupDoneScreen(KioskScreen):
    screen = Screen.PICKUP_DONE

    def speech(self, view: ViewState) -> Speech:
        return [("pickup.done.title", {})]


load_sibling_kv(__file__)
