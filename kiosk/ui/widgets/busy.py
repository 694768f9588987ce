""""Keep the card still" with a moving bar while the card is being read.

Contactless reads take seconds and fail when the card moves; a still screen looks frozen and makes people
lift the card. The bar moves on every frame (driven by Kivy's clock, never by the card thread), which also
shows at a glance that the UI thread is alive.
"""

from __future__ import annotations

from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.ui.kv import load_sibling_kv

CYCLE_SECONDS = 1.6


class BusyIndicator(BoxLayout):
    active = BooleanProperty(False)
    phase = NumericProperty(0.0)  # 0..1 along the track

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._tick = None

    def on_active(self, _instance: object, active: bool) -> None:
        if active and self._tick is None:
            self._tick = Clock.schedule_interval(self._advance, 1 / 30)
        elif not active and self._tick is not None:
            self._tick.cancel()
            self._tick = None

    def _advance(self, dt: float) -> None:
        self.phase = (self.phase + dt / CYCLE_SECONDS) % 1.0


load_sibling_kv(__file__)
