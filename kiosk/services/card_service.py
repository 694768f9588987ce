"""The card service: one worker thread owns the reader's connection; flows queue jobs and get events back.

Why it is shaped like this:

* **PC/SC handles are not thread-safe**, and card I/O takes seconds on a real card (a certificate read is
  ~1–2 s, an RSA signature ~0.7 s). So exactly one worker thread per reader opens, uses and closes the
  connection, jobs are queued to it in order, and the UI thread never waits on the card: every job
  method returns a job id at once, and the outcome arrives later as ``JobFinished``/``JobFailed`` through
  ``post`` (in the app, the UI's ``Clock.schedule_once`` dispatcher; it must be callable from any thread).
* **Reading starts the moment a card is seen.** Recognition and the auth PIN counter come first (the PIN
  pad can appear after ~0.2 s); the certificate read and chain check (the slow part, no PIN needed)
  follow while the resident types — two results of one job (``card``, then ``prefetch``).
* **Reader events are translated here**: ``drivers.reader_events`` from ``drivers.pcsc.CardWatcher`` (or
  from ``drivers.sim.tray.SimulatedTray``, the in-process equivalent) become ``ReaderChanged`` /
  ``CardInserted`` / ``CardRemoved``. A small pump thread does it, so a card pulled during a long job is
  reported at once, not after the job.
* **Every insertion is numbered.** A job remembers the insertion it was queued for; if that card is gone
  the job fails with ``CardRemoved`` instead of touching whatever card is in the reader now.
* **Personal data travels only inside result objects the flow wipes** (``Verdict``, ``CardDetails``);
  PIN buffers are zeroed here when the job ends, whether it ran, failed or was skipped at shutdown.
  Logs name jobs, durations and error codes — never PINs, numbers or names.
* ``stop()`` stops the watcher, skips queued jobs and joins both threads: no thread is left behind.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

from drivers import errors
from drivers import reader_events as watch
from drivers.mynumber.basic4 import Basic4, parse_basic4, parse_my_number_ef
from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.integrity import check_card_info
from drivers.mynumber.pinpolicy import UNATTENDED, PinPolicy
from drivers.mynumber.session import zero
from drivers.mynumber.verifier import CardVerifier
from drivers.reader_events import Watcher
from drivers.transport import Transport
from kiosk.core.card_check import JOB_CARD, JOB_DETAILS, JOB_PREFETCH, JOB_VERIFY, CardDetails, CardReady, Prefetched
from kiosk.core.dispatch import Clock
from kiosk.core.events import CardInserted, CardRemoved, Event, JobFailed, JobFinished, ReaderChanged
from kiosk.core.view import ReaderState

LOG = logging.getLogger(__name__)

TransportFactory = Callable[[str], Transport]
VerifierFactory = Callable[[MyNumberCard], CardVerifier]


@dataclass(slots=True)
class _Job:
    kind: str  # "open" | "verify" | "details" | "close"
    job_id: int = 0
    insertion: int = 0
    reader: str = ""
    reuse: bool = False
    pin: bytearray | None = None


_STOP = object()


class CardService:
    """One reader, one worker thread. Implements ``kiosk.core.card_check.CardJobs``."""

    def __init__(self, transport_factory: TransportFactory, post: Callable[[Event], None], *,
                 verifier_factory: VerifierFactory, watcher: Watcher | None = None, clock: Clock,
                 policy: PinPolicy = UNATTENDED, readers: tuple[str, ...] = ()) -> None:
        self._transport_factory = transport_factory
        self._post_event = post
        self._verifier_factory = verifier_factory
        self._watcher = watcher
        self._clock = clock
        self._policy = policy
        self._patterns = readers
        self._ids = itertools.count(1)
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
        self._card: MyNumberCard | None = None
        self._verifier: CardVerifier | None = None
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
        """Stop the watcher, skip queued jobs (zeroing their PINs), close the card, join the threads."""
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

    # --- jobs (CardJobs) ------------------------------------------------------------------------------------

    def on_card_inserted(self, reader: str, atr: bytes = b"") -> int:
        """A card is in ``reader``: announce it and start reading at once (connect, recognise, prefetch)."""
        with self._lock:
            if self._stopping:
                return 0
            self._insertion += 1
            self._present = True
            insertion = self._insertion
        job_id = next(self._ids)
        self._post(CardInserted(reader, atr, job_id))
        self._enqueue(_Job("open", job_id, insertion, reader))
        return job_id

    def on_card_removed(self, reader: str) -> None:
        with self._lock:
            self._present = False
            stopping = self._stopping
        self._post(CardRemoved(reader))
        if not stopping:
            self._enqueue(_Job("close"))  # the worker owns the connection: it releases it

    def prefetch(self) -> int:
        """Read the card in the reader again (a new session with the card left in); same results as insertion."""
        job_id = next(self._ids)
        with self._lock:
            insertion, reader = self._insertion, self._reader or ""
        self._enqueue(_Job("open", job_id, insertion, reader, reuse=True))
        return job_id

    def verify(self, pin: bytearray) -> int:
        """All verifier checks with the auth PIN; the buffer is the service's now and is zeroed after."""
        return self._pin_job("verify", pin)

    def read_details(self, card_info_pin: bytearray) -> int:
        """Basic 4 + My Number with the card-info PIN, and their integrity checks; the buffer is zeroed after."""
        return self._pin_job("details", card_info_pin)

    def _pin_job(self, kind: str, pin: bytearray) -> int:
        job_id = next(self._ids)
        with self._lock:
            insertion = self._insertion
        self._enqueue(_Job(kind, job_id, insertion, pin=pin))
        return job_id

    def _enqueue(self, job: _Job) -> None:
        """Queue a job, or refuse (zeroing its PIN) once ``stop()`` began. Check and put happen under the
        lock ``stop()`` takes to set ``_stopping``, so no job can slip in behind the stop marker unzeroed."""
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
        if job.pin is not None:
            zero(job.pin)

    def _run(self, job: _Job) -> None:
        started = self._clock.now()
        try:
            if job.kind == "open":
                self._job_open(job)
            elif job.kind == "verify":
                self._job_verify(job)
            elif job.kind == "details":
                self._job_details(job)
            elif job.kind == "close":
                self._close()
        except Exception:  # a bug in a job must not kill the worker (and with it every later job)
            LOG.exception("card job %s failed unexpectedly", job.kind)
        finally:
            self._skip(job)  # zero the PIN whatever happened
        if job.kind != "close":
            LOG.info("card job %s (%d) took %.2f s", job.kind, job.job_id, self._clock.now() - started)

    def _card_for(self, job: _Job, *, reuse: bool = True) -> tuple[MyNumberCard, CardVerifier]:
        """The open card for the job's insertion; connects and recognises when needed."""
        with self._lock:
            current, present, reader = self._insertion, self._present, self._reader
        if not present:
            raise errors.NoCard("no card in the reader")
        if job.insertion != current:
            raise errors.CardRemoved("the card this job was for has been removed")
        if reuse and self._card is not None and self._verifier is not None and self._open_insertion == current:
            return self._card, self._verifier
        self._close()
        transport = self._transport_factory(job.reader or reader or "")
        self._transport, self._open_insertion = transport, current
        try:
            card = MyNumberCard(transport, self._policy)
            card.recognise()
            verifier = self._verifier_factory(card)
        except BaseException:
            self._close()
            raise
        self._card, self._verifier = card, verifier
        return card, verifier

    def _close(self) -> None:
        transport, self._transport = self._transport, None
        self._card = self._verifier = None
        self._open_insertion = -1
        if transport is not None:
            try:
                transport.close()
            except errors.CardError as exc:
                LOG.info("closing the card connection: %s", exc.code)

    def _job_open(self, job: _Job) -> None:
        stage = JOB_CARD
        try:
            card, verifier = self._card_for(job, reuse=job.reuse)
            auth = card.jpki.auth_pin_status()
            self._post(JobFinished(JOB_CARD, CardReady(auth), job.job_id))
            stage = JOB_PREFETCH
            checks = verifier.prefetch()
            pins = card.pin_statuses()
            self._post(JobFinished(JOB_PREFETCH, Prefetched(tuple(checks), tuple(pins)), job.job_id))
        except Exception as exc:
            self._failed(stage, job, exc)

    def _job_verify(self, job: _Job) -> None:
        assert job.pin is not None  # noqa: S101 - verify jobs always carry a PIN
        try:
            card, verifier = self._card_for(job)
            verdict = verifier.verify(job.pin)
            zero(job.pin)
            verdict.pin_statuses = card.pin_statuses()
            self._post(JobFinished(JOB_VERIFY, verdict, job.job_id))
        except Exception as exc:
            self._failed(JOB_VERIFY, job, exc)

    def _job_details(self, job: _Job) -> None:
        assert job.pin is not None  # noqa: S101 - details jobs always carry a PIN
        details = CardDetails(None, None)
        try:
            card, verifier = self._card_for(job)
            raw = verifier.read_card_info(job.pin)
            zero(job.pin)
            details.checks = tuple(check_card_info(raw.my_number_ef, raw.basic4_ef, raw.integrity_ef,
                                                   raw.cv_certificate, verifier.trust.cv_roots))
            details.my_number = _parsed_my_number(raw.my_number_ef)
            details.basic4 = _parsed_basic4(raw.basic4_ef)
            del raw
            # Reading the counters selects other applications, which also makes the card forget the
            # card-info PIN: showing the details again needs the PIN again.
            details.pins = tuple(card.pin_statuses())
            self._post(JobFinished(JOB_DETAILS, details, job.job_id))
        except Exception as exc:
            details.wipe()
            self._failed(JOB_DETAILS, job, exc)

    def _failed(self, job_name: str, job: _Job, exc: Exception) -> None:
        code = getattr(exc, "code", type(exc).__name__)
        if isinstance(exc, errors.CardError):
            LOG.info("card job %s (%d) failed: %s", job_name, job.job_id, code)
            if isinstance(exc, errors.TransportError):
                self._close()  # a broken connection is not reused; the next job reconnects
        else:
            LOG.error("card job %s (%d) failed: %s", job_name, job.job_id, code)
        self._post(JobFailed(job_name, exc, job.job_id))

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


def _parsed_my_number(ef: bytes | None) -> str | None:
    if ef is None:
        return None
    try:
        return parse_my_number_ef(ef)
    except errors.ProtocolError:
        return None  # the integrity checks say why; a malformed number is never shown


def _parsed_basic4(ef: bytes | None) -> Basic4 | None:
    if not ef:
        return None
    try:
        return parse_basic4(ef)
    except errors.ProtocolError:
        return None


__all__ = ["CardService", "TransportFactory", "VerifierFactory"]
