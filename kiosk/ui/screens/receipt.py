"""The application is stored: the kiosk's reference, the masked ID, and whether it has been sent yet.

The state follows the flusher: "queued" (safe on this kiosk, sent as soon as the network allows), then
"delivered". Nothing identifying is on it beyond the last digits of the ID.
"""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech

STATE_KEYS = {"queued": "receipt.state.queued", "delivered": "receipt.state.delivered",
              "refused": "receipt.state.refused"}
PRINT_KEYS = {"printing": "receipt.printing", "printed": "receipt.printed", "failed": "receipt.print_failed"}


class ReceiptScreen(KioskScreen):
    screen = Screen.RECEIPT
    printable = BooleanProperty(False)
    printing = StringProperty("")

    def on_view(self, _instance: object, view: ViewState | None) -> None:
        receipt = view.receipt if view is not None else None
        self.printable = bool(receipt and receipt.printable)
        self.printing = (receipt.printing or "") if receipt is not None else ""

    def speech(self, view: ViewState) -> Speech:
        receipt = view.receipt
        lines: Speech = [("receipt.title", {})]
        if receipt is not None:
            lines.append((STATE_KEYS.get(receipt.state, "receipt.state.queued"), {}))
            if receipt.printing in PRINT_KEYS:
                lines.append((PRINT_KEYS[receipt.printing], {}))
        return lines


load_sibling_kv(__file__)
