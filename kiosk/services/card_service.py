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
* **Reader events are translated here**: ``drivers.pcsc.CardWatcher`` events (or ``SimulatedTray``'s, the
  in-process equivalent) become ``ReaderChanged``/``CardInserted``/``CardRemoved``. A small pump thread
  does it, so a card pulled during a long job is reported at once, not after the job.
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
import os
import queue
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from drivers import errors
from drivers.mynumber.basic4 import Basic4, parse_basic4, parse_my_number_ef
from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.integrity import check_card_info
from drivers.mynumber.pinpolicy import UNATTENDED, PinPolicy
from drivers.mynumber.session import zero
from drivers.mynumber.trust import TrustStore
from drivers.mynumber.verifier import CardVerifier, RevocationChecker, VerifierConfig
from drivers.pcsc import watcher as watch
from drivers.sim.factory import open_simulated_card
from drivers.sim.faults import FaultPlan, FaultyCard, Icc
from drivers.sim.profile import BUNDLED_PROFILES
from drivers.sim.transport import SimTransport
from drivers.transport import Transport
from kiosk.config import ConfigError, KioskConfig
from kiosk.core.card_check import JOB_CARD, JOB_DETAILS, JOB_PREFETCH, JOB_VERIFY, CardDetails, CardReady, Prefetched
from kiosk.core.dispatch import Clock
from kiosk.core.events import CardInserted, CardRemoved, Event, JobFailed, JobFinished, ReaderChanged
from kiosk.core.view import ReaderState

LOG = logging.getLogger(__name__)

TransportFactory = Callable[[str], Transport]
VerifierFactory = Callable[[MyNumberCard], CardVerifier]


class Watcher(Protocol):
    """``drivers.pcsc.CardWatcher`` or ``SimulatedTray``: ``watch.*`` events in ``events`` after ``start()``."""

    events: queue.Queue[Any]

    def start(self) -> None: ...

    def stop(self) -> None: ...


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


# --- the simulated tray: in-process cards behind the same events as a real reader -------------------------


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
        self.events: queue.Queue[Any] = queue.Queue()
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


# --- wiring from the configuration ---------------------------------------------------------------------------


def trust_store_from_config(config: KioskConfig) -> TrustStore:
    """The configured trust folder; with the simulator and no folder, the generated test PKI."""
    folder = config.verification.trust_store
    if folder:
        return TrustStore.from_directory(config.resolve(folder))
    if not config.simulator.enabled:
        where = config.source or "the configuration"
        raise ConfigError(f"{where}: verification.trust_store must name the folder with the J-LIS CA certificates")
    from drivers.sim import pki  # test PKI: only for the simulator

    with tempfile.TemporaryDirectory(prefix="kiosk-test-trust-") as generated:  # loaded into memory, then gone
        pki.write_trust_store(generated)
        return TrustStore.from_directory(generated)


def verifier_factory_from_config(config: KioskConfig, *, trust: TrustStore | None = None,
                                 revocation: RevocationChecker | None = None) -> VerifierFactory:
    """``card → CardVerifier`` with the configured trust, required checks and renewal window.

    ``revocation``: e.g. ``CentralRevocationChecker(CentralClient.from_config(config))`` — a client of its
    own, since it is used on the card worker thread. None: revocation is "not checked".
    """
    store = trust if trust is not None else trust_store_from_config(config)
    settings = VerifierConfig(required=frozenset(config.verification.required_checks),
                              renewal_months=config.verification.renewal_months)

    def make(card: MyNumberCard) -> CardVerifier:
        return CardVerifier(card, store, config=settings, revocation=revocation)

    return make


__all__ = [
    "CardService",
    "SimulatedTray",
    "TransportFactory",
    "VerifierFactory",
    "Watcher",
    "trust_store_from_config",
    "verifier_factory_from_config",
]
