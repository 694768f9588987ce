"""May this card be renewed here, now? The certificate's renewal window in plain words, and the way on.

Eligible: "renew with this card" (continue to the photo). Not yet: the day renewal opens. Expired or a
certificate that failed its checks: the form or the counter instead — no PIN is asked for.
"""

from __future__ import annotations

from kivy.properties import BooleanProperty

from kiosk.core.application_keys import RENEWAL_STATUS_KEYS, RENEWAL_TITLE
from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech


def status_text(t: object, view: ViewState | None) -> str:
    """The sentence for the card in the reader, with its dates."""
    renewal = view.renewal if view is not None else None
    if renewal is None or not callable(t):
        return ""
    key = RENEWAL_STATUS_KEYS.get(renewal.status, RENEWAL_STATUS_KEYS["not_genuine"])
    return str(t(key, expires=renewal.expires or "", opens=renewal.opens or ""))


class RenewalCheckScreen(KioskScreen):
    screen = Screen.RENEWAL_CHECK
    eligible = BooleanProperty(False)

    def on_view(self, _instance: object, view: ViewState | None) -> None:
        self.eligible = bool(view and view.renewal and view.renewal.status == "eligible")

    def speech(self, view: ViewState) -> Speech:
        renewal = view.renewal
        if renewal is None:
            return [(RENEWAL_TITLE, {})]
        key = RENEWAL_STATUS_KEYS.get(renewal.status, RENEWAL_STATUS_KEYS["not_genuine"])
        return [(RENEWAL_TITLE, {}), (key, {"expires": renewal.expires or "", "opens": renewal.opens or ""})]


load_sibling_kv(__file__)
