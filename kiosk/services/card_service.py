"""The card service: one worker thread owns the reader's connection and runs any card operation on it.

Why it is shaped like this:

* **PC/SC handles are not thread-safe**, and card I/O takes seconds on a real card (a certificate read is
  ~1–2 s, an RSA signature ~0.7 s). So exactly one worker thread per reader opens, uses and closes the
  connection, operations are queued to it in order, and the UI thread never waits on the card:
  ``submit`` returns a ticket at once, and the outcome arrives later as ``CardResult``/``CardFailed``
  through ``post`` (in the app, the UI's ``Clock.schedule_once`` dispatcher; callable from any thread).
* **The worker knows no operation.** It runs ``operation.run(open_card)`` for whatever typed operation a
  flow submitted (``kiosk.core.ports``) and posts the typed result; there is no list of job kinds here.
* **Connecting starts the moment a card is seen**, so the flow's first operation (recognition) finds the
  card open; the slow, PIN-free prefetch runs while the resident types.
* **Reader events are translated here**: ``drivers.reader_events`` from ``drivers.pcsc.CardWatcher`` (or
  from ``drivers.sim.tray.SimulatedTray``, the in-process equivalent) become ``ReaderChanged`` /
  ``CardInserted`` / ``CardRemoved``. A small pump thread does it, so a card pulled during a long
  operation is reported at once, not after it.
* **Every insertion is numbered.** An operation is submitted for an insertion; if that card is gone it
  fails with ``CardRemoved`` instead of touching whatever card is in the reader now.
* **Personal data travels only inside result objects the flow wipes**; PIN buffers inside operations are
  wiped here when the operation ends, whether it ran, failed or was skipped at shutdown. Logs name
  operations, durations and error codes — never PINs, numbers or names.
* ``stop()`` stops the watcher, skips queued operations and joins both threads: no thread is left behind.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from drivers import errors
from drivers import reader_events as watch
from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.pinpolicy import UNATTENDED, PinPolicy
from drivers.mynumber.verifier import CardVerifier
from drivers.reader_events import Watcher
from drivers.transport import Transport
from kiosk.core.dispatch import Clock
from kiosk.core.events import CardFailed, CardInserted, CardRemoved, CardResult, Event, ReaderChanged
from kiosk.core.ports import CardOperation, TicketCounter
from kiosk.core.view import ReaderState

LOG = logging.getLogger(__name__)

TransportFactory = Callable[[str], Transport]
VerifierFactory = Callable[[MyNumberCard], CardVerifier]


@dataclass(slots=True)
class _Job:
    """``operation`` None: connect and recognise only (queued at insertion, so the first operation the flow
    asks for finds the card open); ``close``: release the connection (the card was removed)."""

    ticket: int = 0
    insertion: int = 0
    operation: CardOperation[object] | None = None
    close: bool = False


@dataclass(frozen=True, slots=True)
class _OpenCard:
    """What an operation gets (``kiosk.core.ports.OpenCard``)."""

    card: MyNumberCard
    verifier: CardVerifier


_STOP = object()


class CardService:
    """One reader, one worker thread. Implements ``kiosk.core.ports.CardJobs``: any ``CardOperation``."""

    def __init__(self, transport_factory: TransportFactory, post: Callable[[Event], None], *,
                 verifier_factory: VerifierFactory, watcher: Watcher | None = None, clock: Clock,
                 policy: PinPolicy = UNATTENDED, readers: tuple[str, ...] = (),
                 tickets: Callable[[], int] | None = None, extended: bool | None = None) -> None:
        self._transport_factory = transport_factory
        self._post_event = post
        self._verifier_factory = verifier_factory
        self._watcher = watcher
        self._clock = clock
        self._policy = policy
        self._extended = extended  # [card] extended_apdus: None probes the reader once, True/False force it
        self._patterns = readers
        self._tickets = tickets or TicketCounter()
        self._lock = threading.Lock()  # guards the fields below, shared by the pump, the worker and callers
        self._reader: str | None = None
        self._readers: list[str] = []
        self._insertion = 0
        self._present = False
        self._started = False
        self._stopping = False
        self._jobs: queue.Queue[_Job | object] = queue.Queue()
        self._worker = threading.Thread(target=self._work, name="card-worker", daemon=True)
        self._pump = threading.Thread(target=self._pump_events, name="card-events", daemon=True)
        # Worker-thread state: only ever touched by the worker.
        self._transport: Transport | None = None
        self._open: _OpenCard | None = None
        self._open_insertion = -1

    # --- lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
        self._post(ReaderChanged(ReaderState.NO_READER.value))
        self._worker.start()
        if self._watcher is not None:
            self._pump.start()
            self._watcher.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the watcher, skip queued operations (wiping their PINs), close the card, join the threads."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            started = self._started
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher.events.put(_STOP)
        self._jobs.put(_STOP)
        if not started:
            self._drain()
            return
        for thread in (self._pump, self._worker):
            if thread.is_alive():
                thread.join(timeout)
                if thread.is_alive():
                    raise RuntimeError(f"the {thread.name} thread did not stop")

    def __enter__(self) -> CardService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def reader(self) -> str | None:
        return self._reader

    # --- the queue (CardJobs) -------------------------------------------------------------------------------

    def on_card_inserted(self, reader: str, atr: bytes = b"") -> int:
        """A card is in ``reader``: announce it (with its insertion number) and connect to it at once."""
        with self._lock:
            if self._stopping:
                return 0
            self._insertion += 1
            self._present = True
            insertion = self._insertion
        self._post(CardInserted(reader, atr, insertion))
        self._enqueue(_Job(insertion=insertion))
        return insertion

    def on_card_removed(self, reader: str) -> None:
        with self._lock:
            self._present = False
            stopping = self._stopping
        self._post(CardRemoved(reader))
        if not stopping:
            self._enqueue(_Job(close=True))  # the worker owns the connection: it releases it

    def submit(self, operation: CardOperation[object], *, insertion: int) -> int:
        """Queue ``operation`` for the card of ``insertion``; the outcome comes as CardResult/CardFailed."""
        ticket = self._tickets()
        self._enqueue(_Job(ticket, insertion, operation))
        return ticket

    def _enqueue(self, job: _Job) -> None:
        """Queue a job, or refuse (wiping its PIN) once ``stop()`` began. Check and put happen under the
        lock ``stop()`` takes to set ``_stopping``, so no job can slip in behind the stop marker unwiped."""
        with self._lock:
            if not self._stopping:
                self._jobs.put(job)
                return
        self._skip(job)
        raise RuntimeError("the card service is stopped")

    def _post(self, event: Event) -> None:
        try:
            self._post_event(event)
        except Exception:
            LOG.exception("posting %s failed", type(event).__name__)

    # --- the worker -----------------------------------------------------------------------------------------

    def _work(self) -> None:
        try:
            while True:
                job = self._jobs.get()
                if job is _STOP:
                    break
                assert isinstance(job, _Job)  # noqa: S101 - only _Job and _STOP are ever queued
                if self._stopping:
                    self._skip(job)
                    continue
                self._run(job)
        finally:
            self._drain()
            self._close()

    def _drain(self) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if isinstance(job, _Job):
                self._skip(job)

    @staticmethod
    def _skip(job: _Job) -> None:
        if job.operation is not None:
            job.operation.wipe()

    def _run(self, job: _Job) -> None:
        if job.close:
            self._close()
            return
        started = self._clock.now()
        name = type(job.operation).__name__ if job.operation is not None else "connect"
        try:
            card = self._card_for(job)
            if job.operation is not None:
                result = job.operation.run(card)
                self._post(CardResult(job.ticket, result))
        except Exception as exc:  # a bug in an operation must not kill the worker (and every later job)
            self._failed(name, job, exc)
        finally:
            self._skip(job)  # wipe the PIN whatever happened
        LOG.info("card operation %s (%d) took %.2f s", name, job.ticket, self._clock.now() - started)

    def _card_for(self, job: _Job) -> _OpenCard:
        """The open card for the job's insertion; connects and recognises when needed."""
        with self._lock:
            current, present, reader = self._insertion, self._present, self._reader
        if not present:
            raise errors.NoCard("no card in the reader")
        if job.insertion != current:
            raise errors.CardRemoved("the card this operation was for has been removed")
        if self._open is not None and self._open_insertion == current:
            return self._open
        self._close()
        transport = self._transport_factory(reader or "")
        self._transport, self._open_insertion = transport, current
        try:
            card = MyNumberCard(transport, self._policy, extended=self._extended)
            card.recognise()
            self._open = _OpenCard(card, self._verifier_factory(card))
        except BaseException:
            self._close()
            raise
        return self._open

    def _close(self) -> None:
        transport, self._transport = self._transport, None
        self._open = None
        self._open_insertion = -1
        if transport is not None:
            try:
                transport.close()
            except errors.CardError as exc:
                LOG.info("closing the card connection: %s", exc.code)

    def _failed(self, name: str, job: _Job, exc: Exception) -> None:
        code = getattr(exc, "code", type(exc).__name__)
        if isinstance(exc, errors.CardError):
            LOG.info("card operation %s (%d) failed: %s", name, job.ticket, code)
            if isinstance(exc, errors.TransportError | errors.NotAMyNumberCard):
                self._close()  # a broken connection is not reused; the next operation reconnects
        else:
            LOG.error("card operation %s (%d) failed: %s", name, job.ticket, code)
        if job.operation is not None:
            self._post(CardFailed(job.ticket, exc))

    # --- reader events --------------------------------------------------------------------------------------

    def _pump_events(self) -> None:
        assert self._watcher is not None  # noqa: S101 - the pump only runs with a watcher
        while True:
            event = self._watcher.events.get()
            if event is _STOP or self._stopping:
                return
            try:
                self.on_watch_event(event)
            except Exception:
                LOG.exception("reader event %s could not be handled", type(event).__name__)

    def _wanted(self, reader: str) -> bool:
        return not self._patterns or any(pattern in reader for pattern in self._patterns)

    def on_watch_event(self, event: object) -> None:
        """Translate one watcher event (``drivers.pcsc.watcher`` types) into kiosk events and jobs."""
        if isinstance(event, watch.ReaderAdded):
            self._reader_added(event.name)
        elif isinstance(event, watch.ReaderRemoved):
            self._reader_removed(event.name)
        elif isinstance(event, watch.CardInserted):
            if event.reader == self._reader:
                self.on_card_inserted(event.reader, event.atr)
        elif isinstance(event, watch.CardRemoved):
            if event.reader == self._reader:
                self.on_card_removed(event.reader)
        elif isinstance(event, watch.ServiceLost):
            self._service_lost()
        elif isinstance(event, watch.ServiceRestored):
            self._post(ReaderChanged(ReaderState.NO_READER.value))

    def _reader_added(self, name: str) -> None:
        if not self._wanted(name):
            LOG.info("reader %r ignored (not in card.readers)", name)
            return
        with self._lock:
            if name not in self._readers:
                self._readers.append(name)
            adopted = self._reader is None
            if adopted:
                self._reader = name
        if adopted:
            self._post(ReaderChanged(ReaderState.READY.value, name))

    def _reader_removed(self, name: str) -> None:
        with self._lock:
            if name in self._readers:
                self._readers.remove(name)
            if name != self._reader:
                return
            had_card = self._present
            self._reader = self._readers[0] if self._readers else None
            replacement = self._reader
        if had_card:
            self.on_card_removed(name)
        if replacement is not None:
            self._post(ReaderChanged(ReaderState.READY.value, replacement))
        else:
            self._post(ReaderChanged(ReaderState.READER_LOST.value, name))

    def _service_lost(self) -> None:
        with self._lock:
            had_card, reader = self._present, self._reader
            self._readers.clear()
            self._reader = None
        if had_card and reader is not None:
            self.on_card_removed(reader)
        self._post(ReaderChanged(ReaderState.SERVICE_DOWN.value))


__all__ = ["CardService", "TransportFactory", "VerifierFactory"]
