"""Fault injection around a simulated card: pulled cards, slow cards, corrupted answers, 61xx/6Cxx.

``FaultyCard`` wraps any card object with the ``VirtualIcc`` shape (atr, power_on/off, reset, process),
so the same faults reach in-process tests and the real PC/SC path alike.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class CardPulled(Exception):
    """Raised by a card's ``process`` to say the card left the reader before answering."""


@runtime_checkable
class Icc(Protocol):
    """What a card must offer to be served (in process or to vpcd): the ``VirtualIcc`` shape."""

    @property
    def atr(self) -> bytes: ...

    def power_on(self) -> None: ...

    def power_off(self) -> None: ...

    def reset(self) -> None: ...

    def process(self, command: bytes) -> bytes:
        """Answer one command APDU with response data + SW1 SW2. May raise ``CardPulled``."""
        ...


@dataclass(frozen=True, slots=True)
class DelayModel:
    """Seconds a real card spends per command; default all zero (off)."""

    select: float = 0.0
    verify: float = 0.0
    read_per_256: float = 0.0
    sign: float = 0.0
    other: float = 0.0

    def seconds_for(self, command: bytes, response: bytes) -> float:
        if len(command) < 4:
            return self.other
        cla, ins = command[0], command[1]
        if ins == 0xA4:
            return self.select
        if ins == 0x20 or ins == 0x24:
            return self.verify
        if ins in (0xB0, 0xB2):
            data_len = max(0, len(response) - 2)
            return self.read_per_256 * max(1, data_len) / 256
        if cla == 0x80 and ins == 0x2A:
            return self.sign
        return self.other


# Measured on a real card through a contactless reader (card-protocol.md §7): ~45 ms per SELECT,
# ~60 ms per VERIFY, ~200 ms per 256-byte READ BINARY, ~700 ms per RSA-2048 signature.
REAL_CARD = DelayModel(select=0.045, verify=0.060, read_per_256=0.200, sign=0.700, other=0.040)
# Every command half a second or more: any wait on the card by a caller that must not wait (the UI thread)
# becomes a gap no scheduling noise can explain (tests/ui/frame_probe.py).
SLOW_CARD = DelayModel(select=0.5, verify=0.5, read_per_256=0.5, sign=0.8, other=0.5)
DELAY_PRESETS = {"off": DelayModel(), "real-card": REAL_CARD, "slow-card": SLOW_CARD}


@dataclass(slots=True)
class FaultPlan:
    """What to break. APDU numbers count from 1 since the card was inserted."""

    remove_at: int | None = None  # the n-th APDU never gets an answer: the card is pulled
    delay: DelayModel = field(default_factory=DelayModel)
    corrupt_at: frozenset[int] = frozenset()  # these APDUs get a corrupted answer
    corrupt_rate: float = 0.0  # or a random share of answers, seeded
    seed: int = 0
    chain_61xx: bool = False  # answer data with 61 xx and wait for GET RESPONSE
    wrong_le_6cxx: bool = False  # answer 6C xx when Le does not match what is available
    sleep: Callable[[float], None] = time.sleep


class IccWrapper:
    """Hands everything to ``card``: a wrapper (faults, a reader's quirks, a clock) overrides only what it
    changes."""

    def __init__(self, card: Icc) -> None:
        self.card = card

    @property
    def atr(self) -> bytes:
        return self.card.atr

    def power_on(self) -> None:
        self.card.power_on()

    def power_off(self) -> None:
        self.card.power_off()

    def reset(self) -> None:
        self.card.reset()

    def process(self, command: bytes) -> bytes:
        return self.card.process(command)


class FaultyCard(IccWrapper):
    """A card wrapper that injects the faults of a ``FaultPlan``."""

    def __init__(self, card: Icc, plan: FaultPlan) -> None:
        super().__init__(card)
        self.plan = plan
        self._rng = random.Random(plan.seed)  # noqa: S311 - reproducible faults, not secrets
        self._lock = threading.Lock()
        self._pending = b""
        self.count = 0
        self.modeled_seconds = 0.0
        self.pulled = False

    def reset(self) -> None:
        self._pending = b""
        self.card.reset()

    def process(self, command: bytes) -> bytes:
        with self._lock:
            self.count += 1
            if self.pulled or (self.plan.remove_at is not None and self.count >= self.plan.remove_at):
                self.pulled = True
                raise CardPulled(f"card pulled at APDU {self.count}")
            if self.plan.chain_61xx and command[:2] == b"\x00\xc0":
                response = self._get_response(command)
            else:
                response = self.card.process(command)
                response = self._shape(command, response)
            delay = self.plan.delay.seconds_for(command, response)
            if delay:
                self.modeled_seconds += delay
                self.plan.sleep(delay)
            if self.count in self.plan.corrupt_at or (
                self.plan.corrupt_rate and self._rng.random() < self.plan.corrupt_rate
            ):
                response = self._corrupt(response)
            return response

    def _shape(self, command: bytes, response: bytes) -> bytes:
        data, sw = response[:-2], response[-2:]
        if self.plan.wrong_le_6cxx and sw == b"\x90\x00" and len(command) == 5 and command[1] == 0xB0:
            asked = command[4] or 256
            if asked != len(data):
                return bytes((0x6C, len(data) & 0xFF))
        if self.plan.chain_61xx and sw == b"\x90\x00" and data:
            self._pending = data
            return bytes((0x61, min(len(data), 256) & 0xFF))
        return response

    def _get_response(self, command: bytes) -> bytes:
        if not self._pending:
            return b"\x69\x85"
        le = (command[4] or 256) if len(command) == 5 else 256
        out, self._pending = self._pending[:le], self._pending[le:]
        if self._pending:
            return out + bytes((0x61, min(len(self._pending), 256) & 0xFF))
        return out + b"\x90\x00"

    def _corrupt(self, response: bytes) -> bytes:
        if len(response) <= 2:
            return bytes((self._rng.randrange(256), self._rng.randrange(256)))
        data = bytearray(response[:-2])
        for _ in range(max(1, len(data) // 64)):
            data[self._rng.randrange(len(data))] ^= 1 << self._rng.randrange(8)
        if self._rng.random() < 0.5:
            del data[self._rng.randrange(len(data)) :]
        return bytes(data) + response[-2:]
