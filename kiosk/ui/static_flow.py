"""A flow with no logic: it shows the view states it is given and records the events it receives.

The tour renders every screen from hand-made states with it, and UI tests use it to check that touches
turn into the right events without depending on the real flow's rules.
"""

from __future__ import annotations

from collections.abc import Callable

from kiosk.core.events import Event
from kiosk.core.view import ViewState


class StaticFlow:
    def __init__(self, state: ViewState) -> None:
        self._state = state
        self.events: list[Event] = []
        self._subscribers: list[Callable[[ViewState], None]] = []

    @property
    def state(self) -> ViewState:
        return self._state

    def handle(self, event: Event) -> None:
        self.events.append(event)

    def subscribe(self, callback: Callable[[ViewState], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def publish(self, state: ViewState) -> None:
        self._state = state
        for callback in list(self._subscribers):
            callback(state)
