"""The seam between threads, and time as something a test can hold still.

Workers (the card service, the network worker) never call a flow: they ``post`` an event, and the
dispatcher delivers it on the thread that owns the flows. In the app that is the Kivy UI thread (the UI
provides a dispatcher built on ``Clock.schedule_once``, which is safe to call from any thread); in tests
it is ``SyncDispatcher``, which delivers at once on the caller's thread so a test reads like a script.

Both keep one promise flows rely on: events are handled one at a time, in the order they were posted,
never nested. A handler that posts (a fake card service answering a job immediately, a flow reacting to
its own follow-up) gets its event queued behind the current one instead of re-entering the flow halfway
through a transition.

Time comes from an injected ``Clock`` (monotonic seconds), never from ``time`` directly, so idle and PIN
time-outs are tested by moving a ``FakeClock`` instead of sleeping.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from kiosk.core.events import Event

LOG = logging.getLogger(__name__)

Handler = Callable[[Event], None]


class Dispatcher(Protocol):
    """Delivers posted events to the flow, one at a time, in posting order, on the flow's thread.

    ``post`` may be called from any thread and must never block on the handler. How the handler is
    attached is the dispatcher's business: built around it (the UI's ``KivyDispatcher(flow.handle)``) or,
    when the dispatcher also offers ``connect(handler)`` (``SyncDispatcher``), the flow connects itself.
    """

    def post(self, event: Event) -> None: ...


class SyncDispatcher:
    """Runs handlers immediately on the posting thread; for tests and single-threaded tools.

    Re-entrancy safe: an event posted while another is being handled waits in a FIFO queue and is
    handled right after, so each handler sees whole transitions. Not thread-safe — a test that has a real
    worker thread collects events in a ``queue.Queue`` and replays them here on the test's thread.
    """

    def __init__(self, handler: Handler | None = None) -> None:
        self._handlers: list[Handler] = [handler] if handler is not None else []
        self._queue: deque[Event] = deque()
        self._delivering = False

    def connect(self, handler: Handler) -> None:
        """Add a handler; connecting the same one twice is a no-op (never a double delivery)."""
        if handler not in self._handlers:
            self._handlers.append(handler)

    def post(self, event: Event) -> None:
        self._queue.append(event)
        if self._delivering:
            return  # the outer post() delivers it when the current event is done
        self._delivering = True
        try:
            while self._queue:
                current = self._queue.popleft()
                for handler in list(self._handlers):
                    handler(current)
        finally:
            self._delivering = False

    @property
    def pending(self) -> int:
        """Events queued but not handled yet (non-zero only while a handler is running, or after it raised)."""
        return len(self._queue)


class Clock(Protocol):
    """Monotonic seconds: only differences mean anything (never a wall-clock date)."""

    def now(self) -> float: ...


class MonotonicClock:
    """The real clock: ``time.monotonic`` (immune to NTP steps and daylight-saving changes)."""

    def now(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that only moves when told to, so time-outs are tested exactly and instantly."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a monotonic clock never goes back")
        self._now += seconds
        return self._now


__all__ = ["Clock", "Dispatcher", "FakeClock", "Handler", "MonotonicClock", "SyncDispatcher"]
