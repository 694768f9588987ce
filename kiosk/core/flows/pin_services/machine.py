"""PIN services at the kiosk: how many tries each PIN has left, changing a PIN, and what to do for a locked one.

Hosted by the shell like the card check. Decisions worth knowing:

* **No try is spent to show the tries.** The counters come from the retry query, once per card session
  (``ReadPinStatuses``); the menu is built from them, and a PIN the policy would refuse (locked, or the
  last try at an unattended kiosk) is not offered for a change at all.
* **Everything is typed before the card is touched.** Each current PIN, then the new PIN twice. Every rule
  — length, alphabet (the sign pad offers only A–Z and 0–9), a letter and a digit in a new sign PIN, the
  two entries matching, the new PIN differing from the current one — is checked on the pad; only then
  does one operation take all of it to the card. The driver checks the formats again before any APDU.
* **One 4-digit PIN for the three** (``EditField("common")``): the resident types the current auth,
  card-info and 住基 PINs (each may differ), then one new PIN twice; the three are changed in that order.
* **Honest outcomes.** ``changed`` only after the card answered 90 00 to CHANGE REFERENCE DATA (then the
  counter is read again: ``confirmed``); ``not_changed`` for anything before that command; ``unknown`` when
  the card left while that command was on its way — never shown as a success; the resident is told to
  try the new PIN and then the old one, or to ask at the counter. A card pulled mid-change keeps the
  result on screen: it is the only place that says what happened.
* **No reset here.** A locked PIN leads to the guide: the convenience store's JPKI reset service for the
  auth or sign PIN while the other JPKI PIN works, else the counter (``reset.py``).
* **PINs live only in buffers.** Typed entries stay in the session's ``InputBuffer``; entries already
  made are held in a wipeable ``_Change`` the session also holds; the operation owns its buffers and zeroes
  them. Nothing here logs, shows or repr()s a PIN.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from drivers import errors
from drivers.mynumber.pinchange import ChangeOutcome, PinChangeResult
from drivers.mynumber.session import PinStatus, zero
from kiosk.core import messages as m
from kiosk.core import pin_service_keys as k
from kiosk.core.events import (
    Back,
    CardFailed,
    CardInserted,
    CardRemoved,
    CardResult,
    Continue,
    EditField,
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
from kiosk.core.expiry_guidance import ExpiryLine
from kiosk.core.flows import PIN_SERVICES, FlowHost, FlowView
from kiosk.core.flows.pin_services.operations import ChangePins, PinChangeReport, PinStatuses, ReadPinStatuses
from kiosk.core.flows.pin_services.reset import PIN_ORDER, reset_advice
from kiosk.core.input import INPUT_AGAIN, NEW_PIN4, NEW_SIGN_PIN, PIN4, SIGN_PIN, InputView
from kiosk.core.ports import CardOperation, Tickets
from kiosk.core.view import Notice, PinChangeLine, PinServicesView, ResetAdvice, Screen

LOG = logging.getLogger(__name__)

COMMON = "common"
COMMON_PINS = ("auth", "card_info", "juki")
SIGN = "sign"
_REASONS = {
    "wrong_pin": k.REASON_WRONG_PIN, errors.CardRemoved.code: k.REASON_CARD_REMOVED,
    errors.NoCard.code: k.REASON_CARD_REMOVED, errors.PinGuardRefused.code: k.REASON_LAST_TRY,
    errors.PinBlocked.code: k.REASON_BLOCKED, errors.AuthenticationBlocked.code: k.REASON_BLOCKED,
    errors.ReaderTimeout.code: k.REASON_TIMEOUT, errors.ReaderError.code: k.REASON_READER,
    errors.ServiceUnavailable.code: k.REASON_READER, errors.NoReader.code: k.REASON_READER,
}
_KEEP_ON_REMOVAL = frozenset({Screen.PIN_CHANGE_RESULT, Screen.PIN_RESET_GUIDE, Screen.GO_TO_COUNTER})


@dataclass(slots=True)
class _Busy:
    ticket: int
    deadline: float
    on_timeout: Callable[[], None]


@dataclass(slots=True, repr=False)
class _Change:
    """One change being typed: the PINs it changes and the current PINs entered so far (buffers)."""

    target: str
    order: tuple[str, ...]
    current: dict[str, bytearray] = field(default_factory=dict)

    @property
    def next_current(self) -> str | None:
        return next((name for name in self.order if name not in self.current), None)

    def wipe(self) -> None:
        for buffer in self.current.values():
            zero(buffer)
        self.current.clear()

    def __repr__(self) -> str:
        return f"_Change({self.target}: {len(self.current)} of {len(self.order)} entered, <redacted>)"


class PinServicesFlow:
    """``handle(event)`` on the dispatcher's thread while the shell has it active; ``view()`` its screen."""

    task = PIN_SERVICES

    def __init__(self, host: FlowHost) -> None:
        self._host = host
        self._policy = host.policy
        self._operation_seconds = host.config.timeouts.card_operation_seconds
        self._tickets = Tickets()
        self._screen = Screen.INSERT_CARD
        self._message: m.Message | None = None
        self._busy: _Busy | None = None
        self._pins: dict[str, PinStatus] = {}
        self._expiries: tuple[ExpiryLine, ...] = ()
        self._change: _Change | None = None
        self._entering: str | None = None  # PIN_CHANGE: "current" | "new"
        self._pin_error: m.Message | None = None
        self._rule_said = False
        self._results: tuple[PinChangeLine, ...] = ()
        self._result_target: str | None = None
        self._headline: Notice | None = None
        self._card_removed = False
        self._resets: tuple[ResetAdvice, ...] = ()
        self._handlers: dict[type[Event], Callable[[Event], None]] = {
            Tick: self._on_tick, ReaderChanged: self._on_reader_changed, CardInserted: self._on_card_inserted,
            CardRemoved: self._on_card_removed, CardResult: self._on_card_result, CardFailed: self._on_card_failed,
            EditField: self._on_edit_field, ShowDetails: self._on_show_guide, HideDetails: self._on_back,
            Back: self._on_back, Continue: self._on_back, Finish: self._on_finish,
            PinDigit: self._on_pin_digit, PinBackspace: self._on_pin_backspace, PinClear: self._on_pin_clear,
            ToggleShowPin: self._on_toggle_show_pin, PinSubmit: self._on_pin_submit,
        }

    # --- the Flow protocol ------------------------------------------------------------------------------

    def begin(self) -> None:
        self._reset()
        if not self._host.reader_usable:
            self._go(Screen.ERROR, m.Message(m.ERROR_READER))
        elif self._host.card_present:
            self._read_pins()
        else:
            self._go(Screen.INSERT_CARD)

    def handle(self, event: Event) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def wipe(self) -> None:
        self._drop_change()
        self._tickets.forget_all()
        self._busy = None
        self._host.session.entry.clear()
        self._results = ()
        self._headline = None
        self._resets = ()
        self._pins = {}
        self._expiries = ()

    def view(self) -> FlowView:
        return FlowView(self._screen, self._message, busy=self._screen in (Screen.READING, Screen.VERIFYING),
                        pin=self._pin_view(), pin_services=self._services_view())

    # --- plumbing -------------------------------------------------------------------------------------

    def _now(self) -> float:
        return self._host.clock.now()

    def _activity(self) -> None:
        self._host.session.touch(self._now())

    def _reset(self) -> None:
        self.wipe()
        self._message = None
        self._pin_error = None
        self._entering = None
        self._rule_said = False
        self._card_removed = False

    def _drop_change(self) -> None:
        change, self._change = self._change, None
        if change is not None:
            self._host.session.release(change)

    def _submit(self, operation: CardOperation[object], on_result: Callable, on_failure: Callable,
                on_timeout: Callable[[], None], screen: Screen) -> None:
        try:
            ticket = self._host.jobs.submit(operation, insertion=self._host.insertion)
        except Exception as exc:
            operation.wipe()
            LOG.error("could not queue the card operation: %s", type(exc).__name__)
            self._go(Screen.ERROR, m.message_for_error(exc))
            return
        self._tickets.expect(ticket, on_result, on_failure)
        self._go(screen, m.Message(m.CARD_KEEP_STILL))
        self._busy = _Busy(ticket, self._now() + self._operation_seconds, on_timeout)
        self._host.session.pause()

    def _not_busy(self) -> None:
        if self._busy is not None:
            self._busy = None
            self._host.session.resume(self._now())

    def _go(self, screen: Screen, message: m.Message | None = None) -> None:
        if screen is not Screen.PIN_CHANGE:
            self._host.session.entry.clear()
            self._entering = None
            self._pin_error = None
        self._screen = screen
        self._message = message

    def _go_insert_card(self, message: m.Message | None = None) -> None:
        if not self._host.reader_usable:
            self._go(Screen.ERROR, m.Message(m.ERROR_READER))
        else:
            self._go(Screen.INSERT_CARD, message)

    def _read_pins(self) -> None:
        self._card_removed = False
        self._submit(ReadPinStatuses(), self._pins_read, self._read_failed, self._read_timed_out, Screen.READING)

    # --- time, reader, card ---------------------------------------------------------------------------

    def _on_tick(self, event: Tick) -> None:
        busy = self._busy
        if busy is not None and event.now >= busy.deadline:
            LOG.warning("card operation %d took longer than %.0f s", busy.ticket, self._operation_seconds)
            self._not_busy()
            self._tickets.forget_all()  # late results are stale now
            busy.on_timeout()
        if self._screen is Screen.PIN_CHANGE and self._host.session.pin_timed_out(event.now):
            self._host.session.entry.clear()
            self._pin_error = m.Message(m.PIN_TIMEOUT)

    def _on_reader_changed(self, _event: ReaderChanged) -> None:
        if not self._host.reader_usable:
            if self._screen is Screen.VERIFYING:
                return  # the change's own report (or its time-out) says what happened
            if self._screen is not Screen.ERROR or self._message != m.Message(m.ERROR_READER):
                self._not_busy()
                self._tickets.forget_all()
                self._drop_change()
                self._go(Screen.ERROR, m.Message(m.ERROR_READER))
        elif self._screen is Screen.ERROR and self._message is not None and self._message.key == m.ERROR_READER:
            self._go_insert_card()

    def _on_card_inserted(self, _event: CardInserted) -> None:
        self._activity()
        if self._screen in (Screen.INSERT_CARD, Screen.ERROR) or (
                self._screen in _KEEP_ON_REMOVAL and self._card_removed):  # put back: read the counters again
            self._read_pins()
        else:
            LOG.info("card inserted while on %s: ignored", self._screen.value)

    def _on_card_removed(self, _event: CardRemoved) -> None:
        screen = self._screen
        if screen is Screen.VERIFYING:
            # The change is on its way: its report says per PIN what is known; wait for it (or the time-out).
            self._card_removed = True
            return
        if screen in _KEEP_ON_REMOVAL:
            self._card_removed = True  # the result and the slip stay up to be read; Finish or idle ends it
            return
        self._card_lost()

    def _card_lost(self) -> None:
        screen = self._screen
        self._not_busy()
        self._tickets.forget_all()
        if screen is Screen.INSERT_CARD:
            self.wipe()
            return
        self._host.restart_for_same_person()
        message = None if screen is Screen.ERROR else m.Message(m.ERROR_CARD_REMOVED)
        self._reset()
        self._go_insert_card(message)

    def _on_card_result(self, event: CardResult) -> None:
        self._tickets.deliver(event.ticket, event.result)

    def _on_card_failed(self, event: CardFailed) -> None:
        if not self._tickets.waiting_for(event.ticket):
            LOG.info("stale card failure (ticket %d) dropped", event.ticket)
            return
        LOG.info("card operation %d failed: %s", event.ticket,
                 getattr(event.error, "code", type(event.error).__name__))
        self._tickets.fail(event.ticket, event.error)

    # --- reading the counters -------------------------------------------------------------------------

    def _pins_read(self, statuses: PinStatuses) -> None:
        self._not_busy()
        self._pins = {status.name: status for status in statuses.pins}
        self._expiries = statuses.expiries
        self._go_menu()

    def _read_failed(self, error: BaseException) -> None:
        self._not_busy()
        if m.is_card_gone(error):
            self._card_lost()
        else:
            self._go(Screen.ERROR, m.message_for_error(error))

    def _read_timed_out(self) -> None:
        self._go(Screen.ERROR, m.Message(m.ERROR_TIMEOUT))

    # --- the menu and the guide -----------------------------------------------------------------------

    def _go_menu(self) -> None:
        self._drop_change()
        self._results, self._headline, self._result_target = (), None, None
        self._resets = reset_advice(self._pins, self._policy)
        self._go(Screen.PIN_SERVICES, m.Message(k.MENU))

    def _changeable(self, name: str) -> bool:
        status = self._pins.get(name)
        return status is not None and m.pin_refusal(status, self._policy) is None

    def _on_edit_field(self, event: EditField) -> None:
        self._activity()
        if self._screen is not Screen.PIN_SERVICES:
            return
        target = event.field
        order = COMMON_PINS if target == COMMON else (target,) if target in PIN_ORDER else ()
        if not order:
            return
        for name in order:
            status = self._pins.get(name)
            if status is None or status.not_set:
                self._message = m.Message(k.NOT_CHANGEABLE, {"pin": name})
                return
        for name in order:
            refusal = m.pin_refusal(self._pins[name], self._policy)
            if refusal is None:
                continue
            self._resets = reset_advice(self._pins, self._policy, only=(name,))
            if refusal.key == m.COUNTER_LAST_TRY:
                self._go(Screen.GO_TO_COUNTER, refusal)  # unattended: the last try is the counter's
            else:
                self._go(Screen.PIN_RESET_GUIDE, refusal)
            return
        change = _Change(target, order)
        self._host.session.hold(change)  # wiped by the session's end whatever happens
        self._change = change
        self._go_entry()

    def _on_show_guide(self, _event: ShowDetails) -> None:
        self._activity()
        if self._screen in (Screen.PIN_SERVICES, Screen.PIN_CHANGE_RESULT):
            self._resets = reset_advice(self._pins, self._policy)
            self._go(Screen.PIN_RESET_GUIDE, m.Message(k.NO_RESET_HERE))

    def _on_back(self, _event: Event) -> None:
        self._activity()
        if self._screen in (Screen.PIN_CHANGE, Screen.PIN_RESET_GUIDE, Screen.GO_TO_COUNTER,
                            Screen.PIN_CHANGE_RESULT):
            if not self._host.card_present:
                self._reset()
                self._go_insert_card()
            elif self._screen is Screen.PIN_CHANGE_RESULT:
                self._read_pins()  # the counters after the change, as the card now says
            else:
                self._go_menu()

    def _on_finish(self, _event: Finish) -> None:
        if self._screen in (Screen.PIN_SERVICES, Screen.PIN_CHANGE_RESULT, Screen.PIN_RESET_GUIDE,
                            Screen.GO_TO_COUNTER, Screen.ERROR):
            self._host.end_session()
        else:
            self._activity()

    # --- typing ---------------------------------------------------------------------------------------

    def _go_entry(self, error: m.Message | None = None) -> None:
        change = self._change
        if change is None:
            return
        name = change.next_current
        if name is not None:
            self._go(Screen.PIN_CHANGE, m.Message(k.ENTER_CURRENT, {"pin": name}))
            self._host.session.start_entry(SIGN_PIN if name == SIGN else PIN4)
            self._entering = "current"
        else:
            self._go(Screen.PIN_CHANGE, m.Message(k.ENTER_NEW, {"pin": change.target}))
            self._host.session.start_entry(NEW_SIGN_PIN if change.target == SIGN else NEW_PIN4)
            self._entering = "new"
        self._pin_error = error

    def _on_pin_digit(self, event: PinDigit) -> None:
        self._activity()
        if self._screen is Screen.PIN_CHANGE and self._host.session.entry.add(event.digit):
            self._host.session.pin_key(self._now())
            self._pin_error = None

    def _on_pin_backspace(self, _event: PinBackspace) -> None:
        self._activity()
        if self._screen is Screen.PIN_CHANGE:
            self._host.session.entry.backspace()
            self._host.session.pin_key(self._now())

    def _on_pin_clear(self, _event: PinClear) -> None:
        self._activity()
        if self._screen is Screen.PIN_CHANGE:
            entry = self._host.session.entry
            show = entry.show
            entry.clear()  # a confirmation in progress starts again from the first entry
            entry.show = show

    def _on_toggle_show_pin(self, _event: ToggleShowPin) -> None:
        self._activity()
        if self._screen is Screen.PIN_CHANGE:
            entry = self._host.session.entry
            entry.show = not entry.show

    def _on_pin_submit(self, _event: PinSubmit) -> None:
        self._activity()
        change = self._change
        if self._screen is not Screen.PIN_CHANGE or change is None:
            return
        entry, problem = self._host.session.entry.submit()
        if problem is not None:
            self._pin_error = m.Message(problem[0], problem[1])  # nothing was sent to the card
            return
        if entry is None:  # the first of two entries of the new PIN: now the confirmation
            self._message = m.Message(INPUT_AGAIN, {"pin": change.target})
            self._pin_error = None
            return
        if self._entering == "current":
            name = change.next_current or change.order[-1]
            change.current[name] = entry
            self._rule_said = True
            self._go_entry()
            return
        if all(change.current[name] == entry for name in change.order):
            zero(entry)
            self._go_entry(m.Message(k.SAME_AS_CURRENT))  # nothing would change: choose another
            return
        self._send_change(change, entry)

    def _send_change(self, change: _Change, new: bytearray) -> None:
        # The operation owns every buffer from here; the flow keeps none (the shared new PIN is copied).
        changes = tuple((name, change.current.pop(name), bytearray(new)) for name in change.order)
        zero(new)
        self._drop_change()
        self._result_target = change.target
        self._card_removed = False
        operation = ChangePins(changes)
        names = operation.names
        self._submit(operation, self._changed, lambda error: self._change_failed(names, error),
                     lambda: self._report(_all(names, ChangeOutcome.UNKNOWN, errors.ReaderTimeout.code)),
                     Screen.VERIFYING)

    # --- the change's outcome -------------------------------------------------------------------------

    def _changed(self, report: PinChangeReport) -> None:
        self._not_busy()
        self._report(report.results)

    def _change_failed(self, names: tuple[str, ...], error: BaseException) -> None:
        """The operation did not report: gone before it ran, or refused before any APDU → nothing changed;
        anything else (a fault part-way) → unknown for every PIN, never a guess."""
        self._not_busy()
        LOG.info("PIN change failed without a report: %s", getattr(error, "code", type(error).__name__))
        if m.is_card_gone(error):
            self._card_removed = True
            self._report(_all(names, ChangeOutcome.NOT_CHANGED, errors.CardRemoved.code))
        elif isinstance(error, errors.PinFormatInvalid | errors.PinGuardRefused | errors.PinBlocked):
            self._report(_all(names, ChangeOutcome.NOT_CHANGED, getattr(error, "code", None)))
        else:
            self._report(_all(names, ChangeOutcome.UNKNOWN, getattr(error, "code", None)))

    def _report(self, results: tuple[PinChangeResult, ...]) -> None:
        lines = []
        for result in results:
            lines.append(self._line(result))
            if result.reason in (errors.CardRemoved.code, errors.NoCard.code):
                self._card_removed = True
        self._results = tuple(lines)
        self._headline = _headline(results)
        self._resets = reset_advice(self._pins, self._policy, only=[r.name for r in results])
        self._go(Screen.PIN_CHANGE_RESULT, m.Message(self._headline.key))

    def _line(self, result: PinChangeResult) -> PinChangeLine:
        known = self._pins.get(result.name)
        maximum = known.maximum if known is not None else 3
        args: dict = {}
        reason_key = _REASONS.get(result.reason or "", k.REASON_REFUSED) if result.reason else None
        confirmed = False
        if result.outcome is ChangeOutcome.CHANGED:
            status = result.status
            confirmed = status is not None and status.remaining == status.maximum and not status.blocked
            if status is not None:
                self._pins[result.name] = status
            if not confirmed:
                reason_key = k.REASON_NOT_CONFIRMED
        elif result.remaining is not None:
            status = PinStatus(result.name, result.remaining, maximum, blocked=result.remaining <= 0)
            self._pins[result.name] = status
            args = {"remaining": self._policy.usable_tries(status), "pin": result.name}
        return PinChangeLine(result.name, result.outcome.value, k.OUTCOME_KEYS[result.outcome.value], reason_key,
                             args, confirmed)

    # --- the view -------------------------------------------------------------------------------------

    def _pin_view(self) -> InputView | None:
        if self._screen is not Screen.PIN_CHANGE or self._change is None:
            return None
        entry = self._host.session.entry
        error = self._pin_error
        remaining = note = None
        if self._entering == "current":
            status = self._pins.get(self._change.next_current or "")
            if status is not None:
                remaining = self._policy.usable_tries(status)
                if not self._rule_said and remaining < status.remaining:
                    note = (m.PIN_TRIES_RULE, {"usable": remaining, "pin": status.name})
        else:
            note = (k.RULE_SIGN if self._change.target == SIGN else k.RULE_DIGITS4, {})
        return entry.view(remaining_tries=remaining, note=note,
                          error=(error.key, error.args_dict()) if error is not None else None)

    def _services_view(self) -> PinServicesView | None:
        screen = self._screen
        if screen not in (Screen.PIN_SERVICES, Screen.PIN_CHANGE, Screen.VERIFYING, Screen.PIN_CHANGE_RESULT,
                          Screen.PIN_RESET_GUIDE, Screen.GO_TO_COUNTER):
            return None
        pins = tuple(self._pins[name] for name in PIN_ORDER if name in self._pins)
        changeable = tuple(name for name in PIN_ORDER if self._changeable(name))
        view = PinServicesView(pins=m.pin_tries(pins, self._policy), changeable=changeable,
                               common_offered=all(name in changeable for name in COMMON_PINS),
                               resets=self._resets if screen is not Screen.PIN_CHANGE else (),
                               card_removed=self._card_removed, expiries=self._expiries)
        change = self._change
        if screen is Screen.PIN_CHANGE and change is not None:
            steps = len(change.order) + 1
            entering_for = change.next_current if self._entering == "current" else change.target
            return replace(view, target=change.target, entering=self._entering, entering_for=entering_for,
                            step=len(change.current) + 1, steps=steps)
        if screen in (Screen.PIN_CHANGE_RESULT, Screen.VERIFYING):
            return replace(view, target=self._result_target, headline=self._headline, results=self._results)
        return view


def _all(names: tuple[str, ...], outcome: ChangeOutcome, reason: str | None) -> tuple[PinChangeResult, ...]:
    return tuple(PinChangeResult(name, outcome, reason) for name in names)


def _headline(results: tuple[PinChangeResult, ...]) -> Notice:
    outcomes = [result.outcome for result in results]
    if ChangeOutcome.UNKNOWN in outcomes:
        return Notice(k.RESULT_UNKNOWN, tone="bad")
    if all(outcome is ChangeOutcome.CHANGED for outcome in outcomes):
        return Notice(k.RESULT_ALL_CHANGED, tone="ok")
    if ChangeOutcome.CHANGED not in outcomes:
        removed = any(result.reason == errors.CardRemoved.code for result in results)
        return Notice(k.RESULT_CARD_REMOVED if removed else k.RESULT_NONE, tone="warn")
    return Notice(k.RESULT_PARTLY, tone="warn")


__all__ = ["COMMON", "COMMON_PINS", "PinServicesFlow"]
