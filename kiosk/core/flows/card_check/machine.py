"""The resident card check: "is my card all right, and what does it say?" as a small state machine.

Hosted by the shell (``kiosk.core.shell``): the shell owns the session, the preferences, the reader state
and what happens when a session ends; this flow owns the screens from "put your card on the reader" to
the result. Card work goes through typed operations (``operations.py``); results come back to the exact
continuation that asked for them (``kiosk.core.ports.Tickets``).

Decisions worth knowing (the README's design section repeats them):

* **Two PINs, asked separately.** Verification needs only the auth PIN (利用者証明用, 4 digits). The basic
  4 information needs the card-info PIN (券面事項入力補助用) and is asked for only when the resident presses
  "show details". The auth PIN is never reused for it: many residents set different PINs, and a silent
  wrong guess would spend a card-info try.
* **The counter decides before the pad appears.** The auth PIN's tries are read (without spending one) as
  soon as the card is recognised; if the PIN policy would refuse the next try (the last one at an
  unattended kiosk) or the PIN is blocked, the resident goes to the counter without typing anything.
  The driver applies the same policy again before any VERIFY: the driver is the real guard. The tries
  shown are the tries usable here (``PinPolicy.usable_tries``), and the rule is said once, on the pad.
* **No PIN for a card whose certificate failed.** If the prefetch finds the auth certificate untrusted,
  expired or broken, the pad closes and the result says so; the verifier refuses to send a PIN anyway.
* **Card removal ends the session everywhere.** Pulled mid-check (reading, PIN, verifying) or from an error
  screen → "put your card on the reader" again (``error.card_removed`` when mid-check) with the display
  preferences kept, because the same person is almost certainly still there; taken out after the result
  or "go to the counter" → the session ends (they are leaving).
* **Personal data has the shortest life possible.** The verdict and the card details are wiped as soon as
  the view lines are made from them; the display strings live here only while details are shown, and
  not at all when the card's data failed its integrity check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from drivers import errors
from drivers.mynumber.certificates import JST, ValidityReport
from drivers.mynumber.integrity import CheckResult
from drivers.mynumber.session import PinStatus
from drivers.mynumber.verifier import CARD_INFO_CHECKS, CERTIFICATE_FAILED, Verdict, is_verified
from kiosk.core import messages as m
from kiosk.core.events import (
    CardFailed,
    CardInserted,
    CardRemoved,
    CardResult,
    Event,
    Finish,
    HideDetails,
    PinBackspace,
    PinClear,
    PinDigit,
    PinSubmit,
    ReaderChanged,
    ShowDetails,
    Tick,
    ToggleShowPin,
)
from kiosk.core.expiry_guidance import AUTH_CERTIFICATE, ExpiryLine, card_line, certificate_line
from kiosk.core.flows import CARD_CHECK, FlowHost, FlowView
from kiosk.core.flows.card_check.operations import (
    CardDetails,
    CardReady,
    Prefetch,
    Prefetched,
    ReadDetails,
    Recognise,
    VerifyWithPin,
)
from kiosk.core.input import PIN4, InputView
from kiosk.core.ports import CardOperation, Tickets
from kiosk.core.view import ResultView, Screen

LOG = logging.getLogger(__name__)

_MID_CHECK = frozenset({Screen.READING, Screen.PIN_ENTRY, Screen.VERIFYING})
_DONE = frozenset({Screen.RESULT, Screen.GO_TO_COUNTER})
_PIN_ORDER = ("auth", "sign", "card_info", "juki")
AUTH, CARD_INFO = "auth", "card_info"


@dataclass(slots=True)
class _Busy:
    """The one operation the busy screen waits for, and when to stop waiting."""

    ticket: int
    deadline: float
    on_timeout: Screen  # where the resident goes if the card takes too long


@dataclass(slots=True)
class _CardFacts:
    """What this card session learnt; personal data only in ``details`` (display strings)."""

    pins: dict[str, PinStatus] = field(default_factory=dict)
    checks: tuple[CheckResult, ...] = ()
    required: frozenset[str] = frozenset()
    validity: ValidityReport | None = None
    not_after: datetime | None = None
    verified: bool = False
    certificate_failed: bool = False
    details: tuple[tuple[str, str], ...] | None = None
    details_withheld: bool = False
    card_expiry: date | None = None


class CardCheckFlow:
    """``handle(event)`` on the dispatcher's thread while the shell has it active; ``view()`` its screen."""

    task = CARD_CHECK

    def __init__(self, host: FlowHost) -> None:
        self._host = host
        self._policy = host.policy
        self._operation_seconds = host.config.timeouts.card_operation_seconds
        self._tickets = Tickets()
        self._screen = Screen.INSERT_CARD
        self._busy: _Busy | None = None
        self._pin_kind: str | None = None  # "auth" | "card_info" while the pad is up
        self._message: m.Message | None = None
        self._pin_error: m.Message | None = None
        self._rule_said = False  # the "last try is the counter's" rule, said once per session
        self._not_my_number = False
        self._facts = _CardFacts()
        self._handlers: dict[type[Event], Callable[[Event], None]] = {
            Tick: self._on_tick, ReaderChanged: self._on_reader_changed, CardInserted: self._on_card_inserted,
            CardRemoved: self._on_card_removed, CardResult: self._on_card_result, CardFailed: self._on_card_failed,
            PinDigit: self._on_pin_digit, PinBackspace: self._on_pin_backspace, PinClear: self._on_pin_clear,
            ToggleShowPin: self._on_toggle_show_pin, PinSubmit: self._on_pin_submit,
            ShowDetails: self._on_show_details, HideDetails: self._on_hide_details, Finish: self._on_finish,
        }

    # --- the Flow protocol ------------------------------------------------------------------------------

    def begin(self) -> None:
        self._reset()
        if not self._host.reader_usable:
            self._go(Screen.ERROR, m.Message(m.ERROR_READER))
        elif self._host.card_present:
            self._open_card()
        else:
            self._go(Screen.INSERT_CARD)

    def handle(self, event: Event) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def wipe(self) -> None:
        self._facts.details = None
        self._facts = _CardFacts()
        self._tickets.forget_all()
        self._busy = None
        self._host.session.entry.clear()

    def view(self) -> FlowView:
        return FlowView(self._screen, self._message, busy=self._screen in (Screen.READING, Screen.VERIFYING),
                        pin=self._pin_view(), result=self._result_view(),
                        not_my_number=self._not_my_number and self._host.card_present)

    # --- plumbing -------------------------------------------------------------------------------------

    def _now(self) -> float:
        return self._host.clock.now()

    def _activity(self) -> None:
        self._host.session.touch(self._now())

    def _reset(self) -> None:
        self.wipe()
        self._not_my_number = False
        self._message = None
        self._pin_error = None
        self._pin_kind = None
        self._rule_said = False

    def _submit(self, operation: CardOperation[object], on_result: Callable, on_failure: Callable) -> int | None:
        """Queue ``operation`` for the card now in the reader; None (and the error screen) if that fails."""
        try:
            ticket = self._host.jobs.submit(operation, insertion=self._host.insertion)
        except Exception as exc:
            operation.wipe()
            LOG.error("could not queue the card operation: %s", type(exc).__name__)
            self._go(Screen.ERROR, m.message_for_error(exc))
            return None
        return self._tickets.expect(ticket, on_result, on_failure)

    # --- screens --------------------------------------------------------------------------------------

    def _go(self, screen: Screen, message: m.Message | None = None) -> None:
        if screen is not Screen.PIN_ENTRY:
            self._host.session.entry.clear()
            self._pin_kind = None
            self._pin_error = None
        self._screen = screen
        self._message = message

    def _go_busy(self, screen: Screen, ticket: int, on_timeout: Screen) -> None:
        self._go(screen, m.Message(m.CARD_KEEP_STILL))
        self._busy = _Busy(ticket, self._now() + self._operation_seconds, on_timeout)
        self._host.session.pause()

    def _not_busy(self) -> None:
        if self._busy is not None:
            self._busy = None
            self._host.session.resume(self._now())

    def _go_pin_entry(self, kind: str, error: m.Message | None = None) -> None:
        self._go(Screen.PIN_ENTRY, m.Message(m.PIN_AUTH if kind == AUTH else m.PIN_CARD_INFO))
        self._host.session.start_entry(PIN4)
        self._pin_kind = kind
        self._pin_error = error

    def _go_insert_card(self, message: m.Message | None = None) -> None:
        if not self._host.reader_usable:
            self._go(Screen.ERROR, m.Message(m.ERROR_READER))
        else:
            self._go(Screen.INSERT_CARD, message)

    def _open_card(self) -> None:
        """Read the card just inserted: recognition first (the pad can appear), then the prefetch."""
        self._facts = _CardFacts()
        self._not_my_number = False
        ticket = self._submit(Recognise(), self._card_ready, self._open_failed)
        if ticket is None:
            return
        self._submit(Prefetch(), self._prefetched, self._prefetch_failed)
        self._go_busy(Screen.READING, ticket, Screen.ERROR)

    def _card_lost(self) -> None:
        """The card is gone (removed, or an operation found it gone): end the task wherever we are."""
        screen = self._screen
        self._not_busy()
        if screen in _MID_CHECK:
            self._host.restart_for_same_person()
            self._reset()
            self._go_insert_card(m.Message(m.ERROR_CARD_REMOVED))
        elif screen is Screen.ERROR:
            self._host.restart_for_same_person()
            self._reset()
            self._go_insert_card()
        elif screen in _DONE:
            self._host.end_session()
        else:  # INSERT_CARD: nothing of this card is on screen, but wipe anyway
            self.wipe()

    # --- time -----------------------------------------------------------------------------------------

    def _on_tick(self, event: Tick) -> None:
        busy = self._busy
        if busy is not None and event.now >= busy.deadline:
            LOG.warning("card operation %d took longer than %.0f s", busy.ticket, self._operation_seconds)
            self._not_busy()
            self._tickets.forget_all()  # late results are stale now
            self._go(busy.on_timeout, m.Message(m.ERROR_TIMEOUT))
        if self._screen is Screen.PIN_ENTRY and self._host.session.pin_timed_out(event.now):
            self._host.session.entry.clear()
            self._pin_error = m.Message(m.PIN_TIMEOUT)

    # --- reader and card ------------------------------------------------------------------------------

    def _on_reader_changed(self, _event: ReaderChanged) -> None:
        if not self._host.reader_usable:
            if self._screen is not Screen.ERROR or self._message != m.Message(m.ERROR_READER):
                self._not_busy()
                self._tickets.forget_all()
                self._go(Screen.ERROR, m.Message(m.ERROR_READER))
        elif self._screen is Screen.ERROR and self._message is not None and self._message.key == m.ERROR_READER:
            self._go_insert_card()

    def _on_card_inserted(self, _event: CardInserted) -> None:
        self._activity()
        if self._screen in (Screen.INSERT_CARD, Screen.ERROR):
            self._open_card()
        else:
            LOG.info("card inserted while on %s: ignored", self._screen.value)

    def _on_card_removed(self, _event: CardRemoved) -> None:
        self._not_my_number = False
        self._card_lost()

    # --- results --------------------------------------------------------------------------------------

    def _on_card_result(self, event: CardResult) -> None:
        self._tickets.deliver(event.ticket, event.result)

    def _on_card_failed(self, event: CardFailed) -> None:
        if not self._tickets.waiting_for(event.ticket):
            LOG.info("stale card failure (ticket %d) dropped", event.ticket)
            return
        error = event.error
        LOG.info("card operation %d failed: %s", event.ticket, getattr(error, "code", type(error).__name__))
        if m.is_card_gone(error):
            # Taken as removed even before the watcher says so: re-reading a card that is not there would
            # only fail again. A card that is in after all is read again when it is put back.
            self._tickets.forget_all()
            self._card_lost()
            return
        self._tickets.fail(event.ticket, error)

    def _card_ready(self, ready: CardReady) -> None:
        if self._screen is not Screen.READING:
            return
        self._not_busy()
        self._facts.pins[ready.auth.name] = ready.auth
        if self._facts.certificate_failed:
            self._go(Screen.RESULT)  # the prefetch was quicker and found the certificate failed
            return
        refusal = m.pin_refusal(ready.auth, self._policy)
        if refusal is not None:
            self._go(Screen.GO_TO_COUNTER, refusal)
        else:
            self._go_pin_entry(AUTH)

    def _prefetched(self, prefetched: Prefetched) -> None:
        facts = self._facts
        facts.pins.update({status.name: status for status in prefetched.pins})
        if not facts.checks:
            facts.checks = prefetched.checks
        facts.certificate_failed = prefetched.certificate_failed
        if prefetched.certificate_failed and self._screen is Screen.PIN_ENTRY:
            LOG.info("the card's certificate failed: no PIN is asked for")
            self._go(Screen.RESULT)  # the pad closes: no PIN goes to this card

    def _prefetch_failed(self, error: BaseException) -> None:
        if self._screen in (Screen.READING, Screen.PIN_ENTRY):
            self._open_failed(error)

    def _open_failed(self, error: BaseException) -> None:
        self._not_busy()
        self._tickets.forget_all()
        if isinstance(error, errors.NotAMyNumberCard):
            self._not_my_number = True
        self._go(Screen.ERROR, m.message_for_error(error))

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
            facts.certificate_failed = facts.certificate_failed or any(
                check.reason == CERTIFICATE_FAILED for check in verdict.checks)
        finally:
            verdict.wipe()  # the verify operation reads no personal data, but the promise is unconditional
        self._go(Screen.RESULT)

    def _verify_failed(self, error: BaseException) -> None:
        self._not_busy()
        if isinstance(error, errors.WrongPin):
            self._after_wrong_pin(AUTH, error, lambda refusal: self._go(Screen.GO_TO_COUNTER, refusal))
        elif isinstance(error, errors.PinGuardRefused | errors.PinBlocked):
            self._go(Screen.GO_TO_COUNTER, _about_pin(m.message_for_error(error), AUTH))
        elif isinstance(error, errors.PinFormatInvalid):
            self._go_pin_entry(AUTH, m.Message(m.PIN_FORMAT))
        else:
            self._go(Screen.ERROR, m.message_for_error(error))

    def _details_read(self, details: CardDetails) -> None:
        self._not_busy()
        facts = self._facts
        try:
            merged = {check.name: check for check in facts.checks}
            merged.update({check.name: check for check in details.checks})
            facts.checks = tuple(merged.values())
            facts.verified = is_verified(facts.checks, facts.required)
            facts.pins.update({status.name: status for status in details.pins})
            # Data whose integrity check failed is not shown at all: a tampered name must not look real.
            intact = all(name in merged and merged[name].passed for name in CARD_INFO_CHECKS)
            facts.details_withheld = not intact
            facts.details = m.detail_lines(details.my_number, details.basic4) if intact else None
            facts.card_expiry = details.card_expiry
        finally:
            details.wipe()  # from here on the only copy is the display strings, gone on hide or session end
        self._go(Screen.RESULT, m.Message(m.DETAILS_WITHHELD) if facts.details_withheld else None)

    def _details_failed(self, error: BaseException) -> None:
        """Details are an extra: whatever goes wrong, the verification result stays on screen."""
        self._not_busy()
        if isinstance(error, errors.WrongPin):
            self._after_wrong_pin(CARD_INFO, error, lambda refusal: self._go(Screen.RESULT, refusal))
        elif isinstance(error, errors.PinFormatInvalid):
            self._go_pin_entry(CARD_INFO, m.Message(m.PIN_FORMAT))
        else:
            self._go(Screen.RESULT, _about_pin(m.message_for_error(error), CARD_INFO))

    def _after_wrong_pin(self, pin: str, error: errors.WrongPin, refused: Callable[[m.Message], None]) -> None:
        """Back to the pad with the new count — never an automatic retry — unless no try may be spent."""
        known = self._facts.pins.get(pin)
        maximum = known.maximum if known is not None else 3
        status = PinStatus(pin, error.remaining, maximum, blocked=error.remaining <= 0)
        self._facts.pins[pin] = status
        refusal = m.pin_refusal(status, self._policy)
        if refusal is not None:
            refused(refusal)
        else:
            usable = self._policy.usable_tries(status)
            self._go_pin_entry(pin, m.Message(m.PIN_WRONG, {"remaining": usable, "pin": pin}))

    # --- PIN pad --------------------------------------------------------------------------------------

    def _on_pin_digit(self, event: PinDigit) -> None:
        self._activity()
        if self._screen is Screen.PIN_ENTRY and self._host.session.entry.add(event.digit):
            self._host.session.pin_key(self._now())
            if self._pin_error is not None and self._pin_error.key in (m.PIN_FORMAT, m.PIN_TIMEOUT):
                self._pin_error = None

    def _on_pin_backspace(self, _event: PinBackspace) -> None:
        self._activity()
        if self._screen is Screen.PIN_ENTRY:
            self._host.session.entry.backspace()
            self._host.session.pin_key(self._now())

    def _on_pin_clear(self, _event: PinClear) -> None:
        self._activity()
        if self._screen is Screen.PIN_ENTRY:
            entry = self._host.session.entry
            show = entry.show
            entry.clear()
            entry.show = show  # "clear" empties the field; it does not hide it

    def _on_toggle_show_pin(self, _event: ToggleShowPin) -> None:
        self._activity()
        if self._screen is Screen.PIN_ENTRY:
            entry = self._host.session.entry
            entry.show = not entry.show

    def _on_pin_submit(self, _event: PinSubmit) -> None:
        self._activity()
        if self._screen is not Screen.PIN_ENTRY or self._pin_kind is None:
            return
        kind = self._pin_kind
        status = self._facts.pins.get(kind)
        refusal = m.pin_refusal(status, self._policy) if status is not None else None
        if refusal is not None:
            self._go(Screen.GO_TO_COUNTER if kind == AUTH else Screen.RESULT, refusal)
            return
        pin, _problem = self._host.session.entry.submit()
        if pin is None:
            self._pin_error = m.Message(m.PIN_FORMAT)  # nothing was sent to the card
            return
        self._rule_said = True
        # The operation owns the buffer from here; it is zeroed when the operation ends (or fails to queue).
        if kind == AUTH:
            ticket = self._submit(VerifyWithPin(pin), self._verified, self._verify_failed)
            if ticket is not None:
                self._go_busy(Screen.VERIFYING, ticket, Screen.ERROR)
        else:
            ticket = self._submit(ReadDetails(pin), self._details_read, self._details_failed)
            if ticket is not None:
                self._go_busy(Screen.VERIFYING, ticket, Screen.RESULT)

    # --- result and details ---------------------------------------------------------------------------

    def _details_offered(self) -> bool:
        if self._facts.certificate_failed:
            return False  # no PIN goes to a card whose certificate failed
        status = self._facts.pins.get(CARD_INFO)
        return status is None or m.pin_refusal(status, self._policy) is None

    def _on_show_details(self, _event: ShowDetails) -> None:
        self._activity()
        if self._screen is not Screen.RESULT or self._facts.details is not None:
            return
        if self._facts.certificate_failed:
            self._message = m.Message(m.RESULT_NOT_GENUINE)
            return
        status = self._facts.pins.get(CARD_INFO)
        refusal = m.pin_refusal(status, self._policy) if status is not None else None
        if refusal is not None:
            self._message = refusal
        else:
            self._go_pin_entry(CARD_INFO)

    def _on_hide_details(self, _event: HideDetails) -> None:
        self._activity()
        if self._screen is Screen.RESULT:
            self._facts.details = None  # drop the only copy; asking again means the PIN again
            self._message = None
        elif self._screen is Screen.PIN_ENTRY and self._pin_kind == CARD_INFO:
            self._go(Screen.RESULT)  # "never mind" on the card-info pad: back to the result

    def _on_finish(self, _event: Finish) -> None:
        if self._screen in (Screen.RESULT, Screen.GO_TO_COUNTER, Screen.ERROR):
            self._host.end_session()
        else:
            self._activity()

    # --- the view -------------------------------------------------------------------------------------

    def _pin_view(self) -> InputView | None:
        if self._screen is not Screen.PIN_ENTRY or self._pin_kind is None:
            return None
        status = self._facts.pins.get(self._pin_kind)
        error = self._pin_error
        note = None
        if not self._rule_said and status is not None:
            usable = self._policy.usable_tries(status)
            if usable < status.remaining:  # this kiosk keeps tries back: say so before the first try
                note = m.Message(m.PIN_TRIES_RULE, {"usable": usable, "pin": status.name})
        entry = self._host.session.entry
        return entry.view(remaining_tries=self._policy.usable_tries(status) if status is not None else None,
                          error=(error.key, error.args_dict()) if error is not None else None,
                          note=(note.key, note.args_dict()) if note is not None else None)

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
            pins=m.pin_tries(pins, self._policy),
            details=facts.details,
            headline=m.result_headline(facts.checks, facts.verified),
            notices=m.pin_notices(pins, self._policy),
            details_withheld=facts.details_withheld,
            details_offered=self._details_offered() and not facts.details_withheld,
            expiries=self._expiries(),
        )

    def _expiries(self) -> tuple[ExpiryLine, ...]:
        """The auth certificate's expiry (always read), and the card's once the details opened the card face."""
        facts, lines = self._facts, []
        if facts.not_after is not None and facts.validity is not None:
            lines.append(certificate_line(AUTH_CERTIFICATE, facts.not_after, facts.validity))
        if facts.card_expiry is not None:
            today = datetime.now(UTC).astimezone(JST).date()
            lines.append(card_line(facts.card_expiry, today,
                                   renewal_months=self._host.config.verification.renewal_months))
        return tuple(lines)


def _about_pin(message: m.Message, pin: str) -> m.Message:
    """Name the PIN in counter messages (the driver's PinBlocked does not know which PIN it was)."""
    if message.key in (m.COUNTER_BLOCKED, m.COUNTER_LAST_TRY) and "pin" not in message.args:
        return m.Message(message.key, {**message.args, "pin": pin})
    return message


__all__ = ["CardCheckFlow"]
