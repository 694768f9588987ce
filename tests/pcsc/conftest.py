"""Fixtures for the real PC/SC tier: a session pcscd, vpcd reader names, and cards served to vpcd.

``FakeIcc`` is a deliberately tiny card (SELECT of the JPKI AP, READ BINARY of a patterned EF) so that these
tests exercise the transport path and nothing else; the full simulated card is tested on its own and
served here only as an extra check.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from drivers.errors import TransportError
from drivers.pcsc import reader_states, service_available
from drivers.sim.vpicc import CardPulled, VpiccServer
from kiosk.services import pcscd

JPKI_AID = bytes.fromhex("D392F000260100000001")
JPKI_ATR = bytes.fromhex("3BE000FF8131FE4514")  # T=1; OpenSC names a card with this ATR "jpki"
SW_OK = b"\x90\x00"
INS_FAIL = 0xEE  # FakeIcc raises on this instruction (tests that failures are contained and not logged)


def pattern(offset: int, length: int) -> bytes:
    """The content of FakeIcc's EF: position-dependent, so a misplaced chunk is caught."""
    return bytes((i * 7 + 3) & 0xFF for i in range(offset, offset + length))


class FakeIcc:
    """A minimal ``VirtualIcc`` that counts what vpcd asks of it."""

    def __init__(self, *, ef_size: int = 3000, pull_after: int | None = None, atr: bytes = JPKI_ATR) -> None:
        self.ef_size = ef_size
        self.pull_after = pull_after  # raise CardPulled on APDU number pull_after + 1
        self._atr = atr
        self.atr_requests = 0
        self.power_ons = 0
        self.power_offs = 0
        self.resets = 0
        self.apdus = 0
        self.ap_selected = False

    @property
    def atr(self) -> bytes:
        self.atr_requests += 1
        return self._atr

    def power_on(self) -> None:
        self.power_ons += 1

    def power_off(self) -> None:
        self.power_offs += 1
        self.ap_selected = False

    def reset(self) -> None:
        self.resets += 1
        self.ap_selected = False

    def process(self, command: bytes) -> bytes:
        self.apdus += 1
        if self.pull_after is not None and self.apdus > self.pull_after:
            raise CardPulled(f"pulled at APDU {self.apdus}")
        ins, p1, p2 = command[1], command[2], command[3]
        if ins == 0xA4:
            data = command[5 : 5 + command[4]] if len(command) > 5 else b""
            if p1 == 0x04:
                self.ap_selected = data == JPKI_AID
                return SW_OK if self.ap_selected else b"\x6a\x82"
            return SW_OK if self.ap_selected else b"\x69\x86"
        if ins == 0xB0:
            offset = ((p1 & 0x7F) << 8) | p2
            if len(command) == 5:
                le = command[4] or 256
            elif len(command) == 7 and command[4] == 0:
                le = int.from_bytes(command[5:7], "big") or 65536
            else:
                return b"\x67\x00"
            if offset >= self.ef_size:
                return b"\x6b\x00"
            count = min(le, self.ef_size - offset)
            return pattern(offset, count) + (SW_OK if count == le else b"\x62\x82")
        if ins == INS_FAIL:
            raise RuntimeError(f"fake failure, command was {command.hex()}")
        return b"\x6d\x00"


def select_jpki() -> bytes:
    return bytes((0x00, 0xA4, 0x04, 0x0C, len(JPKI_AID))) + JPKI_AID


def read_binary(offset: int, le: int) -> bytes:
    if le <= 256:
        return bytes((0x00, 0xB0, offset >> 8, offset & 0xFF, le & 0xFF))
    return bytes((0x00, 0xB0, offset >> 8, offset & 0xFF, 0x00)) + le.to_bytes(2, "big")


def wait_for_card(reader: str, present: bool, timeout: float = 5.0) -> float:
    """Poll pcscd until ``reader`` shows (or no longer shows) a card; returns the seconds it took."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        try:
            states = {s.name: s for s in reader_states()}
        except TransportError:
            states = {}
        state = states.get(reader)
        if state is not None and state.card_present == present:
            return time.monotonic() - began
        time.sleep(0.01)
    raise AssertionError(f"{reader!r} did not show {'a' if present else 'no'} card within {timeout} s")


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    """Every test of this tier must join what it started (servers, watchers)."""
    yield
    deadline = time.monotonic() + 2.0
    ours = ("vpicc-", "pcsc-card-watcher")
    while time.monotonic() < deadline:
        leftovers = [t.name for t in threading.enumerate() if t.name.startswith(ours)]
        if not leftovers:
            return
        time.sleep(0.02)
    pytest.fail(f"threads left running: {leftovers}")


ServedCard = Callable[..., contextlib.AbstractContextManager[VpiccServer]]


@pytest.fixture
def served_card(vpcd_readers: list[str]) -> ServedCard:
    """``with served_card(card, reader_index) as server:`` — the card is in the reader (pcscd sees it)
    inside the block, and always out again (pcscd sees the reader empty) after it."""

    @contextlib.contextmanager
    def serve(card: object, reader_index: int = 0, *, wait_present: bool = True) -> Iterator[VpiccServer]:
        reader = vpcd_readers[reader_index]
        server = VpiccServer(card, port=pcscd.vpcd_port(reader_index))  # type: ignore[arg-type]
        server.insert()
        try:
            if wait_present:
                wait_for_card(reader, present=True)
            yield server
        finally:
            server.remove()
            if service_available():  # pcscd may be down in a failing restart test: nothing to wait for
                wait_for_card(reader, present=False)

    return serve
