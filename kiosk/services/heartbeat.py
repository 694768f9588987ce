"""Heartbeats: the kiosk tells the central server, on a timer, how it is — so operators see a kiosk that is
switched off, has lost its reader or cannot deliver, before a resident finds out (``kiosk server kiosks``).

What one heartbeat says (``CentralClient.heartbeat``) — counts, ages and codes, never anything about a
resident, never a message (an exception's text can hold anything):

* ``reader_state``: ``ok``, ``no_reader``, ``card_present`` or ``reader_error``, followed from the card
  service's events (``HealthState.watching`` wraps the ``post`` it is given, so it sees what the flows see);
* the outbox's depth, its oldest queued item's age and its dead items (``Outbox.backlog``: one cheap read);
* the app's version, and the last error as a short code with its age: ``reader_error``,
  ``server_unreachable``, ``tls_error``, ``server_error``, ``heartbeat_refused``, ``outbox_refused`` (an item
  the server refused for good). Codes pass ``contract.audit``'s rule for codes or become ``error``.

How it runs (``HeartbeatSender``): its own daemon thread, so the UI thread never waits for the network; one
heartbeat at start, then every ``[server] heartbeat_seconds``, and a few seconds after the reader changes
(no sooner than ``min_gap`` after the last one), so a reader that fails shows at once, not a minute later.
When the server cannot be reached it keeps going, and logs the outage once (and its end), not every
minute. When an operator has disabled this kiosk (403 ``kiosk_disabled``) it logs that once, in words, and
keeps asking at the same pace, so being enabled again is noticed. ``stop()`` ends it within a second; a
request in flight to a server that hangs finishes on its own within the client's timeouts (the thread is a
daemon: it never holds the process up).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contract.audit import AuditInvalid, check_details
from drivers import errors as card_errors
from kiosk import __version__
from kiosk.core.events import CardFailed, CardInserted, CardRemoved, Event, ReaderChanged
from kiosk.core.view import ReaderState
from kiosk.services.errors import (
    DISABLED,
    CentralError,
    Rejected,
    ServerError,
    ServerTimeout,
    ServerUnreachable,
    TlsError,
    kiosk_refusal,
)

log = logging.getLogger(__name__)

OK, NO_READER, CARD_PRESENT, READER_ERROR = "ok", "no_reader", "card_present", "reader_error"
READER_STATES = (OK, NO_READER, CARD_PRESENT, READER_ERROR)
_FROM_VIEW = {
    ReaderState.NO_READER.value: NO_READER,
    ReaderState.READY.value: OK,
    ReaderState.CARD_PRESENT.value: CARD_PRESENT,
    ReaderState.NOT_MY_NUMBER.value: CARD_PRESENT,  # a card is in: the reader works
    ReaderState.READER_LOST.value: NO_READER,  # unplugged
    ReaderState.SERVICE_DOWN.value: READER_ERROR,  # pcscd gone: no reader can be used
}
# Card failures that are the reader's (or pcscd's), not the card's or the resident's.
_READER_FAILURES = (card_errors.ReaderError, card_errors.ServiceUnavailable)  # a timeout may be the card's
MIN_INTERVAL_SECONDS = 5
OUTAGE = "outage"  # network, TLS or server trouble: one stretch however each try failed
FALLBACK_CODE = "error"


def error_code(code: str) -> str:
    """``code`` when it is a code by ``contract.audit``'s rule (lower case, no runs of digits), else ``error``."""
    try:
        check_details({"code": code})
    except AuditInvalid:
        return FALLBACK_CODE
    return code


class HealthState:
    """The reader's state and the kiosk's last error, written from the card service's threads and the
    sender's, read by the sender. ``on_change`` (the sender's ``wake``) is called when the reader changes."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock  # wall clock: an error's age must survive a suspended machine
        self._lock = threading.Lock()
        self._reader = NO_READER
        self._error: tuple[str, float] | None = None
        self.on_change: Callable[[], None] | None = None

    @property
    def reader_state(self) -> str:
        with self._lock:
            return self._reader

    def note_error(self, code: str) -> None:
        """Remember ``code`` (checked: never free text) as the last error, now."""
        with self._lock:
            self._error = (error_code(code), self._clock())

    def last_error(self) -> tuple[str, float] | None:
        """(code, age in seconds) of the last error, or None."""
        with self._lock:
            error = self._error
        return None if error is None else (error[0], max(0.0, self._clock() - error[1]))

    def observe(self, event: object) -> None:
        """Follow one card-service event (anything else is ignored)."""
        state: str | None = None
        if isinstance(event, ReaderChanged):
            state = _FROM_VIEW.get(event.state, READER_ERROR)
        elif isinstance(event, CardInserted):
            state = CARD_PRESENT
        elif isinstance(event, CardRemoved):
            state = OK
        elif isinstance(event, CardFailed) and isinstance(event.error, _READER_FAILURES):
            state = READER_ERROR
        if state is None:
            return
        if state == READER_ERROR:
            self.note_error(READER_ERROR)
        with self._lock:
            changed, self._reader = self._reader != state, state
        if changed and self.on_change is not None:
            self.on_change()

    def watching(self, post: Callable[[Event], None]) -> Callable[[Event], None]:
        """``post`` that also lets this state see each event first (for ``CardService``)."""

        def forward(event: Event) -> None:
            try:
                self.observe(event)
            except Exception as exc:  # the flows must get their event whatever happens here
                log.error("heartbeat: a reader event could not be followed (%s)", type(exc).__name__)
            post(event)

        return forward


@dataclass(frozen=True)
class Report:
    """One heartbeat's body (``CentralClient.heartbeat``'s keyword arguments)."""

    version: str
    reader_state: str
    outbox_depth: int
    outbox_oldest_age_seconds: float | None
    outbox_dead: int | None
    last_error_code: str | None
    last_error_age_seconds: float | None

    def as_kwargs(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _failure_code(exc: CentralError) -> str:
    if isinstance(exc, ServerUnreachable | ServerTimeout):
        return "server_unreachable"
    if isinstance(exc, TlsError):
        return "tls_error"
    if isinstance(exc, ServerError):
        return "server_error"
    return "heartbeat_refused"


class HeartbeatSender:
    """Sends ``Report``s from its own thread (see the module docstring). ``client_factory`` makes the
    ``CentralClient`` on that thread (a client is never shared between threads); ``outbox`` (or None) is
    read with ``backlog()``. ``on_service(in_service)`` hears when the server starts or stops refusing this
    kiosk as disabled (on a change only; called on the sender's thread)."""

    def __init__(
        self,
        client_factory: Callable[[], Any],
        *,
        interval: float,
        health: HealthState,
        outbox: Any = None,
        version: str = __version__,
        min_gap: float = float(MIN_INTERVAL_SECONDS),
        name: str = "heartbeat",
        on_service: Callable[[bool], None] | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("the heartbeat interval must be positive (0 means no sender at all)")
        self._client_factory = client_factory
        self._client: Any = None
        self._interval = interval
        self._health = health
        self._outbox = outbox
        self._version = version
        self._min_gap = min(min_gap, interval)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._trouble: str | None = None  # the failure being sat out (logged once), None while all is well
        self._failures = 0
        self._dead_seen: int | None = None
        self._on_service = on_service
        self._in_service = True
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        health.on_change = self.wake

    def start(self) -> HeartbeatSender:
        self._thread.start()
        return self

    def wake(self) -> None:
        """Send soon (the reader changed); never sooner than ``min_gap`` after the last heartbeat."""
        self._wake.set()

    def stop(self, timeout: float = 1.0) -> bool:
        """End the thread; True when it has ended within ``timeout``."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        stopped = not self._thread.is_alive()
        if not stopped:
            log.info("heartbeat: a heartbeat is still in flight; the thread ends after its timeout")
        return stopped

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # --- the thread -----------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._beat()
                self._pause(time.monotonic())
        finally:
            if self._client is not None:
                self._client.close()

    def _pause(self, sent_at: float) -> None:
        """Until the next heartbeat is due, or shortly after a wake-up (reader change), or stop."""
        deadline = sent_at + self._interval
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self._wake.wait(remaining):
                self._wake.clear()
                if not self._stop.is_set():
                    self._stop.wait(max(0.0, sent_at + self._min_gap - time.monotonic()))
                return

    def report(self) -> Report:
        """What the next heartbeat says (read on the sender's thread; cheap)."""
        depth, oldest, dead = 0, None, None
        if self._outbox is not None:
            backlog = self._outbox.backlog()
            depth, oldest, dead = backlog.depth, backlog.oldest_age_seconds, backlog.dead
            if self._dead_seen is not None and dead > self._dead_seen:
                self._health.note_error("outbox_refused")
            self._dead_seen = dead
        error = self._health.last_error()
        return Report(
            version=self._version,
            reader_state=self._health.reader_state,
            outbox_depth=depth,
            outbox_oldest_age_seconds=None if oldest is None else round(oldest, 1),
            outbox_dead=dead,
            last_error_code=None if error is None else error[0],
            last_error_age_seconds=None if error is None else round(error[1], 1),
        )

    def _beat(self) -> None:
        try:
            report = self.report()
        except Exception as exc:  # e.g. the outbox's disk failed: report next time
            log.error("heartbeat: the report could not be made (%s)", type(exc).__name__)
            return
        try:
            if self._client is None:
                self._client = self._client_factory()
            self._client.heartbeat(**report.as_kwargs())
        except Rejected as exc:
            sentence = kiosk_refusal(exc)
            if exc.code == DISABLED:  # an operator's decision, not an error of the kiosk's
                self._failed(DISABLED, str(sentence), note=False)
                self._service(False)
            elif sentence is not None:
                self._failed(exc.code, sentence)
            else:
                self._failed(_failure_code(exc), f"the central server refused the heartbeat ({exc.code})")
        except CentralError as exc:
            # CentralError sentences name the server, a file or a status, never a body: fit for the log
            self._failed(_failure_code(exc), f"{exc} [{exc.code}]; the kiosk works on and its outbox keeps "
                                             "applications until they can be delivered", stretch=OUTAGE)
        except Exception as exc:  # a bug, a client that cannot be built: keep the thread, say what it was
            self._failed("heartbeat_failed", f"the heartbeat failed ({type(exc).__name__})", note=False)
        else:
            if self._trouble is not None:
                log.info("heartbeat: the central server takes heartbeats again (%d failed before)", self._failures)
            self._trouble, self._failures = None, 0
            self._service(True)

    def _service(self, in_service: bool) -> None:
        if in_service == self._in_service:
            return
        self._in_service = in_service
        if self._on_service is not None:
            try:
                self._on_service(in_service)
            except Exception:  # a listener's bug must not stop the heartbeat
                log.exception("heartbeat: the in-service listener failed")

    def _failed(self, code: str, sentence: str, *, note: bool = True, stretch: str | None = None) -> None:
        """Log once per stretch of the same trouble (``stretch``, default the code: an outage is one stretch
        whether a try was refused, timed out or hit a 503); remember the code as the last error (``note``)
        to report when the server answers again. Being disabled is an operator's decision, not an error."""
        if note:
            self._health.note_error(code)
        self._failures += 1
        stretch = stretch or code
        if stretch != self._trouble:
            level = logging.ERROR if code == DISABLED else logging.WARNING
            log.log(level, "heartbeat: %s; trying again every %g s (logged once)", sentence, self._interval)
        self._trouble = stretch


def heartbeat_from_config(config: Any, health: HealthState, outbox: Any = None,
                          on_service: Callable[[bool], None] | None = None) -> HeartbeatSender | None:
    """The sender ``[server]`` asks for (not started), or None: no central server, or ``heartbeat_seconds``
    is 0. ``ConfigError`` for an interval that is negative or shorter than 5 s."""
    from kiosk.config import ConfigError

    seconds = config.server.heartbeat_seconds
    if not config.server.configured or seconds == 0:
        return None
    if seconds < MIN_INTERVAL_SECONDS:
        raise ConfigError(f"{config.source or 'the configuration'}: server.heartbeat_seconds must be 0 (off) or at "
                          f"least {MIN_INTERVAL_SECONDS}, got {seconds}")
    from kiosk.services.central import CentralClient

    return HeartbeatSender(lambda: CentralClient.from_config(config), interval=float(seconds), health=health,
                           outbox=outbox, on_service=on_service)


__all__ = ["READER_STATES", "HealthState", "HeartbeatSender", "Report", "error_code", "heartbeat_from_config"]
