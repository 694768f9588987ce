"""In-process transport to a simulated card, for unit tests, the CLI's ``--sim`` and benchmarks."""

from __future__ import annotations

from drivers.errors import CardRemoved, NoCard
from drivers.sim.faults import CardPulled, Icc
from drivers.transport import Transport


class SimTransport(Transport):
    """Talks to a card object directly (~1 µs per APDU): no pcscd, no sockets.

    Like a real reader it powers the card on at connect; once the card is pulled every later command
    raises ``CardRemoved`` until a new transport is made.
    """

    def __init__(self, card: Icc, reader_name: str = "Simulated reader 0", extended: bool = True) -> None:
        self._card = card
        self._reader_name = reader_name
        self._extended = extended
        self._removed = False
        self._closed = False
        card.power_on()

    @property
    def atr(self) -> bytes:
        return self._card.atr

    @property
    def reader_name(self) -> str:
        return self._reader_name

    @property
    def supports_extended_apdus(self) -> bool | None:
        return self._extended

    def transmit(self, command: bytes) -> bytes:
        if self._closed:
            raise NoCard("the connection to the simulated card is closed")
        if self._removed:
            raise CardRemoved("the simulated card was removed")
        if not self._extended and _is_extended(command):
            # A reader without extended-APDU support refuses the frame before it reaches the card.
            return b"\x67\x00"
        try:
            return self._card.process(command)
        except CardPulled as exc:
            self._removed = True
            raise CardRemoved("the card was removed during the operation") from exc

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            if not self._removed:
                self._card.power_off()


def _is_extended(command: bytes) -> bool:
    return len(command) > 5 and command[4] == 0
