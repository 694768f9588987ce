"""One resident's whole card check, by touches on the real app: shared by the in-process UI test and the
frame-interval probe (which runs it in a subprocess with Kivy's mock GL backend)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kivy.clock import Clock

from drivers.mynumber.verifier import RevocationAnswer
from kiosk.app.wiring import Runtime
from kiosk.core.view import ReaderState, Screen
from kiosk.ui.frames import settle
from tests.ui.helpers import find, tap

ADULT_PIN = "1234"  # config/cards/adult.toml (synthetic resident)
WAIT_FRAMES = 60 * 60  # card I/O with the real-card delay preset takes seconds, not frames


class GoodRevocation:
    """The central server's answer for a card that was not revoked (no server in these runs)."""

    def check(self, certificate: Any) -> RevocationAnswer:
        return RevocationAnswer("good")


@dataclass
class FrameLog:
    """Clock callback timestamps on every frame: the longest gap is the longest the UI was unresponsive."""

    stamps: list[float] = field(default_factory=list)
    marks: dict[str, int] = field(default_factory=dict)
    _event: Any = None

    def start(self) -> None:
        self._event = Clock.schedule_interval(lambda _dt: self.stamps.append(time.perf_counter()), 0)

    def stop(self) -> None:
        if self._event is not None:
            self._event.cancel()

    def mark(self, name: str) -> None:
        self.marks[name] = len(self.stamps)

    def longest(self, since: str | None = None) -> float:
        first = self.marks.get(since, 0) if since else 0
        stamps = self.stamps[first:]
        return max((b - a for a, b in itertools.pairwise(stamps)), default=0.0)


def on(runtime: Runtime, screen: Screen) -> Any:
    return (lambda: runtime.app.view is not None and runtime.app.view.screen is screen), WAIT_FRAMES


def insert_from_tray(runtime: Runtime, profile: str) -> Iterator[Any]:
    """Put a synthetic resident's card on the reader with the header's demo tray, by touch."""
    app = runtime.app
    tab = find(app.root, lambda w: w.__class__.__name__ == "DemoTab")[0]
    yield from tap(tab)
    tray = app.overlay("tray")
    button = next(b for b in tray.ids.grid.children if b.text == profile)
    yield from tap(button)


def type_on_pad(runtime: Runtime, digits: str) -> Iterator[Any]:
    """Type on the PIN pad on screen and press OK."""
    app = runtime.app
    yield from settle(app.root)
    pad = {key.text: key for key in app.root.current.ids.entry.ids.pad.children}
    for digit in digits:
        yield from tap(pad[digit])
    yield (lambda: app.view.pin is not None and app.view.pin.entered == len(digits)), WAIT_FRAMES
    yield from settle(app.root)
    yield from tap(app.root.current.ids.submit)


def start_card_check(runtime: Runtime) -> Iterator[Any]:
    app = runtime.app
    yield from settle(app.root)
    yield (lambda: app.view is not None and app.view.reader is ReaderState.READY), WAIT_FRAMES
    yield 30  # let the screen prebuild finish (it runs one screen per frame at start)
    yield from tap(app.root.current.task_button("card_check"))
    yield on(runtime, Screen.INSERT_CARD)
    yield from settle(app.root)


def card_check(runtime: Runtime, log: FrameLog) -> Iterator[Any]:
    app = runtime.app
    yield from settle(app.root)
    yield (lambda: app.view is not None and app.view.reader is ReaderState.READY), WAIT_FRAMES
    yield 30  # let the screen prebuild finish (it runs one screen per frame at start)
    log.start()
    log.mark("attract")
    yield from tap(app.root.current.task_button("card_check"))
    yield on(runtime, Screen.INSERT_CARD)
    yield from settle(app.root)
    tab = find(app.root, lambda w: w.__class__.__name__ == "DemoTab")[0]
    yield from tap(tab)
    tray = app.overlay("tray")
    adult = next(b for b in tray.ids.grid.children if b.text == "adult")
    log.mark("insert")
    yield from tap(adult)
    yield on(runtime, Screen.PIN_ENTRY)
    yield from settle(app.root)
    pad = {key.text: key for key in app.root.current.ids.entry.ids.pad.children}
    for digit in ADULT_PIN:
        yield from tap(pad[digit])
    yield (lambda: app.view.pin is not None and app.view.pin.entered == len(ADULT_PIN)), WAIT_FRAMES
    yield from settle(app.root)
    log.mark("submit")
    yield from tap(app.root.current.ids.submit)
    yield on(runtime, Screen.RESULT)
    yield from settle(app.root)
    log.mark("result")
    yield 10
    log.stop()
