"""The transport seam: how bytes reach a card. Implementations: ``drivers.pcsc`` and ``drivers.sim``."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType


class Transport(ABC):
    """A connection to one card. Not thread-safe: exactly one worker thread owns it.

    ``transmit`` takes a complete command APDU and returns the complete response (data + SW1 SW2). It raises
    only ``drivers.errors.TransportError`` subclasses.
    """

    @property
    @abstractmethod
    def atr(self) -> bytes:
        """The card's answer to reset."""

    @property
    def reader_name(self) -> str:
        return "unknown reader"

    @property
    def supports_extended_apdus(self) -> bool | None:
        """True/False when known, None when it has to be probed."""
        return None

    @abstractmethod
    def transmit(self, command: bytes) -> bytes:
        """Send one command APDU, return the response APDU including the status word."""

    @abstractmethod
    def close(self) -> None:
        """Release the card; idempotent."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
