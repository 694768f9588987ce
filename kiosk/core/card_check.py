"""The resident card check: "is my card all right, and what does it say?" as an explicit state machine.

Events in (``kiosk.core.events``), an immutable ``ViewState`` out, card work delegated to ``CardJobs``
(the card service in the app, a fake in tests). No Kivy, no threads, no sleeping: the flow runs on the
dispatcher's thread and learns about time only from ``Tick`` events and the injected clock.

Decisions worth knowing (the README's design section repeats them):

* **Two PINs, asked separately.** Verification needs only the auth PIN (利用者証明用, 4 digits). The basic
  4 information needs the card-info PIN (券面事項入力補助用) and is asked for only when the resident presses
  "show details" — a second PIN pad with the message ``pin.card_info``. The auth PIN is never reused for
  it: many residents set different PINs, and a silent wrong guess would spend a card-info try.
* **The counter decides before the pad appears.** The auth PIN's tries are read (without spending one) as
  soon as the card is recognised; if the PIN policy would refuse the next try (the last one at an
  unattended kiosk) or the PIN is blocked, the resident goes to the counter without typing anything.
  The card service applies the same policy again before any VERIFY: the driver is the real guard.
* **Card removal ends the session everywhere.** Personal data and the PIN are wiped and the session id
  changes. Where the resident goes next depends on what was interrupted: pulled mid-check (reading, PIN,
  verifying) or from an error screen → ``INSERT_CARD`` (with ``error.card_removed`` when mid-check), and
  the display preferences are kept because the same person is almost certainly still there; taken out
  after the result or a "go to the counter" → ``ATTRACT`` with everything reset (they are leaving). The
  idle timer still runs on ``INSERT_CARD``, so an abandoned restart falls back to ``ATTRACT`` with defaults.
* **Stale job results are dropped.** Every job has an id; results are accepted only for the job the flow
  is waiting for, and personal data in a stale result is wiped on arrival.
* **Personal data has the shortest life possible.** The verdict and the card details are wiped as soon as
  the view lines are made from them; the display strings live in the flow only while details are shown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from drivers import errors
from drivers.mynumber.basic4 import Basic4
from drivers.mynumber.certificates import ValidityReport
from drivers.mynumber.integrity import CheckResult
from drivers.mynumber.pinpolicy import POLICIES
from drivers.mynumber.session import PinStatus
from drivers.mynumber.verifier import Verdict, is_verified
from kiosk.config import KioskConfig
from kiosk.core import messages as m
from kiosk.core.dispatch import Clock, Dispatcher
from kiosk.core.events import (
    CallStaff,
    Cancel,
    CardInserted,
    CardRemoved,
    Event,
    Finish,
    HideDetails,
    JobFailed,
    JobFinished,
    LanguageChosen,
    MoreTime,
    PinBackspace,
    PinClear,
    PinDigit,
    PinSubmit,
    ReaderChanged,
    ShowDetails,
    Start,
    Tick,
    ToggleHighContrast,
    ToggleLargeText,
    ToggleShowPin,
    ToggleSpeech,
    Touched,
)
from kiosk.core.session import PIN_LENGTH, Session
from kiosk.core.view import PinPadView, ReaderState, ResultView, Screen, ViewState

LOG = logging.getLogger(__name__)

# --- the contract with the card service -------------------------------------------------------------------

JOB_CARD = "card"  # recognised + auth PIN counter: the PIN pad can appear (first result of an open job)
JOB_PREFETCH = "prefetch"  # auth certificate read and checked, every PIN counter (second result, same id)
JOB_VERIFY = "verify"  # result: drivers.mynumber.verifier.Verdict (pin_statuses filled in after the VERIFY)
JOB_DETAILS = "details"  # result: CardDetails


@dataclass(frozen=True, slots=True)
class CardReady:
    """The card answers as a My Number card; the auth PIN counter as read (no try spent)."""

    auth: PinStatus


@dataclass(frozen=True, slots=True)
class Prefetched:
    """What needs no PIN: the auth certificate's checks (chain, validity, key usage) and every PIN counter.

    Dates come with the verdict; the result screen needs the verdict anyway.
    """

    checks: tuple[CheckResult, ...]
    pins: tuple[PinStatus, ...]


@dataclass(slots=True, repr=False)
class CardDetails:
    """The basic 4 and the My Number (personal data: ``wipe()`` it), with the card-info integrity checks."""

    my_number: str | None
    basic4: Basic4 | None
    checks: tuple[CheckResult, ...] = ()
    pins: tuple[PinStatus, ...] = ()

    def wipe(self) -> None:
        self.my_number = None
        self.basic4 = None

    def __repr__(self) -> str:
        held = "held" if self.my_number is not None or self.basic4 is not None else "wiped"
        return f"CardDetails(<{held}>, checks={[f'{c.name}={c.status}' for c in self.checks]})"


class CardJobs(Protocol):
    """Card work, queued to the worker that owns the reader. Each call returns at once with a job id;
    the outcome comes back as ``JobFinished``/``JobFailed`` carrying that id. PIN buffers are handed
    over: the receiver zeroes them when done."""

    def prefetch(self) -> int: ...

    def verify(self, pin: bytearray) -> int: ...

    def read_details(self, card_info_pin: bytearray) -> int: ...


# --- the flow -----------------------------------------------------------------------------------------------

_NOT_USABLE = frozenset({ReaderState.NO_READER, ReaderState.READER_LOST, ReaderState.SERVICE_DOWN})
_MID_CHECK = frozenset({Screen.READING, Screen.PIN_ENTRY, Screen.VERIFYING})
_DONE = frozenset({Screen.RESULT, Screen.GO_TO_COUNTER})
_PIN_ORDER = ("auth", "sign", "card_info", "juki")


@dataclass(slots=True)
class _Busy:
    """The one job whose result the busy screen waits for, and when to stop waiting."""

    job: str
    job_id: int
    deadline: float


@dataclass(slots=True)
class _CardFacts:
    """What this card session learnt; personal data only in ``details`` (display strings)."""

    pins: dict[str, PinStatus] = field(default_factory=dict)
    checks: tuple[CheckResult, ...] = ()
    required: frozenset[str] = frozenset()
    validity: ValidityReport | None = None
    not_after: datetime | None = None
    verified: bool = False
    details: tuple[tuple[str, str], ...] | None = None


class CardCheckFlow:
    """``handle(event)`` on the dispatcher's thread; ``state`` is the latest ``ViewState``."""

    def __init__(self, dispatcher: Dispatcher, card_jobs: CardJobs, clock: Clock, config: KioskConfig, *,
                 on_call_staff: Callable[[], None] | None = None) -> None:
        self._jobs = card_jobs
        self._clock = clock
        self._languages = config.kiosk.languages or ("ja",)
        self._policy = POLICIES[config.kiosk.mode]
        self._operation_seconds = config.timeouts.card_operation_seconds
        self._on_call_staff = on_call_staff
        self._session = Session.from_timeouts(config.timeouts, self._languages[0])
        self._screen = Screen.ATTRACT
        self._reader = ReaderState.NO_READER
        self._card_present = False
        self._not_my_number = False
        self._card_job: int | None = None  # the open/prefetch job whose results belong to this session
        self._busy: _Busy | None = None
        self._pin_kind: str | None = None  # "auth" | "card_info" while the pad is up
        self._message: m.Message | None = None
        self._pin_error: m.Message | None = None
        self._idle_warning: int | None = None
        self._facts = _CardFacts()
        self._subscribers: list[Callable[[ViewState], None]] = []
        self._handlers: dict[type[Event], Callable[[Event], None]] = self._handler_table()
        self.state = self._view()
        connect = getattr(dispatcher, "connect", None)
        if callable(connect):  # SyncDispatcher; the UI's dispatcher is built around flow.handle instead
            connect(self.handle)

    # --- public -------------------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[ViewState], None]) -> Callable[[], None]:
        """``callback(state)`` after every change; returns the function that unsubscribes."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def handle(self, event: Event) -> None:
        handler = self._handlers.get(type(event))
        if handler is None:
            return  # events of other flows
        handler(event)
        self._publish()

    # --- plumbing -----------------------------------------------------------------------------------------

    def _handler_table(self) -> dict[type[Event], Callable]:
        return {
            Tick: self._on_tick, Touched: self._on_touched, Start: self._on_start,
            ReaderChanged: self._on_reader_changed, CardInserted: self._on_card_inserted,
            CardRemoved: self._on_card_removed, JobFinished: self._on_job_finished, JobFailed: self._on_job_failed,
            PinDigit: self._on_pin_digit, PinBackspace: self._on_pin_backspace, PinClear: self._on_pin_clear,
            ToggleShowPin: self._on_toggle_show_pin, PinSubmit: self._on_pin_submit,
            ShowDetails: self._on_show_details, HideDetails: self._on_hide_details,
            Cancel: self._on_cancel, Finish: self._on_finish, MoreTime: self._on_more_time,
            CallStaff: self._on_call_staff_event, LanguageChosen: self._on_language,
            ToggleLargeText: self._on_toggle_large_text, ToggleHighContrast: self._on_toggle_high_contrast,
            ToggleSpeech: self._on_toggle_speech,
        }

    def _publish(self) -> None:
        state = self._view()
        if state == self.state:
            return
        self.state = state
        for callback in list(self._subscribers):
            try:
                callback(state)
            except Exception:
                LOG.exception("a view-state subscriber failed")

    def _now(self) -> float:
        return self._clock.now()

    def _activity(self) -> None:
        """The person did something: the idle period starts again and the warning goes away."""
        self._session.touch(self._now())
        self._idle_warning = None

    # --- screens ------------------------------------------------------------------------------------------

    def _go(self, screen: Screen, message: m.Message | None = None) -> None:
        if screen is not Screen.PIN_ENTRY:
            self._session.pin.clear()
            self._pin_kind = None
            self._pin_error = None
        self._screen = screen
        self._message = message

    def _go_busy(self, screen: Screen, job: str, job_id: int) -> None:
        self._go(screen, m.Message(m.CARD_KEEP_STILL))
        self._busy = _Busy(job, job_id, self._now() + self._operation_seconds)
        self._session.pause()
        self._idle_warning = None

    def _not_busy(self) -> None:
        self._busy = None
        self._session.resume(self._now())

    def _go_pin_entry(self, kind: str, error: m.Message | None = None) -> None:
        self._go(Screen.PIN_ENTRY, m.Message(m.PIN_AUTH if kind == "auth" else m.PIN_CARD_INFO))
        self._session.pin.clear()
        self._pin_kind = kind
        self._pin_error = error

    def _go_insert_card(self, message: m.Message | None = None) -> None:
        if self._reader in _NOT_USABLE:
            self._go(Screen.ERROR, m.Message(m.ERROR_READER))
        elif self._card_present:
            self._open_card(0)  # a card already in the reader (e.g. left in after "Done"): read it again
        else:
            self._go(Screen.INSERT_CARD, message)

    def _open_card(self, job_id: int) -> None:
        self._facts = _CardFacts()
        self._not_my_number = False
        if not job_id:
            try:
                job_id = self._jobs.prefetch()
            except Exception as exc:
                LOG.error("could not start reading the card: %s", type(exc).__name__)
                self._go(Screen.ERROR, m.message_for_error(exc))
                return
        self._card_job = job_id
        self._go_busy(Screen.READING, JOB_CARD, job_id)

    def _end_session(self) -> None:
        """Back to the start: everything wiped, preferences reset (the next resident)."""
        self._session.end()
        self._reset_card_session()
        self._go(Screen.ATTRACT)

    def _restart_for_same_person(self, message: m.Message | None) -> None:
        """Wiped and a new session id, but the display preferences stay (see the module docstring)."""
        self._session.end(keep_preferences=True)
        self._session.begin(self._now())
        self._reset_card_session()
        self._go_insert_card(message)

    def _reset_card_session(self) -> None:
        self._facts = _CardFacts()
        self._card_job = None
        self._busy = None
        self._not_my_number = False
        self._idle_warning = None

    def _card_lost(self) -> None:
        """The card is gone (removed, or a job found it gone): end the session wherever we are."""
        screen = self._screen
        if screen in _MID_CHECK:
            self._restart_for_same_person(m.Message(m.ERROR_CARD_REMOVED))
        elif screen is Screen.ERROR:
            self._restart_for_same_person(None)
        elif screen in _DONE:
            self._end_session()
        else:  # ATTRACT / INSERT_CARD: nothing of this card is on screen, but wipe anyway
            self._session.wipe_personal_data()
            self._reset_card_session()

    # --- time -----------------------------------------------------------------------------------------------

    def _on_tick(self, event: Tick) -> None:
        now = event.now
        if self._busy is not None and now >= self._busy.deadline:
            self._operation_timed_out(self._busy)
        idle = self._session.idle(now)
        if idle.expired:
            LOG.info("session %d ended after the idle time-out", self._session.id)
            self._end_session()
            return
        self._idle_warning = idle.warning
        if self._screen is Screen.PIN_ENTRY and self._session.pin_timed_out(now):
            self._session.pin.clear()
            self._pin_error = m.Message(m.PIN_TIMEOUT)

    def _operation_timed_out(self, busy: _Busy) -> None:
        LOG.warning("card job %s (%d) took longer than %.0f s", busy.job, busy.job_id, self._operation_seconds)
        self._not_busy()
        self._card_job = None  # its late results are stale now
        if busy.job == JOB_DETAILS:
            self._go(Screen.RESULT, m.Message(m.ERROR_TIMEOUT))
        else:
            self._go(Screen.ERROR, m.Message(m.ERROR_TIMEOUT))

    # --- reader and card ------------------------------------------------------------------------------------

    def _on_reader_changed(self, event: ReaderChanged) -> None:
        try:
            state = ReaderState(event.state)
        except ValueError:
            LOG.warning("unknown reader state %r ignored", event.state)
            return
        self._reader = state
        if state in _NOT_USABLE:
            if self._card_present:
                self._card_present = False
                self._card_lost()
            if self._screen is not Screen.ATTRACT:
                self._not_busy_if_busy()
                self._go(Screen.ERROR, m.Message(m.ERROR_READER))
        elif self._screen is Screen.ERROR and self._message is not None and self._message.key == m.ERROR_READER:
            self._go_insert_card()

    def _not_busy_if_busy(self) -> None:
        if self._busy is not None:
            self._not_busy()
            self._card_job = None

    def _on_card_inserted(self, event: CardInserted) -> None:
        self._card_present = True
        self._not_my_number = False
        self._activity()
        if self._screen in (Screen.ATTRACT, Screen.INSERT_CARD, Screen.ERROR):
            self._open_card(event.job_id)
        else:
            LOG.info("card inserted while on %s: ignored", self._screen.value)

    def _on_card_removed(self, _event: CardRemoved) -> None:
        self._card_present = False
        self._not_my_number = False
        self._card_lost()

    # --- job results ----------------------------------------------------------------------------------------

    def _expected(self, job: str, job_id: int) -> bool:
        if job in (JOB_CARD, JOB_PREFETCH):
            return self._card_job is not None and job_id == self._card_job
        return self._busy is not None and self._busy.job == job and self._busy.job_id == job_id

    def _on_job_finished(self, event: JobFinished) -> None:
        if not self._expected(event.job, event.job_id):
            _wipe_result(event.result)
            LOG.info("stale %s result (job %d) dropped", event.job, event.job_id)
            return
        if event.job == JOB_CARD:
            if self._busy is not None and self._busy.job == JOB_CARD:
                self._card_ready(event.result)
        elif event.job == JOB_PREFETCH:
            self._prefetched(event.result)
        elif event.job == JOB_VERIFY:
            self._verified(event.result)
        elif event.job == JOB_DETAILS:
            self._details_read(event.result)

    def _card_ready(self, ready: CardReady) -> None:
        self._not_busy()
        self._facts.pins[ready.auth.name] = ready.auth
        refusal = m.pin_refusal(ready.auth, self._policy)
        if refusal is not None:
            self._go(Screen.GO_TO_COUNTER, refusal)
        else:
            self._go_pin_entry("auth")

    def _prefetched(self, prefetched: Prefetched) -> None:
        facts = self._facts
        facts.pins.update({status.name: status for status in prefetched.pins})
        if not facts.checks:
            facts.checks = prefetched.checks

    def _verified(self, verdict: Verdict) -> None:
        self._not_busy()
        facts = self._facts
        try:
            facts.checks = tuple(verdict.checks)
            facts.required = verdict.required
            facts.validity = verdict.auth_validity or facts.validity
            if verdict.auth_certificate is not None:
                facts.not_after = verdict.auth_certificate.not_after
            facts.pins.update({status.name: status for status in verdict.pin_statuses})
            facts.verified = verdict.verified
        finally:
            verdict.wipe()  # the verify job reads no personal data, but the promise is unconditional
        self._go(Screen.RESULT)

    def _details_read(self, details: CardDetails) -> None:
        self._not_busy()
        facts = self._facts
        try:
            merged = {check.name: check for check in facts.checks}
            merged.update({check.name: check for check in details.checks})
            facts.checks = tuple(merged.values())
            facts.verified = is_verified(facts.checks, facts.required)
            facts.pins.update({status.name: status for status in details.pins})
            facts.details = m.detail_lines(details.my_number, details.basic4)
        finally:
            details.wipe()  # from here on the only copy is the display strings, gone on hide or session end
        self._go(Screen.RESULT)

    def _on_job_failed(self, event: JobFailed) -> None:
        if not self._expected(event.job, event.job_id):
            LOG.info("stale %s failure (job %d) dropped", event.job, event.job_id)
            return
        error = event.error
        LOG.info("card job %s failed: %s", event.job, getattr(error, "code", type(error).__name__))
        if m.is_card_gone(error):
            # Taken as removed even before the watcher says so: re-reading a card that is not there would
            # only fail again. A card that is in after all is read again when it is put back.
            self._card_present = False
            self._not_busy_if_busy()
            self._card_lost()
        elif event.job in (JOB_CARD, JOB_PREFETCH):
            self._open_failed(error)
        elif event.job == JOB_VERIFY:
            self._verify_failed(error)
        elif event.job == JOB_DETAILS:
            self._details_failed(error)

    def _open_failed(self, error: BaseException) -> None:
        if self._screen not in (Screen.READING, Screen.PIN_ENTRY):
            return  # a prefetch re-run failing under a result already shown changes nothing
        self._not_busy_if_busy()
        self._card_job = None
        if isinstance(error, errors.NotAMyNumberCard):
            self._not_my_number = True
        self._go(Screen.ERROR, m.message_for_error(error))

    def _verify_failed(self, error: BaseException) -> None:
        self._not_busy()
        if isinstance(error, errors.WrongPin):
            self._after_wrong_pin("auth", error, lambda refusal: self._go(Screen.GO_TO_COUNTER, refusal))
        elif isinstance(error, errors.PinGuardRefused | errors.PinBlocked):
            self._go(Screen.GO_TO_COUNTER, _about_pin(m.message_for_error(error), "auth"))
        elif isinstance(error, errors.PinFormatInvalid):
            self._go_pin_entry("auth", m.Message(m.PIN_FORMAT))
        else:
            self._go(Screen.ERROR, m.message_for_error(error))

    def _details_failed(self, error: BaseException) -> None:
        """Details are an extra: whatever goes wrong, the verification result stays on screen."""
        self._not_busy()
        if isinstance(error, errors.WrongPin):
            self._after_wrong_pin("card_info", error, lambda refusal: self._go(Screen.RESULT, refusal))
        elif isinstance(error, errors.PinFormatInvalid):
            self._go_pin_entry("card_info", m.Message(m.PIN_FORMAT))
        else:
            self._go(Screen.RESULT, _about_pin(m.message_for_error(error), "card_info"))

    def _after_wrong_pin(self, pin: str, error: errors.WrongPin,
                         refused: Callable[[m.Message], None]) -> None:
        """Back to the pad with the new count — never an automatic retry — unless no try may be spent."""
        known = self._facts.pins.get(pin)
        maximum = known.maximum if known is not None else 3
        status = PinStatus(pin, error.remaining, maximum, blocked=error.remaining <= 0)
        self._facts.pins[pin] = status
        refusal = m.pin_refusal(status, self._policy)
        if refusal is not None:
            refused(refusal)
        else:
            self._go_pin_entry(pin, m.message_for_error(error))

    # --- PIN pad --------------------------------------------------------------------------------------------

    def _on_pin_digit(self, event: PinDigit) -> None:
        self._activity()
        if self._screen is Screen.PIN_ENTRY and self._session.pin.add(event.digit):
            self._session.pin_key(self._now())
            if self._pin_error is not None and self._pin_error.key in (m.PIN_FORMAT, m.PIN_TIMEOUT):
                self._pin_error = None

    def _on_pin_backspace(self, _event: PinBackspace) -> None:
        self._activity()
        if self._screen is Screen.PIN_ENTRY:
            self._session.pin.backspace()
            self._session.pin_key(self._now())

    def _on_pin_clear(self, _event: PinClear) -> None:
        self._activity()
        if self._screen is Screen.PIN_ENTRY:
            show = self._session.pin.show
            self._session.pin.clear()
            self._session.pin.show = show  # "clear" empties the field; it does not hide it

    def _on_toggle_show_pin(self, _event: ToggleShowPin) -> None:
        self._activity()
        if self._screen is Screen.PIN_ENTRY:
            self._session.pin.show = not self._session.pin.show

    def _on_pin_submit(self, _event: PinSubmit) -> None:
        self._activity()
        if self._screen is not Screen.PIN_ENTRY or self._pin_kind is None:
            return
        if not self._session.pin.full:
            self._pin_error = m.Message(m.PIN_FORMAT)
            return
        kind = self._pin_kind
        status = self._facts.pins.get(kind)
        refusal = m.pin_refusal(status, self._policy) if status is not None else None
        if refusal is not None:
            self._go(Screen.GO_TO_COUNTER if kind == "auth" else Screen.RESULT, refusal)
            return
        pin = self._session.pin.take()
        try:
            job_id = self._jobs.verify(pin) if kind == "auth" else self._jobs.read_details(pin)
        except Exception as exc:
            _zero(pin)
            LOG.error("could not start the card job: %s", type(exc).__name__)
            self._go(Screen.ERROR if kind == "auth" else Screen.RESULT, m.message_for_error(exc))
            return
        self._go_busy(Screen.VERIFYING, JOB_VERIFY if kind == "auth" else JOB_DETAILS, job_id)

    # --- result and details ---------------------------------------------------------------------------------

    def _on_show_details(self, _event: ShowDetails) -> None:
        self._activity()
        if self._screen is not Screen.RESULT or self._facts.details is not None:
            return
        status = self._facts.pins.get("card_info")
        refusal = m.pin_refusal(status, self._policy) if status is not None else None
        if refusal is not None:
            self._message = refusal
        else:
            self._go_pin_entry("card_info")

    def _on_hide_details(self, _event: HideDetails) -> None:
        self._activity()
        if self._screen is Screen.RESULT:
            self._facts.details = None  # drop the only copy; asking again means the PIN again
            self._message = None
        elif self._screen is Screen.PIN_ENTRY and self._pin_kind == "card_info":
            self._go(Screen.RESULT)  # "never mind" on the card-info pad: back to the result

    # --- session-wide buttons -------------------------------------------------------------------------------

    def _on_touched(self, _event: Touched) -> None:
        self._activity()
        if self._screen is Screen.ATTRACT:
            self._go_insert_card()

    def _on_start(self, _event: Start) -> None:
        self._activity()
        if self._screen is Screen.ATTRACT:
            self._go_insert_card()

    def _on_cancel(self, _event: Cancel) -> None:
        if self._screen is Screen.ATTRACT and not self._session.active:
            return  # nothing to end: keep the session id (the UI drops its caches when it changes)
        LOG.info("session %d cancelled", self._session.id)
        self._end_session()

    def _on_finish(self, _event: Finish) -> None:
        if self._screen in (Screen.RESULT, Screen.GO_TO_COUNTER, Screen.ERROR):
            self._end_session()
        else:
            self._activity()

    def _on_more_time(self, _event: MoreTime) -> None:
        self._activity()

    def _on_call_staff_event(self, _event: CallStaff) -> None:
        self._activity()
        self._session.staff_called = True
        if self._on_call_staff is not None:
            try:
                self._on_call_staff()
            except Exception:
                LOG.exception("calling staff failed")

    def _on_language(self, event: LanguageChosen) -> None:
        self._activity()
        if event.code in self._languages:
            self._session.prefs.language = event.code
        else:
            LOG.warning("language %r is not offered by this kiosk", event.code)

    def _on_toggle_large_text(self, _event: ToggleLargeText) -> None:
        self._activity()
        self._session.prefs.large_text = not self._session.prefs.large_text

    def _on_toggle_high_contrast(self, _event: ToggleHighContrast) -> None:
        self._activity()
        self._session.prefs.high_contrast = not self._session.prefs.high_contrast

    def _on_toggle_speech(self, _event: ToggleSpeech) -> None:
        self._activity()
        self._session.prefs.speech = not self._session.prefs.speech

    # --- the view -------------------------------------------------------------------------------------------

    def _reader_view(self) -> ReaderState:
        if self._reader in _NOT_USABLE:
            return self._reader
        if self._not_my_number and self._card_present:
            return ReaderState.NOT_MY_NUMBER
        if self._card_present:
            return ReaderState.CARD_PRESENT
        return ReaderState.READY if self._reader is ReaderState.CARD_PRESENT else self._reader

    def _pin_view(self) -> PinPadView | None:
        if self._screen is not Screen.PIN_ENTRY or self._pin_kind is None:
            return None
        status = self._facts.pins.get(self._pin_kind)
        error = self._pin_error
        return PinPadView(
            entered=self._session.pin.count,
            length=PIN_LENGTH,
            shown=self._session.pin.shown(),
            remaining_tries=status.remaining if status is not None else None,
            error_key=error.key if error is not None else None,
            error_args=error.args_dict() if error is not None else {},
        )

    def _result_view(self) -> ResultView | None:
        if self._screen is not Screen.RESULT:
            return None
        facts = self._facts
        pins = sorted(facts.pins.values(),
                      key=lambda s: _PIN_ORDER.index(s.name) if s.name in _PIN_ORDER else len(_PIN_ORDER))
        return ResultView(
            verified=facts.verified,
            checks=m.check_lines(facts.checks),
            certificate_expiry=m.expiry_date(facts.not_after),
            days_to_expiry=facts.validity.days_to_expiry if facts.validity is not None else None,
            renewal_key=m.renewal_key(facts.validity),
            pins=m.pin_tries(pins),
            details=facts.details,
        )

    def _view(self) -> ViewState:
        prefs = self._session.prefs
        message = self._message
        return ViewState(
            screen=self._screen,
            language=prefs.language,
            reader=self._reader_view(),
            large_text=prefs.large_text,
            high_contrast=prefs.high_contrast,
            speech=prefs.speech,
            message_key=message.key if message is not None else None,
            message_args=message.args_dict() if message is not None else {},
            busy=self._screen in (Screen.READING, Screen.VERIFYING),
            pin=self._pin_view(),
            result=self._result_view(),
            idle_warning=self._idle_warning,
            staff_called=self._session.staff_called,
            session_id=self._session.id,
        )


def _about_pin(message: m.Message, pin: str) -> m.Message:
    """Name the PIN in counter messages (the driver's PinBlocked does not know which PIN it was)."""
    if message.key in (m.COUNTER_BLOCKED, m.COUNTER_LAST_TRY) and "pin" not in message.args:
        return m.Message(message.key, {**message.args, "pin": pin})
    return message


def _wipe_result(result: object) -> None:
    if isinstance(result, Verdict | CardDetails):
        result.wipe()


def _zero(buffer: bytearray) -> None:
    for index in range(len(buffer)):
        buffer[index] = 0


__all__ = [
    "JOB_CARD",
    "JOB_DETAILS",
    "JOB_PREFETCH",
    "JOB_VERIFY",
    "CardCheckFlow",
    "CardDetails",
    "CardJobs",
    "CardReady",
    "Prefetched",
]
