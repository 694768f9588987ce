"""The simulated tray: in-process cards behind the same reader events as a real reader.

Demo mode, clerk training and the UI tests put synthetic residents' cards "on the reader" here; the card
service cannot tell it from pcscd: the same ``drivers.reader_events`` arrive in ``events`` and
``connect`` opens a transport to the card in the slot, as ``drivers.pcsc.connect`` would.
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path

from drivers import errors
from drivers import reader_events as watch
from drivers.sim.factory import open_simulated_card
from drivers.sim.faults import FaultPlan, FaultyCard, Icc
from drivers.sim.profile import BUNDLED_PROFILES
from drivers.sim.transport import SimTransport
from drivers.transport import Transport


class _LazyCard:
    """A profile's card, built on first use — by the card worker when it connects, so a demo "insert"
    returns at once on the UI thread (building a card image takes about a second)."""

    def __init__(self, source: str | os.PathLike[str], delay: str, faults: FaultPlan | None) -> None:
        self._source, self._delay, self._faults = source, delay, faults
        self._lock = threading.Lock()
        self._icc: Icc | None = None

    def _card(self) -> Icc:
        with self._lock:
            if self._icc is None:
                self._icc = open_simulated_card(self._source, delay=self._delay, faults=self._faults)
            return self._icc

    @property
    def atr(self) -> bytes:
        return self._card().atr

    def power_on(self) -> None:
        self._card().power_on()

    def power_off(self) -> None:
        self._card().power_off()

    def reset(self) -> None:
        self._card().reset()

    def process(self, command: bytes) -> bytes:
        return self._card().process(command)


class SimulatedTray:
    """A simulated reader with a card slot: the demo/training stand-in for ``CardWatcher`` + ``connect``.

    ``insert`` / ``remove`` / ``unplug`` / ``plug`` put the same events into ``events`` as pcscd would, and
    ``connect`` (the service's transport factory) talks to the card in the slot. ``profiles()``, ``insert``
    with a profile name and ``remove`` never block, so the UI's demo tray can call them directly.
    """

    def __init__(self, reader_name: str = "Simulated reader 0", *, extended: bool = True, delay: str = "off",
                 profile_folder: str | os.PathLike[str] = BUNDLED_PROFILES) -> None:
        self.reader_name = reader_name
        self.extended = extended
        self.delay = delay
        self.profile_folder = Path(profile_folder)
        self.events: queue.Queue[watch.WatchEvent] = queue.Queue()
        self._lock = threading.Lock()
        self._card: FaultyCard | None = None  # its ``pulled`` flag is the tray's removal
        self._plugged = True
        self._started = False

    def start(self) -> None:
        with self._lock:
            self._started = True
            if self._plugged:
                self.events.put(watch.ReaderAdded(self.reader_name))
                if self._card is not None:
                    self.events.put(watch.CardInserted(self.reader_name, self._atr(self._card)))

    def stop(self) -> None:
        with self._lock:
            self._started = False

    def profiles(self) -> list[str]:
        """The synthetic residents that can be inserted by name."""
        return sorted(path.stem for path in self.profile_folder.glob("*.toml"))

    def insert(self, card: Icc | str | os.PathLike[str], *, delay: str | None = None,
               faults: FaultPlan | None = None) -> None:
        """Put a card in: a card object, a profile file, or a profile name from ``profiles()``.

        Profiles are built on the card worker when it first talks to the card (``delay``/``faults`` apply).
        """
        if isinstance(card, str | os.PathLike):
            path = Path(card)
            if path.suffix != ".toml" and len(path.parts) == 1:
                path = self.profile_folder / f"{path.name}.toml"
            icc: Icc = _LazyCard(path, delay or self.delay, faults)
        else:
            icc = card
        with self._lock:
            if self._card is not None:
                raise RuntimeError("the tray already holds a card; remove() it first")
            self._card = FaultyCard(icc, FaultPlan())
            if self._started and self._plugged:
                self.events.put(watch.CardInserted(self.reader_name, self._atr(self._card)))

    @staticmethod
    def _atr(card: FaultyCard) -> bytes:
        # A card still to be built reports no ATR yet (like a mute card); recognition never uses the ATR.
        return b"" if isinstance(card.card, _LazyCard) else card.atr

    def remove(self) -> None:
        with self._lock:
            card, self._card = self._card, None
            if card is None:
                return
            card.pulled = True
            if self._started and self._plugged:
                self.events.put(watch.CardRemoved(self.reader_name))

    def unplug(self) -> None:
        """The reader's cable is pulled: its card (if any) goes with it, then the reader."""
        with self._lock:
            self._plugged = False
            if self._card is not None:
                self._card.pulled = True
                self._card = None
                self.events.put(watch.CardRemoved(self.reader_name))
            self.events.put(watch.ReaderRemoved(self.reader_name))

    def plug(self) -> None:
        with self._lock:
            self._plugged = True
            self.events.put(watch.ReaderAdded(self.reader_name))

    def connect(self, reader: str) -> Transport:
        with self._lock:
            if not self._plugged or reader != self.reader_name:
                raise errors.NoReader(f"no simulated reader named {reader!r}")
            if self._card is None:
                raise errors.NoCard("the simulated tray is empty")
            card = self._card
        return SimTransport(card, self.reader_name, self.extended)  # outside the lock: may build the card


__all__ = ["SimulatedTray"]
