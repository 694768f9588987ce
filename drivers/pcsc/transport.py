"""The real card path: ``Transport`` over PC/SC (pyscard → libpcsclite → pcscd → reader driver).

Why the low-level ``smartcard.scard`` API and not ``smartcard.System.readers()`` / ``createConnection()``:

* Every call returns its hresult, so ``drivers.pcsc.errors.classify`` sees the real PC/SC code at the place
  where it happened. The high-level ``PCSCCardConnection`` re-labels codes (a removed card is a
  ``NoCardException`` in ``connect()`` but a ``CardConnectionException`` in ``transmit()``) and builds
  messages we would have to ignore anyway.
* We own the lifetime of the PC/SC context: it is released in ``close()``, not in ``__del__`` at an
  unpredictable moment and on an unpredictable thread (``PCSCCardConnection.__del__`` releases it and can
  raise there). After a pcscd restart a stale context must be dropped deterministically.
* We choose the disposition: ``close()`` resets the card (``SCARD_RESET_CARD``) so that a PIN verified by
  one resident is never still verified for whoever talks to the card next.

Threads: a PC/SC context and card handle belong to the thread that uses them. One worker thread per reader
creates a ``PcscTransport``, sends every APDU through it and closes it; nobody else touches it. The module
functions (``list_readers``, ``reader_states``, ``service_available``) open and release a short-lived
context of their own on the calling thread, so they are safe to call from any thread.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from smartcard import scard
from smartcard.Exceptions import NoCardException

from drivers.errors import ReaderError
from drivers.pcsc.errors import SERVICE_GONE_CODES, classify, service_restarted
from drivers.transport import Transport

log = logging.getLogger(__name__)

T = TypeVar("T")

PNP_NOTIFICATION = "\\\\?PnP?\\Notification"  # pcsc-lite's pseudo reader: changes when readers come and go
_PCI = {scard.SCARD_PROTOCOL_T0: scard.SCARD_PCI_T0, scard.SCARD_PROTOCOL_T1: scard.SCARD_PCI_T1}
_PROTOCOL_NAMES = {scard.SCARD_PROTOCOL_T0: "T=0", scard.SCARD_PROTOCOL_T1: "T=1"}


@dataclass(frozen=True, slots=True)
class ReaderState:
    """One reader as pcscd sees it right now. ``atr`` is None when no (responsive) card is in it."""

    name: str
    card_present: bool
    atr: bytes | None


def _check(hresult: int, context: str) -> None:
    if hresult != scard.SCARD_S_SUCCESS:
        raise classify(hresult, context=context)


def _call(context: str, function: Callable[..., T], *args: object) -> T:
    """Call one ``smartcard.scard`` function; whatever it raises leaves as a typed error (chained).

    The return codes are checked by the caller; this only covers the SWIG layer raising (bad argument
    types, ``scard.error``), so that no pyscard exception ever crosses this module's boundary.
    """
    try:
        return function(*args)
    except Exception as exc:
        raise classify(exc, context=context) from exc


def establish_context() -> int:
    """A new PC/SC context for the calling thread; raises ``ServiceUnavailable`` when pcscd is down."""
    context = "opening the PC/SC service"
    hresult, hcontext = _call(context, scard.SCardEstablishContext, scard.SCARD_SCOPE_USER)
    _check(hresult, context)
    return hcontext


def release_context(hcontext: int) -> None:
    """Release a context; failures are logged, not raised (the daemon may already be gone)."""
    try:
        hresult = scard.SCardReleaseContext(hcontext)
    except Exception as exc:
        log.debug("SCardReleaseContext raised %s", type(exc).__name__)
        return
    if hresult not in (scard.SCARD_S_SUCCESS, scard.SCARD_E_INVALID_HANDLE, scard.SCARD_E_NO_SERVICE):
        log.debug("SCardReleaseContext returned 0x%08X", hresult & 0xFFFFFFFF)


@contextlib.contextmanager
def _context() -> Iterator[int]:
    hcontext = establish_context()
    try:
        yield hcontext
    finally:
        release_context(hcontext)


def readers_in(hcontext: int) -> list[str]:
    """Reader names for an existing context; an empty list when there are none (that is not an error)."""
    hresult, names = _call("listing card readers", scard.SCardListReaders, hcontext, [])
    if hresult in (scard.SCARD_E_NO_READERS_AVAILABLE, scard.SCARD_E_READER_UNAVAILABLE):
        return []
    _check(hresult, "listing card readers")
    return [str(name) for name in names]


def states_in(hcontext: int, names: list[str]) -> list[ReaderState]:
    """Current states of ``names`` without waiting (timeout 0, every reader ``UNAWARE``)."""
    if not names:
        return []
    hresult, states = _call(
        "reading the card readers' state",
        scard.SCardGetStatusChange,
        hcontext,
        0,
        [(name, scard.SCARD_STATE_UNAWARE) for name in names],
    )
    if hresult == scard.SCARD_E_TIMEOUT:  # nothing to report is still a report of the current state
        hresult = scard.SCARD_S_SUCCESS
    _check(hresult, "reading the card readers' state")
    return [reader_state(name, event, atr) for name, event, atr in states]


def reader_state(name: str, event_state: int, atr: list[int] | bytes) -> ReaderState:
    """Build a ``ReaderState`` from one ``SCardGetStatusChange`` entry."""
    present = bool(event_state & scard.SCARD_STATE_PRESENT)
    mute = bool(event_state & scard.SCARD_STATE_MUTE)
    atr_bytes = bytes(atr) if present and not mute and atr else None
    return ReaderState(name=name, card_present=present, atr=atr_bytes)


def list_readers() -> list[str]:
    """Names of the readers pcscd knows. Raises ``ServiceUnavailable`` when pcscd is not running."""
    with _context() as hcontext:
        return readers_in(hcontext)


def reader_states() -> list[ReaderState]:
    """Every reader with whether a card is in it and its ATR."""
    with _context() as hcontext:
        return states_in(hcontext, readers_in(hcontext))


def service_available() -> bool:
    """True when a PC/SC context can be established (pcscd is up and reachable)."""
    try:
        with _context():
            return True
    except Exception:
        return False


def connect(reader: str | None = None) -> PcscTransport:
    """Connect to the card in ``reader``, or in the first reader that holds one when ``reader`` is None.

    Raises ``NoReader`` when there is no reader (or not the named one), ``NoCard`` when no reader holds
    a card, ``ServiceUnavailable`` when pcscd is down.
    """
    if reader is not None:
        return PcscTransport(reader)
    states = reader_states()
    if not states:
        raise classify(scard.SCARD_E_NO_READERS_AVAILABLE, context="looking for a card")
    for state in states:
        if state.card_present:
            return PcscTransport(state.name)
    names = ", ".join(repr(s.name) for s in states)
    raise classify(scard.SCARD_E_NO_SMARTCARD, context=f"looking for a card in {names}")


class PcscTransport(Transport):
    """A shared-mode connection to the card in one reader. Owned by exactly one worker thread.

    T=1 is asked for first (My Number cards and contactless readers speak it; it carries extended APDUs
    without GET RESPONSE games); T=0|T=1 is the fallback for the rare reader/card pair that refuses.
    Shared mode lets ``pcsc_scan`` or an OpenSC diagnosis look at the same reader while the kiosk runs.
    """

    REMOVAL_GRACE = 0.6  # seconds: one pcscd poll (400 ms) plus margin; see _raise_for_missing_answer

    def __init__(self, reader: str) -> None:
        self._reader = reader
        self._hcard: int | None = None
        self._hcontext: int | None = establish_context()
        try:
            self._hcard, self._protocol = self._connect()
            self._atr = self._read_atr()
        except BaseException:
            self.close()
            raise
        log.info("connected to %r with %s", reader, _PROTOCOL_NAMES.get(self._protocol, "?"))

    # --- Transport -------------------------------------------------------------------------------------

    @property
    def atr(self) -> bytes:
        return self._atr

    @property
    def reader_name(self) -> str:
        return self._reader

    @property
    def protocol(self) -> str:
        """The negotiated protocol, "T=0" or "T=1"."""
        return _PROTOCOL_NAMES.get(self._protocol, f"0x{self._protocol:X}")

    @property
    def closed(self) -> bool:
        return self._hcontext is None

    def transmit(self, command: bytes) -> bytes:
        if self._hcard is None:
            raise ReaderError(f"sending a command to {self._reader!r}: the connection is closed")
        context = f"sending a command to the card in {self._reader!r}"
        pci = _PCI[self._protocol]
        hresult, response = _call(context, scard.SCardTransmit, self._hcard, pci, list(command))
        self._check_handle(hresult, context)
        if len(response) < 2:
            self._raise_for_missing_answer(context, len(response))
        return bytes(b & 0xFF for b in response)

    def _check_handle(self, hresult: int, context: str) -> None:
        """``_check`` for calls on our card handle, which may predate a pcscd restart."""
        if hresult == scard.SCARD_S_SUCCESS:
            return
        if hresult in SERVICE_GONE_CODES:
            if service_available():
                raise service_restarted(hresult, context=context)
            if hresult == scard.SCARD_E_INVALID_HANDLE:  # the handle died with the daemon
                raise classify(scard.SCARD_E_NO_SERVICE, context=context)
        raise classify(hresult, context=context)

    def _raise_for_missing_answer(self, context: str, length: int) -> None:
        """A "successful" transmit without a status word: find out whether the card was just pulled.

        Why: when the contacts open mid-command, vpcd (and some USB readers) report success with an empty
        answer; pcscd only notices the removal at its next poll (~400 ms later), after which the handle
        fails with SCARD_W_REMOVED_CARD. Waiting that long on this rare path turns a puzzling "empty
        answer" into the ``CardRemoved`` the flow knows how to handle.
        """
        deadline = time.monotonic() + self.REMOVAL_GRACE
        while time.monotonic() < deadline:
            hresult = _call(context, scard.SCardStatus, self._hcard)[0]
            self._check_handle(hresult, context)
            time.sleep(0.02)
        raise ReaderError(
            f"{context}: the reader returned {length} byte(s), not even a status word — "
            "remove and re-insert the card; replug the reader if it persists"
        )

    def reset(self, *, unpower: bool = False) -> bytes:
        """Warm reset (or power cycle with ``unpower``) the card and return the new ATR.

        Used between residents when the card stays in the reader: it forgets every verified PIN.
        """
        if self._hcard is None:
            raise ReaderError(f"resetting the card in {self._reader!r}: the connection is closed")
        context = f"resetting the card in {self._reader!r}"
        disposition = scard.SCARD_UNPOWER_CARD if unpower else scard.SCARD_RESET_CARD
        hresult, protocol = _call(
            context, scard.SCardReconnect, self._hcard, scard.SCARD_SHARE_SHARED, self._protocol, disposition
        )
        self._check_handle(hresult, context)
        self._protocol = protocol
        self._atr = self._read_atr()
        return self._atr

    def close(self) -> None:
        """Disconnect with a card reset and release the context. Idempotent; never raises."""
        hcard, self._hcard = self._hcard, None
        hcontext, self._hcontext = self._hcontext, None
        if hcard is not None:
            try:
                hresult = scard.SCardDisconnect(hcard, scard.SCARD_RESET_CARD)
            except Exception as exc:
                log.debug("SCardDisconnect on %r raised %s", self._reader, type(exc).__name__)
            else:
                if hresult != scard.SCARD_S_SUCCESS:  # card gone or daemon restarted: nothing to undo
                    log.debug("SCardDisconnect on %r returned 0x%08X", self._reader, hresult & 0xFFFFFFFF)
        if hcontext is not None:
            release_context(hcontext)

    def __repr__(self) -> str:
        state = "closed" if self.closed else self.protocol
        return f"PcscTransport({self._reader!r}, {state})"

    # --- internals -------------------------------------------------------------------------------------

    def _connect(self) -> tuple[int, int]:
        context = f"connecting to the card in {self._reader!r}"
        shared = scard.SCARD_SHARE_SHARED
        hresult, hcard, protocol = _call(
            context, scard.SCardConnect, self._hcontext, self._reader, shared, scard.SCARD_PROTOCOL_T1
        )
        if hresult == scard.SCARD_E_PROTO_MISMATCH:
            either = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
            hresult, hcard, protocol = _call(
                context, scard.SCardConnect, self._hcontext, self._reader, shared, either
            )
        if hresult == scard.SCARD_W_REMOVED_CARD:
            # The card left before we ever had it: for the caller that is "no card", as pyscard says too.
            raise classify(NoCardException(context, hresult=hresult), context=context)
        _check(hresult, context)
        if protocol not in _PCI:
            with contextlib.suppress(Exception):
                scard.SCardDisconnect(hcard, scard.SCARD_LEAVE_CARD)
            raise classify(scard.SCARD_E_PROTO_MISMATCH, context=context)
        return hcard, protocol

    def _read_atr(self) -> bytes:
        context = f"reading the ATR of the card in {self._reader!r}"
        hresult, _name, _state, _protocol, atr = _call(context, scard.SCardStatus, self._hcard)
        self._check_handle(hresult, context)
        return bytes(b & 0xFF for b in atr)


__all__ = [
    "PNP_NOTIFICATION",
    "PcscTransport",
    "ReaderState",
    "connect",
    "list_readers",
    "reader_states",
    "service_available",
]
