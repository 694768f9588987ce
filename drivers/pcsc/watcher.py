"""Reader and card events from pcscd, delivered into a ``queue.Queue``; survives pcscd restarts.

Why not pyscard's ``CardMonitor`` / ``ReaderMonitor`` (read in pyscard 2.3.1's ``CardMonitoring.py`` and
``ReaderMonitoring.py``):

* ``CardMonitoringThread`` is a process-wide singleton. On ``SCARD_E_NO_SERVICE`` its thread stops itself,
  but the singleton keeps pointing at the dead thread, so no later ``CardMonitor()`` ever monitors again
  unless we reset private, name-mangled class attributes — the "silently deaf after a pcscd restart" bug
  (pyscard issue #82).
* It blocks in ``CardRequest.waitforcardevent()`` with a 60 s timeout and nothing cancels that wait, so
  ``stop()`` cannot join it promptly; it is a daemon thread that outlives whoever started it. We need
  ``stop()`` to leave no thread behind (tests, clean kiosk shutdown).
* ``ReaderMonitor`` is shared state too, polls with a second thread, and also ends itself on the first
  ``SmartcardException``. ``addObserver`` delivers the first update synchronously on the caller's thread.

So this module runs its own loop on ``SCardGetStatusChange`` in a single thread that owns its PC/SC
context. ``stop()`` wakes it with ``SCardCancel`` (the one PC/SC call meant to be made from another
thread), and the wait also has a short timeout as a backstop. The loop never calls foreign code: its
only output is ``queue.put`` ("observers only enqueue"), and every failure inside it is caught, logged
and turned into a ``ServiceLost`` event plus a retry with backoff — it cannot die silently.

Event order guarantees, so that a consumer can keep a simple model of the world:

* After ``start()``: ``ReaderAdded`` for every reader, then ``CardInserted`` for every card already in.
  If pcscd is down at start, the first event is ``ServiceLost``.
* Every ``CardInserted`` is eventually followed by ``CardRemoved`` for that reader (before its
  ``ReaderRemoved``). A remove-and-reinsert faster than our wake-up is still reported as both events
  (pcsc-lite's per-reader event counter shows it).
* When pcscd goes away: ``CardRemoved`` / ``ReaderRemoved`` for everything known, then ``ServiceLost``
  (so the last word is the cause). When it is back: ``ServiceRestored``, then the current readers and
  cards as above.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from types import TracebackType

from smartcard import scard

from drivers import errors
from drivers.pcsc.errors import classify
from drivers.pcsc.transport import (
    PNP_NOTIFICATION,
    establish_context,
    reader_state,
    readers_in,
    release_context,
)
from drivers.reader_events import (
    CardInserted,
    CardRemoved,
    ReaderAdded,
    ReaderRemoved,
    ServiceLost,
    ServiceRestored,
    WatchEvent,
)

log = logging.getLogger(__name__)


_COUNTER_MASK = 0xFFFF0000  # pcsc-lite: upper 16 bits of dwEventState count insertions and removals


@dataclass(frozen=True, slots=True)
class _Card:
    atr: bytes
    counter: int


class _ReadersChanged(Exception):
    """Internal: the reader list changed; rebuild the wait list."""


class CardWatcher:
    """Publishes ``WatchEvent``s into ``events`` from one background thread. Restartable.

    ``poll_timeout``: longest single wait in pcscd (bounds ``stop()`` latency if a cancel is missed and
    how often the reader list is re-read). ``backoff_initial`` / ``backoff_max``: retry delays while
    pcscd is down (doubling; recovery is noticed within ``backoff_max`` of pcscd being back).
    """

    def __init__(
        self,
        events: queue.Queue[WatchEvent] | None = None,
        *,
        poll_timeout: float = 0.5,
        backoff_initial: float = 0.1,
        backoff_max: float = 0.5,
    ) -> None:
        self.events: queue.Queue[WatchEvent] = events if events is not None else queue.Queue()
        self._poll_ms = max(1, int(poll_timeout * 1000))
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._backoff = backoff_initial
        self._stop = threading.Event()
        self._lock = threading.Lock()  # guards _hcontext between the watcher thread and stop()
        self._hcontext: int | None = None
        self._thread: threading.Thread | None = None
        self._readers: list[str] = []
        self._cards: dict[str, _Card] = {}

    # --- lifecycle -------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._readers, self._cards = [], {}
        self._thread = threading.Thread(target=self._run, name="pcsc-card-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop and join the thread. Idempotent. Raises ``RuntimeError`` if it does not end in time."""
        self._stop.set()
        with self._lock:
            if self._hcontext is not None:
                try:  # wakes the thread from SCardGetStatusChange; the wait's timeout is the backstop
                    scard.SCardCancel(self._hcontext)
                except Exception as exc:
                    log.debug("SCardCancel raised %s", type(exc).__name__)
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError("the card watcher thread did not stop")

    def __enter__(self) -> CardWatcher:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- the thread ------------------------------------------------------------------------------------

    def _run(self) -> None:
        self._backoff = self._backoff_initial
        service_up: bool | None = None  # None: not known yet
        while not self._stop.is_set():
            try:
                hcontext = establish_context()
            except Exception as exc:
                if service_up is not False:
                    self._lose_all(exc)
                    service_up = False
                self._back_off()
                continue
            with self._lock:
                self._hcontext = hcontext
            try:
                if self._stop.is_set():
                    return
                if service_up is False:
                    self._put(ServiceRestored())
                service_up = True
                self._watch(hcontext)
            except Exception as exc:
                self._lose_all(exc)
                service_up = False
                self._back_off()
            finally:
                with self._lock:
                    self._hcontext = None
                release_context(hcontext)

    def _back_off(self) -> None:
        """Wait before retrying; the delay doubles until a wait in pcscd succeeds again (no flapping)."""
        self._stop.wait(self._backoff)
        self._backoff = min(self._backoff * 2, self._backoff_max)

    def _watch(self, hcontext: int) -> None:
        """Follow readers and cards until stopped; raises when the service fails."""
        while not self._stop.is_set():
            names = readers_in(hcontext)
            self._sync_readers(names)
            try:
                self._wait_for_changes(hcontext, names)
            except _ReadersChanged:
                self._stop.wait(0.05)  # a reader being plugged in settles in steps; don't spin on it

    def _wait_for_changes(self, hcontext: int, names: list[str]) -> None:
        states = [(name, scard.SCARD_STATE_UNAWARE) for name in names]
        states.append((PNP_NOTIFICATION, scard.SCARD_STATE_UNAWARE))
        timeout = 0  # the first call only reads the current state
        while not self._stop.is_set():
            hresult, new_states = scard.SCardGetStatusChange(hcontext, timeout, states)
            timeout = self._poll_ms
            if hresult in (scard.SCARD_E_TIMEOUT, scard.SCARD_E_CANCELLED):
                # Readers may come and go between two waits without the PnP entry noticing: re-list.
                if readers_in(hcontext) != names:
                    raise _ReadersChanged
                continue
            if hresult in (scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE):
                raise _ReadersChanged
            if hresult != scard.SCARD_S_SUCCESS:
                raise classify(hresult, context="watching the card readers")
            self._backoff = self._backoff_initial  # pcscd answered: healthy again
            states = []
            for name, event, atr in new_states:
                if name == PNP_NOTIFICATION:
                    if event & scard.SCARD_STATE_CHANGED:
                        raise _ReadersChanged
                elif event & scard.SCARD_STATE_UNKNOWN:  # unplugged since we listed it
                    raise _ReadersChanged
                else:
                    self._sync_card(name, event, atr)
                states.append((name, event & ~scard.SCARD_STATE_CHANGED))

    # --- state diffing (pure bookkeeping + queue.put) --------------------------------------------------

    def _sync_readers(self, names: list[str]) -> None:
        for name in [n for n in self._readers if n not in names]:
            self._drop_card(name)
            self._put(ReaderRemoved(name))
        for name in [n for n in names if n not in self._readers]:
            self._put(ReaderAdded(name))
        self._readers = list(names)

    def _sync_card(self, name: str, event: int, atr: list[int]) -> None:
        state = reader_state(name, event, atr)
        before = self._cards.get(name)
        counter = event & _COUNTER_MASK
        if before is not None:
            atr_now = state.atr or b""
            if not state.card_present or before.counter != counter or before.atr != atr_now:
                self._drop_card(name)
                before = None
        if before is None and state.card_present:
            self._cards[name] = _Card(state.atr or b"", counter)
            self._put(CardInserted(name, state.atr or b""))

    def _drop_card(self, name: str) -> None:
        if self._cards.pop(name, None) is not None:
            self._put(CardRemoved(name))

    def _lose_all(self, exc: BaseException) -> None:
        """Report everything known as gone, then the cause."""
        error = classify(exc, context="watching the card readers")
        if isinstance(error, errors.ServiceUnavailable):
            log.warning("%s", error)
        else:  # not a daemon outage: a bug or an odd PC/SC state; keep the traceback for us
            log.error("card watcher failed, restarting: %s", error, exc_info=exc)
        self._sync_readers([])
        self._put(ServiceLost(str(error)))

    def _put(self, event: WatchEvent) -> None:
        log.debug("card watcher event: %s", type(event).__name__)
        self.events.put(event)
