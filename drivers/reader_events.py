"""Reader and card events, the same from every source of them: pcscd (``drivers.pcsc.CardWatcher``) or
the simulated tray (``drivers.sim.tray.SimulatedTray``).

A module of its own so that a consumer (the card service) can understand the events without importing
pyscard: this file imports nothing but the standard library. ``CardRemoved`` here is an *event*, not the
error ``drivers.errors.CardRemoved``.

Event order guarantees every source keeps, so a consumer can keep a simple model of the world:

* After ``start()``: ``ReaderAdded`` for every reader, then ``CardInserted`` for every card already in.
  If the service is down at start, the first event is ``ServiceLost``.
* Every ``CardInserted`` is eventually followed by ``CardRemoved`` for that reader (before its
  ``ReaderRemoved``).
* When the service goes away: ``CardRemoved`` / ``ReaderRemoved`` for everything known, then
  ``ServiceLost``. When it is back: ``ServiceRestored``, then the current readers and cards as above.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ReaderAdded:
    name: str


@dataclass(frozen=True, slots=True)
class ReaderRemoved:
    name: str


@dataclass(frozen=True, slots=True)
class CardInserted:
    """A card is in ``reader``. ``atr`` is empty for a mute card (present but not answering)."""

    reader: str
    atr: bytes


@dataclass(frozen=True, slots=True)
class CardRemoved:
    reader: str


@dataclass(frozen=True, slots=True)
class ServiceLost:
    """pcscd is unreachable; ``message`` is the operator-facing explanation (from ``classify``)."""

    message: str


@dataclass(frozen=True, slots=True)
class ServiceRestored:
    pass


WatchEvent = ReaderAdded | ReaderRemoved | CardInserted | CardRemoved | ServiceLost | ServiceRestored


class Watcher(Protocol):
    """A source of ``WatchEvent``s: they appear in ``events`` after ``start()``, until ``stop()``."""

    events: queue.Queue[WatchEvent]

    def start(self) -> None: ...

    def stop(self) -> None: ...


__all__ = ["CardInserted", "CardRemoved", "ReaderAdded", "ReaderRemoved", "ServiceLost", "ServiceRestored",
           "WatchEvent", "Watcher"]
