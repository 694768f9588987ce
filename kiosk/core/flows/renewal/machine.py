"""Renewal with an existing card: a resident whose certificate is in its renewal window applies for a new
card by card — no form, no application ID — and the card itself signs the application.

Card → "may this card be renewed now?" → photo → details → review with the consent → a nonce from the
central server → the auth PIN → the card signs (auth key, over the nonce and the exact payload) → stored
in the outbox → receipt. The server verifies chain, revocation, the renewal window and the signature
before it accepts it (``server/routes/renewals.py``).

Decisions worth knowing:

* **The window is the certificate's** (``CardVerifier.auth_validity``, the same 3 months the card check
  advises on). Not yet in it: the resident is told the day it opens. Expired: a signature is worthless,
  so renewal by card is not offered — the form or the counter is. A certificate that failed its checks
  gets no PIN (``CardVerifier.sign_with_auth_key`` refuses before the card sees one).
* **The PIN comes last**, after everything to be signed was seen and agreed, and goes to the card at once:
  the nonce is fetched before the pad opens, so no PIN waits for the network. The PIN policy decides
  before the pad appears (an unattended kiosk never spends the last try), as in the card check.
* **The card may leave and come back.** Taken out before the signature, the resident is asked to put it
  back; the same card (its certificate's fingerprint) resumes where it was, another card starts over.
* Everything else — photo, details, review, the outbox commit, the receipt, the wipe — is the
  application's (``ApplicationFlow``), unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from drivers import errors
from drivers.mynumber.session import PinStatus
from kiosk.core import application_keys as k
from kiosk.core import messages as m
from kiosk.core.events import (
    Back,
    CardFailed,
    CardInserted,
    CardRemoved,
    CardResult,
    Continue,
    Finish,
    PinSubmit,
    ReaderChanged,
    Tick,
    ToggleShowPin,
)
from kiosk.core.flows import RENEWAL, FlowHost, FlowView
from kiosk.core.flows.application import ApplicationFlow
from kiosk.core.flows.renewal.operations import (
    ELIGIBLE,
    CheckRenewal,
    EnqueueRenewal,
    GetRenewalNonce,
    RenewalFacts,
    RenewalNonceAnswer,
    SignedRenewal,
    SignRenewal,
)
from kiosk.core.input import PIN4, InputView
from kiosk.core.ports import CardOperation, Tickets
from kiosk.core.view import RenewalView, Screen

LOG = logging.getLogger(__name__)

_CARD_STEPS = frozenset({Screen.INSERT_CARD, Screen.READING, Screen.RENEWAL_CHECK})
_AFTER_RECEIPT = frozenset({Screen.RECEIPT})
# where the same card, put back, resumes: the step the resident was on, or the last one that holds still
_RESUME = {Screen.TEXT_ENTRY: Screen.DETAILS, Screen.WORKING: Screen.REVIEW, Screen.PIN_ENTRY: Screen.REVIEW,
           Screen.VERIFYING: Screen.REVIEW}


@dataclass(slots=True)
class _Busy:
    ticket: int
    deadline: float


class RenewalFlow(ApplicationFlow):
    """The application's steps after a card step at the start and a signature at the end."""

    task = RENEWAL
    purpose = RENEWAL

    def __init__(self, host: FlowHost) -> None:
        super().__init__(host)
        self._card_jobs = Tickets()
        self._busy: _Busy | None = None
        self._facts: RenewalFacts | None = None
        self._resume: Screen | None = None  # where to go back to when the same card is put back
        self._nonce: bytes | None = None
        self._signing: dict[str, object] | None = None  # the payload the card signs, sent exactly as signed
        self._pin_error: m.Message | None = None
        self._rule_said = False
        self._saving = False  # signed and handed to the outbox: the card is no longer needed
        self._handlers.update({
            ReaderChanged: self._on_reader_changed, CardInserted: self._on_card_inserted,
            CardRemoved: self._on_card_removed, CardResult: self._on_card_result, CardFailed: self._on_card_failed,
            ToggleShowPin: self._on_toggle_show_pin,
        })

    _typing = frozenset({Screen.ID_KEYPAD, Screen.TEXT_ENTRY, Screen.PIN_ENTRY})

    # --- the Flow protocol ------------------------------------------------------------------------

    def wipe(self) -> None:
        super().wipe()
        self._card_jobs.forget_all()
        self._not_busy()
        self._facts = None
        self._resume = None
        self._saving = False
        self._drop_signing()

    def view(self) -> FlowView:
        base = super().view()
        busy = self._screen in (Screen.READING, Screen.VERIFYING) or base.busy
        return FlowView(base.screen, base.message, busy=busy, pin=self._pin_view() or base.pin, photo=base.photo,
                        application=base.application, receipt=base.receipt, renewal=self._renewal_view())

    # --- the card -------------------------------------------------------------------------------------

    def _first_step(self) -> None:
        if not self._host.reader_usable:
            self._go(Screen.ERROR, m.Message(m.ERROR_READER))
        elif self._host.card_present:
            self._read_card()
        else:
            self._go(Screen.INSERT_CARD)

    def _go(self, screen: Screen, message: m.Message | None = None) -> None:
        if screen is not Screen.PIN_ENTRY:
            self._host.session.entry.clear()
        self._screen = screen
        self._message = message

    def _submit_card(self, operation: CardOperation[object], on_result: object, on_failure: object) -> bool:
        try:
            ticket = self._host.jobs.submit(operation, insertion=self._host.insertion)
        except Exception as exc:
            operation.wipe()
            LOG.error("could not queue the card operation: %s", type(exc).__name__)
            self._go(Screen.ERROR, m.message_for_error(exc))
            return False
        self._card_jobs.expect(ticket, on_result, on_failure)  # type: ignore[arg-type]
        self._busy = _Busy(ticket, self._host.clock.now() + self._host.config.timeouts.card_operation_seconds)
        self._host.session.pause()
        return True

    def _not_busy(self) -> None:
        if self._busy is not None:
            self._busy = None
            self._host.session.resume(self._host.clock.now())

    def _read_card(self) -> None:
        if self._submit_card(CheckRenewal(), self._card_read, self._card_unreadable):
            self._go(Screen.READING, m.Message(m.CARD_KEEP_STILL))

    def _card_read(self, facts: RenewalFacts) -> None:
        self._not_busy()
        same = self._facts is not None and facts.card == self._facts.card
        resume, self._resume = self._resume, None
        if self._facts is not None and not same:
            LOG.info("another card was put on the reader: the renewal starts over")
            self._start_over()
        self._facts = facts
        if same and resume is not None:
            self._go(resume)  # the same card is back: carry on where the resident was
            if resume is Screen.PHOTO:
                self._go_photo()
            return
        refusal = m.pin_refusal(facts.auth, self._host.policy) if facts.status == ELIGIBLE else None
        if refusal is not None:  # a signature needs a PIN try this kiosk may not spend: the counter, now
            self._go(Screen.GO_TO_COUNTER, refusal)
        else:
            self._go(Screen.RENEWAL_CHECK)

    def _card_unreadable(self, error: BaseException) -> None:
        self._not_busy()
        self._go(Screen.ERROR, m.message_for_error(error))

    def _start_over(self) -> None:
        self._stop_camera()
        self._drop_photo()
        self._email = self._braille = None
        self._certificates, self._under_15, self._consent = True, False, False
        self._drop_signing()

    def _drop_signing(self) -> None:
        self._nonce = None
        if self._signing is not None:
            self._signing.clear()
        self._signing = None
        self._pin_error = None

    def _on_reader_changed(self, _event: ReaderChanged) -> None:
        if not self._host.reader_usable and self._screen not in _AFTER_RECEIPT:
            self._not_busy()
            self._card_jobs.forget_all()
            self._go(Screen.ERROR, m.Message(m.ERROR_READER))

    def _on_card_inserted(self, _event: CardInserted) -> None:
        self._activity()
        if self._screen in (Screen.INSERT_CARD, Screen.ERROR) and self._host.reader_usable:
            self._read_card()

    def _on_card_removed(self, _event: CardRemoved) -> None:
        if self._screen in _AFTER_RECEIPT or self._saving:
            return  # signed and being stored, or stored: the card is no longer needed
        self._not_busy()
        self._card_jobs.forget_all()
        if self._screen not in _CARD_STEPS and self._screen is not Screen.ERROR:
            self._resume = _RESUME.get(self._screen, self._screen)
            self._stop_camera()
            self._drop_signing()  # a new nonce is fetched: the PIN step starts again from the review
        self._go(Screen.INSERT_CARD, m.Message(m.ERROR_CARD_REMOVED))

    def _on_card_result(self, event: CardResult) -> None:
        self._card_jobs.deliver(event.ticket, event.result)

    def _on_card_failed(self, event: CardFailed) -> None:
        if not self._card_jobs.waiting_for(event.ticket):
            return
        if m.is_card_gone(event.error):
            self._card_jobs.forget_all()
            self._on_card_removed(CardRemoved(""))
            return
        self._card_jobs.fail(event.ticket, event.error)

    def _on_tick(self, event: Tick) -> None:
        super()._on_tick(event)
        busy = self._busy
        if busy is not None and event.now >= busy.deadline:
            LOG.warning("the card took longer than allowed (ticket %d)", busy.ticket)
            self._not_busy()
            self._card_jobs.forget_all()
            self._go(Screen.ERROR, m.Message(m.ERROR_TIMEOUT))
        if self._screen is Screen.PIN_ENTRY and self._host.session.pin_timed_out(event.now):
            self._host.session.entry.clear()
            self._pin_error = m.Message(m.PIN_TIMEOUT)

    # --- the application's steps, adapted -------------------------------------------------------------

    def _on_continue(self, event: Continue) -> None:
        if self._screen is Screen.RENEWAL_CHECK:
            self._activity()
            if self._facts is not None and self._facts.status == ELIGIBLE:
                self._go_photo()
            return
        super()._on_continue(event)

    def _on_back(self, event: Back) -> None:
        if self._screen is Screen.PIN_ENTRY:
            self._activity()
            self._drop_signing()
            self._go(Screen.REVIEW)
            return
        super()._on_back(event)

    def _back_from_photo(self) -> None:
        self._stop_camera()
        self._drop_photo()
        self._go(Screen.RENEWAL_CHECK)

    def _on_finish(self, event: Finish) -> None:
        if self._screen in (Screen.RENEWAL_CHECK, Screen.GO_TO_COUNTER, Screen.ERROR):
            self._host.end_session()
        else:
            super()._on_finish(event)

    def _typed(self) -> None:
        super()._typed()
        if self._screen is Screen.PIN_ENTRY:
            self._host.session.pin_key(self._host.clock.now())
            if self._pin_error is not None and self._pin_error.key in (m.PIN_FORMAT, m.PIN_TIMEOUT):
                self._pin_error = None

    def _on_toggle_show_pin(self, _event: ToggleShowPin) -> None:
        self._activity()
        if self._screen is Screen.PIN_ENTRY:
            entry = self._host.session.entry
            entry.show = not entry.show

    # --- signing and storing ----------------------------------------------------------------------------

    def _send(self) -> None:
        """Agreed: fetch the nonce the card will sign, then ask for the PIN."""
        task = GetRenewalNonce()
        try:
            ticket = self._host.tasks.submit(task)
        except Exception as exc:
            LOG.error("could not ask for a renewal nonce: %s", type(exc).__name__)
            self._message = m.Message(k.RENEWAL_OFFLINE)
            return
        self._tasks.expect(ticket, self._nonce_received, self._nonce_refused)
        self._go_working(k.WORKING_PREPARING)

    def _nonce_received(self, answer: RenewalNonceAnswer) -> None:
        if self._screen is not Screen.WORKING or self._facts is None:
            return  # the card left meanwhile: a new nonce is fetched after it is back
        self._nonce = answer.nonce
        self._signing = self._details_payload()
        self._go(Screen.PIN_ENTRY, m.Message(k.RENEWAL_PIN))
        self._host.session.start_entry(PIN4)

    def _nonce_refused(self, error: BaseException) -> None:
        LOG.info("no renewal nonce: %s", getattr(error, "code", type(error).__name__))
        if self._screen is Screen.WORKING:
            self._go(Screen.REVIEW, m.Message(k.RENEWAL_OFFLINE))

    def _on_pad_submit(self, event: PinSubmit) -> None:
        if self._screen is not Screen.PIN_ENTRY:
            super()._on_pad_submit(event)
            return
        self._activity()
        facts, nonce, payload = self._facts, self._nonce, self._signing
        if facts is None or nonce is None or payload is None:
            self._go(Screen.REVIEW)
            return
        refusal = m.pin_refusal(facts.auth, self._host.policy)
        if refusal is not None:
            self._go(Screen.GO_TO_COUNTER, refusal)
            return
        pin, _problem = self._host.session.entry.submit()
        if pin is None:
            self._pin_error = m.Message(m.PIN_FORMAT)  # nothing was sent to the card
            return
        self._rule_said = True
        if self._submit_card(SignRenewal(pin, nonce, payload), self._signed, self._sign_failed):
            self._go(Screen.VERIFYING, m.Message(m.CARD_KEEP_STILL))

    def _signed(self, signed: SignedRenewal) -> None:
        self._not_busy()
        nonce, payload = self._nonce, self._signing
        self._nonce, self._signing = None, None
        if nonce is None or payload is None:
            return
        self._saving = True
        self._store(EnqueueRenewal(nonce, signed, payload), "")

    def _sign_failed(self, error: BaseException) -> None:
        self._not_busy()
        facts = self._facts
        if isinstance(error, errors.WrongPin) and facts is not None:
            status = PinStatus(facts.auth.name, error.remaining, facts.auth.maximum, blocked=error.remaining <= 0)
            self._facts = RenewalFacts(facts.status, status, facts.not_after, facts.renewal_from, facts.card)
            refusal = m.pin_refusal(status, self._host.policy)
            if refusal is not None:
                self._drop_signing()
                self._go(Screen.GO_TO_COUNTER, refusal)
            else:
                self._go(Screen.PIN_ENTRY, m.Message(k.RENEWAL_PIN))
                self._host.session.start_entry(PIN4)
                self._pin_error = m.Message(m.PIN_WRONG, {"remaining": self._host.policy.usable_tries(status),
                                                          "pin": status.name})
        elif isinstance(error, errors.PinFormatInvalid):
            self._go(Screen.PIN_ENTRY, m.Message(k.RENEWAL_PIN))
            self._host.session.start_entry(PIN4)
            self._pin_error = m.Message(m.PIN_FORMAT)
        elif isinstance(error, errors.PinGuardRefused | errors.PinBlocked):
            self._drop_signing()
            self._go(Screen.GO_TO_COUNTER, m.message_for_error(error))
        else:
            self._drop_signing()
            self._go(Screen.ERROR, m.message_for_error(error))

    # --- the view ---------------------------------------------------------------------------------------

    def _pin_view(self) -> InputView | None:
        if self._screen is not Screen.PIN_ENTRY or self._facts is None:
            return None
        status, policy, error = self._facts.auth, self._host.policy, self._pin_error
        note = None
        if not self._rule_said and policy.usable_tries(status) < status.remaining:
            note = m.Message(m.PIN_TRIES_RULE, {"usable": policy.usable_tries(status), "pin": status.name})
        return self._host.session.entry.view(
            remaining_tries=policy.usable_tries(status),
            error=(error.key, error.args_dict()) if error is not None else None,
            note=(note.key, note.args_dict()) if note is not None else None)

    def _renewal_view(self) -> RenewalView | None:
        if self._screen is not Screen.RENEWAL_CHECK or self._facts is None:
            return None
        facts = self._facts
        opens = m.expiry_date(facts.renewal_from) if facts.status != ELIGIBLE else None
        return RenewalView(facts.status, m.expiry_date(facts.not_after), opens)


__all__ = ["RenewalFlow"]
