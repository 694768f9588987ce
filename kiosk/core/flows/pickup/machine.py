"""The clerk's counter: sign-in, and the card pickup (交付) as a small state machine.

Sign-in (staff ID, password) → home (look up by the 交付通知書 number or the application ID, typed or
scanned; the office's open "call staff" requests) → the application (name, birth date, photo) → the new
card, read without a PIN (the driver's verdict on its certificates, the card identity the server expects)
→ the RESIDENT sets the PINs on a panel the clerk's side shows only as progress → the card verified with
the new PINs (proof that the chip holds the key, the card data's integrity), the basic 4 matched by the
server's keyed hash, the card's face photo beside the application's for the clerk's visual check → the
documents collected → the handover, committed to the outbox → done.

Decisions worth knowing:

* **A failed check is never a pass.** Every check is passed, failed or not checked, and the handover needs
  every required one passed — or a supervisor's override naming exactly the checks that are not, with a
  reason code, granted by the server and recorded (``REQUIRED_CHECKS``).
* **No PIN for a card that already failed**: a card whose certificate failed, or that is not the card
  issued for this pickup, gets no PIN setup at all (a forged card would learn the resident's PINs).
* **The card may leave mid-way.** Nothing is recorded for the pickup; the clerk sees which PINs were set
  and which were not, and the same card put back resumes with the PINs still unset.
* **The clerk's session is the desk's** (``kiosk.core.clerk.ClerkDesk``): it outlives each resident but
  not the clerk's inactivity — sign-out after ``[clerk] sign_out_after_seconds`` or the server token's end.
* **Every clerk action is audited** by the task that does it (``tasks.audit``), card outcomes by
  ``RecordAudit``; no personal data enters the trail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from contract import payloads
from contract.application_id import InvalidApplicationId, check_application_id
from contract.crl import normalise_serial
from drivers import errors
from drivers.mynumber.issuance import InitialPins, Outcome
from drivers.mynumber.session import zero
from kiosk.core import messages as m
from kiosk.core.clerk import ClerkDesk, SignedIn
from kiosk.core.events import (
    AcknowledgeCall,
    Back,
    CardFailed,
    CardInserted,
    CardRemoved,
    CardResult,
    ChooseReason,
    CodeScanned,
    Continue,
    EditField,
    Event,
    FaceMatch,
    Finish,
    OutboxDelivered,
    PinBackspace,
    PinClear,
    PinDigit,
    PinSubmit,
    SignOut,
    Submit,
    TaskFailed,
    TaskResult,
    Tick,
    ToggleOption,
)
from kiosk.core.flows import PICKUP, FlowHost, FlowView
from kiosk.core.flows.pickup.operations import IssuedCard, IssuePins, NewCardFacts, ReadNewCard
from kiosk.core.flows.pickup.tasks import (
    AcknowledgeCall as AcknowledgeCallTask,
)
from kiosk.core.flows.pickup.tasks import (
    CheckBasic4,
    ClerkSignedIn,
    FindPickup,
    ListStaffCalls,
    OverrideGranted,
    PickupFound,
    QueuedHandover,
    QueueHandover,
    RecordAudit,
    RequestOverride,
    SignInClerk,
    SignOutClerk,
)
from kiosk.core.input import NEW_PIN4, NEW_SIGN_PIN, PICKUP_LOOKUP, STAFF_ID, STAFF_PASSWORD, InputBuffer, InputView
from kiosk.core.pickup_keys import (
    BASIC4_MATCH,
    CARD_IDENTITY,
    CARD_NOT_NEW,
    CARD_PULLED,
    CARD_UNREADABLE,
    CARD_VERIFIED,
    FACE_VISUAL,
    HANDOVER_NOT_STORED,
    INSERT_NEW_CARD,
    LOOKUP_INVALID,
    NOT_ALLOWED,
    OVERRIDE_NEEDED,
    OVERRIDE_REFUSED,
    PICKUP_CLOSED,
    PICKUP_KEYS,
    PICKUP_NOT_FOUND,
    PINS_SET,
    REASON_KEYS,
    SERVER_UNREACHABLE,
    SIGN_IN_LIMITED,
    SIGN_IN_REFUSED,
    SIGNED_OUT_IDLE,
)
from kiosk.core.ports import Task, Tickets
from kiosk.core.view import ClerkView, PickupCheck, PickupView, Screen, StaffCallLine

LOG = logging.getLogger(__name__)

# The checks of a pickup, in the order the clerk sees them, the ones the handover needs passed, and the
# documents handed in (workflows-and-peers.md C.2): one rule set with the server (``contract.payloads``).
CHECKS = payloads.HANDOVER_CHECKS
REQUIRED_CHECKS = payloads.REQUIRED_HANDOVER_CHECKS
COLLECTED = payloads.COLLECTED_DOCUMENTS
# A supervisor's reasons (codes, never free text: the trail must stay free of personal data).
OVERRIDE_REASONS = ("photo_outdated_identity_documented", "record_updated_since_application",
                    "card_check_unavailable_documented", "other_documented_on_paper")
# PIN_SETUP order; "common" stands for auth + card_info + juki when the resident chose one PIN for the three.
_FOUR_DIGIT = ("auth", "card_info", "juki")

@dataclass(slots=True)
class _Check:
    status: str = "not_checked"
    reason: str | None = None


class PickupFlow:
    """One counter task: the desk's sign-in, then one pickup at a time (``ClerkDesk`` survives pickups)."""

    task = PICKUP

    def __init__(self, host: FlowHost, desk: ClerkDesk) -> None:
        self._host = host
        self._desk = desk
        self._tasks = Tickets()
        self._cards = Tickets()
        self._screen = Screen.CLERK_SIGN_IN
        self._message: m.Message | None = None
        self._editing = "username"
        self._username = InputBuffer(STAFF_ID)
        self._password = InputBuffer(STAFF_PASSWORD)
        self._lookup = InputBuffer(PICKUP_LOOKUP)
        self._calls: tuple[StaffCallLine, ...] = ()
        self._calls_due = 0.0
        self._pickup: PickupFound | None = None
        self._card: NewCardFacts | None = None
        self._checks = {name: _Check() for name in CHECKS}
        self._face_png: bytes | None = None
        self._pins_set: tuple[str, ...] = ()
        self._pin_targets: list[str] = []
        self._pin_index = 0
        self._one_pin = False
        self._pin_entry = InputBuffer(NEW_PIN4)
        self._pin_error: tuple[str, dict[str, object]] | None = None
        self._chosen: dict[str, bytearray] = {}  # the resident's PINs until the card takes them
        self._collected = dict.fromkeys(COLLECTED, False)
        self._reason: str | None = None
        self._override: OverrideGranted | None = None
        self._handover: QueuedHandover | None = None
        self._handover_state: str | None = None
        # Outcomes the flusher reported before the queued handover's own answer came back (it may deliver
        # while the task is still writing its audit entry): item id → delivered | refused.
        self._early_outcomes: dict[str, str] = {}
        self._handlers: dict[type[Event], Callable[[Event], None]] = {
            Tick: self._on_tick, PinDigit: self._on_key, PinBackspace: self._on_backspace,
            PinClear: self._on_clear, PinSubmit: self._on_pad_submit, EditField: self._on_edit_field,
            Submit: self._on_submit, Continue: self._on_continue, Back: self._on_back,
            CodeScanned: self._on_code_scanned, SignOut: self._on_sign_out, AcknowledgeCall: self._on_acknowledge,
            CardInserted: self._on_card_inserted, CardRemoved: self._on_card_removed,
            CardResult: self._on_card_result, CardFailed: self._on_card_failed,
            TaskResult: self._on_task_result, TaskFailed: self._on_task_failed,
            ToggleOption: self._on_toggle, FaceMatch: self._on_face_match, ChooseReason: self._on_reason,
            Finish: self._on_finish, OutboxDelivered: self._on_delivered,
        }

    # --- the Flow protocol ----------------------------------------------------------------------------

    def begin(self) -> None:
        now = self._host.clock.now()
        if self._desk.signed_in is not None and self._desk.expired(now):
            self._sign_out("timeout")
        if self._desk.signed_in is None:
            self._go_sign_in()
        else:
            self._go_home()

    def handle(self, event: Event) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def wipe(self) -> None:
        """The resident's part goes (pickup, photos, PINs, checks); the clerk's sign-in stays on the desk."""
        self._tasks.forget_all()
        self._cards.forget_all()
        self._username.clear()
        self._password.clear()
        self._lookup.clear()
        self._drop_pickup()

    def view(self) -> FlowView:
        return FlowView(
            self._screen, self._message, busy=self._screen in (Screen.READING, Screen.VERIFYING, Screen.WORKING),
            pin=self._pin_view(), clerk=self._clerk_view(), pickup=self._pickup_view())

    # --- views ------------------------------------------------------------------------------------------

    def _clerk_view(self) -> ClerkView:
        session = self._desk.signed_in
        return ClerkView(
            username=session.username if session else None, role=session.role if session else None,
            editing=self._editing if self._screen in (Screen.CLERK_SIGN_IN, Screen.SUPERVISOR) else None,
            username_entry=self._username.text(), password_entered=self._password.count,
            staff_calls=self._calls if self._screen is Screen.CLERK_HOME else ())

    def _pin_view(self) -> InputView | None:
        if self._screen is Screen.PIN_SETUP and self._pin_targets:
            return self._pin_entry.view(error=self._pin_error)
        if self._screen is Screen.CLERK_HOME:
            return self._lookup.view()
        if self._screen in (Screen.CLERK_SIGN_IN, Screen.SUPERVISOR):
            return (self._username if self._editing == "username" else self._password).view()
        return None

    def _pickup_view(self) -> PickupView | None:
        if self._screen in (Screen.CLERK_SIGN_IN, Screen.CLERK_HOME):
            return PickupView(lookup=self._lookup.text()) if self._screen is Screen.CLERK_HOME else None
        found = self._pickup
        resident_panel = self._screen is Screen.PIN_SETUP  # the resident's side: no name, no photo
        target = self._pin_targets[self._pin_index] if resident_panel and self._pin_index < len(
            self._pin_targets) else None
        return PickupView(
            application_id_masked=found.application_id_masked if found else None,
            notice_number=found.notice_number if found and not resident_panel else None,
            holder_name=found.holder_name if found and not resident_panel else None,
            birth_date=found.birth_date if found and not resident_panel else None,
            under_15=found.under_15 if found else False,
            application_photo=found.photo_jpeg if found and not resident_panel else None,
            card_face_png=self._face_png if not resident_panel else None,
            checks=tuple(PickupCheck(name, c.status, REASON_KEYS[name].get(c.status)) for name, c in
                         self._checks.items()),
            needs_override=self._needs_override(),
            pins_to_set=tuple(self._pin_targets), pins_set=self._pins_set, pin_target=target,
            pins_unset=self._unset_wanted(),
            one_pin=self._one_pin, collected=tuple(self._collected.items()),
            override_reason=self._override.reason if self._override else self._reason,
            override_reasons=OVERRIDE_REASONS if self._screen is Screen.SUPERVISOR else (),
            handover=self._handover_state)

    # --- sign-in and the desk ----------------------------------------------------------------------------

    def _go_sign_in(self, message: m.Message | None = None) -> None:
        self._drop_pickup()
        self._screen = Screen.CLERK_SIGN_IN
        self._editing = "username"
        self._username.clear()
        self._password.clear()
        self._message = message

    def _go_home(self) -> None:
        self._drop_pickup()
        self._screen = Screen.CLERK_HOME
        self._message = None
        self._lookup.clear()
        self._calls_due = 0.0  # refresh the staff calls at the next tick

    def _session(self) -> SignedIn:
        session = self._desk.signed_in
        if session is None:
            raise RuntimeError("no clerk is signed in")
        return session

    def _clerk_action(self, action: str) -> bool:
        """The role check before every clerk action; a refused action is said, not silently ignored."""
        now = self._host.clock.now()
        if self._desk.signed_in is None or self._desk.expired(now):
            if self._desk.signed_in is not None:
                self._sign_out("timeout")
            self._go_sign_in(m.Message(SIGNED_OUT_IDLE))
            return False
        if not self._desk.allows(action):
            self._message = m.Message(NOT_ALLOWED)
            return False
        self._desk.touch(now)
        return True

    def _submit_sign_in(self) -> None:
        username = self._username.text()
        if not username:
            self._editing = "username"
            return
        password, problem = self._password.submit()
        if password is None:
            self._editing = "password"
            self._message = m.Message(problem[0], problem[1]) if problem else None
            return
        self._screen = Screen.WORKING
        self._message = None
        self._run(SignInClerk(username, password), self._signed_in, self._sign_in_failed)

    def _signed_in(self, answer: ClerkSignedIn) -> None:
        now = self._host.clock.now()
        if answer.role not in ("clerk", "supervisor"):
            self._tasks.expect(self._host.tasks.submit(SignOutClerk(answer.token, answer.username, answer.role)),
                               lambda _r: None, lambda _e: None)
            self._go_sign_in(m.Message(NOT_ALLOWED))
            return
        self._desk.sign_in(SignedIn(answer.token, answer.username, answer.role, now + answer.seconds_left), now)
        self._username.clear()
        self._go_home()

    def _sign_in_failed(self, error: BaseException) -> None:
        self._go_sign_in(m.Message(_sign_in_error(error)))

    def _sign_out(self, why: str) -> None:
        session = self._desk.sign_out()
        if session is not None:
            self._run(SignOutClerk(session.token, session.username, session.role, why), lambda _r: None,
                      lambda _e: None)

    def _on_sign_out(self, _event: SignOut) -> None:
        if self._desk.signed_in is not None:
            self._sign_out("sign_out")
        self._go_sign_in()

    def _on_tick(self, event: Tick) -> None:
        if self._desk.signed_in is not None and self._desk.expired(event.now) and self._screen is not Screen.PIN_SETUP:
            LOG.info("clerk signed out after inactivity")
            self._sign_out("timeout")
            self._go_sign_in(m.Message(SIGNED_OUT_IDLE))
            return
        if self._screen is Screen.CLERK_HOME and event.now >= self._calls_due and self._desk.signed_in:
            self._calls_due = event.now + self._host.config.clerk.staff_calls_refresh_seconds
            self._run(ListStaffCalls(self._session().token), self._calls_listed, lambda _e: None)

    def _calls_listed(self, calls: tuple[object, ...]) -> None:
        self._calls = tuple(StaffCallLine(str(getattr(c, "call_id", "")), str(getattr(c, "kiosk_id", "")),
                                          int(getattr(c, "age_seconds", 0) or 0), str(getattr(c, "status", "open")))
                            for c in calls)

    def _on_acknowledge(self, event: AcknowledgeCall) -> None:
        if self._screen is not Screen.CLERK_HOME or not self._clerk_action("acknowledge_call"):
            return
        session = self._session()
        self._run(AcknowledgeCallTask(event.call_id, session.token, session.username, session.role),
                  self._acknowledged, lambda _e: None)

    def _acknowledged(self, call_id: str) -> None:
        self._calls = tuple(c if c.call_id != call_id else StaffCallLine(c.call_id, c.kiosk_id, c.age_seconds,
                                                                           "acknowledged") for c in self._calls)

    # --- typing ---------------------------------------------------------------------------------------------

    def _buffer(self) -> InputBuffer | None:
        if self._screen in (Screen.CLERK_SIGN_IN, Screen.SUPERVISOR):
            return self._username if self._editing == "username" else self._password
        if self._screen is Screen.CLERK_HOME:
            return self._lookup
        if self._screen is Screen.PIN_SETUP and self._pin_targets:
            return self._pin_entry
        return None

    def _on_key(self, event: PinDigit) -> None:
        buffer = self._buffer()
        if buffer is not None:
            buffer.add(event.digit)
            self._pin_error = None
            self._touch()

    def _on_backspace(self, _event: PinBackspace) -> None:
        buffer = self._buffer()
        if buffer is not None:
            buffer.backspace()

    def _on_clear(self, _event: PinClear) -> None:
        buffer = self._buffer()
        if buffer is not None:
            buffer.clear()

    def _touch(self) -> None:
        if self._desk.signed_in is not None:
            self._desk.touch(self._host.clock.now())

    def _on_edit_field(self, event: EditField) -> None:
        if self._screen in (Screen.CLERK_SIGN_IN, Screen.SUPERVISOR) and event.field in ("username", "password"):
            self._editing = event.field

    def _on_pad_submit(self, _event: PinSubmit) -> None:
        if self._screen in (Screen.CLERK_SIGN_IN, Screen.SUPERVISOR):
            if self._editing == "username":
                self._editing = "password"
            elif self._screen is Screen.CLERK_SIGN_IN:
                self._submit_sign_in()
            else:
                self._submit_override()
        elif self._screen is Screen.CLERK_HOME:
            self._submit_lookup(self._lookup.text())
        elif self._screen is Screen.PIN_SETUP:
            self._submit_pin()

    def _on_submit(self, event: Submit) -> None:
        self._on_pad_submit(PinSubmit())

    # --- lookup -----------------------------------------------------------------------------------------------

    def _on_code_scanned(self, event: CodeScanned) -> None:
        if self._screen is Screen.CLERK_HOME:
            self._submit_lookup(event.text.strip())

    def _submit_lookup(self, text: str) -> None:
        if not self._clerk_action("lookup"):
            return
        by, query = _lookup_kind(text)
        if by is None:
            self._message = m.Message(LOOKUP_INVALID)
            return
        session = self._session()
        self._screen = Screen.WORKING
        self._message = None
        self._run(FindPickup(query, by, session.token, session.username, session.role), self._found,
                  self._lookup_failed)

    def _found(self, found: PickupFound) -> None:
        self._host.session.hold(found)
        self._pickup = found
        self._lookup.clear()
        self._screen = Screen.PICKUP_APPLICATION

    def _lookup_failed(self, error: BaseException) -> None:
        self._screen = Screen.CLERK_HOME
        status = getattr(error, "status", None)
        if status == 404:
            self._message = m.Message(PICKUP_NOT_FOUND)
        elif status == 409:
            self._message = m.Message(PICKUP_CLOSED)
        elif status == 401:
            self._desk.sign_out()
            self._go_sign_in(m.Message(SIGNED_OUT_IDLE))
        else:
            self._message = m.Message(SERVER_UNREACHABLE)

    # --- the new card -----------------------------------------------------------------------------------------

    def _on_continue(self, _event: Continue) -> None:
        screen = self._screen
        if screen is Screen.PICKUP_APPLICATION and self._clerk_action("read_card"):
            self._read_card()
        elif screen is Screen.PICKUP_CHECKS and self._pin_setup_allowed():
            self._start_pin_setup()
        elif screen is Screen.PICKUP_CHECKS and not self._issued_for_this_pickup():
            self._message = self._not_this_card()  # cancel, and look for the card issued for this pickup
        elif screen is Screen.PICKUP_CHECKS and self._clerk_action("hand_over"):
            self._go_finish()  # no PIN setup possible: straight to the summary (override or cancel)
        elif screen is Screen.PIN_SETUP and not self._pin_targets:
            self._choose_pins()
        elif screen is Screen.PICKUP_FINISH and self._needs_override() and self._override is None:
            self._go_supervisor()

    def _on_back(self, _event: Back) -> None:
        if self._screen is Screen.SUPERVISOR:
            self._password.clear()
            self._username.clear()
            self._reason = None
            self._screen = Screen.PICKUP_FINISH
        elif self._screen in (Screen.PICKUP_APPLICATION, Screen.PICKUP_STOPPED) and self._clerk_action("lookup"):
            self._go_home()

    def _read_card(self) -> None:
        if not self._host.card_present:
            self._screen = Screen.INSERT_CARD
            self._message = m.Message(INSERT_NEW_CARD)
            return
        self._screen = Screen.READING
        self._message = None
        self._card_op(ReadNewCard(), self._card_read, self._card_read_failed)

    def _on_card_inserted(self, _event: CardInserted) -> None:
        if self._screen in (Screen.INSERT_CARD, Screen.PICKUP_STOPPED):
            self._read_card()

    def _card_read(self, facts: NewCardFacts) -> None:
        self._card = facts
        found = self._pickup
        verified = _prefetch_status(facts)
        self._set(CARD_VERIFIED, verified)
        if facts.serial is None or found is None:
            self._set(CARD_IDENTITY, "not_checked")
        else:
            self._set(CARD_IDENTITY, "passed" if _same_serial(facts.serial, found.expected_serial) else "failed")
        if facts.already_set and not facts.unset:
            self._message = m.Message(CARD_NOT_NEW)
        self._screen = Screen.PICKUP_CHECKS
        self._audit("pickup.card_read", "ok" if self._pin_setup_allowed() else "refused",
                    {CARD_VERIFIED: self._checks[CARD_VERIFIED].status,
                     CARD_IDENTITY: self._checks[CARD_IDENTITY].status, "unset_pins": list(facts.unset)})

    def _card_read_failed(self, error: BaseException) -> None:
        self._screen = Screen.INSERT_CARD if isinstance(error, errors.CardRemoved) else Screen.PICKUP_APPLICATION
        self._message = m.Message(INSERT_NEW_CARD if isinstance(error, errors.CardRemoved) else CARD_UNREADABLE)
        self._audit("pickup.card_read", "failed", {"code": getattr(error, "code", type(error).__name__)})

    def _pin_setup_allowed(self) -> bool:
        """PINs only for the right card with sound certificates, and only PINs that await a value."""
        card = self._card
        return (card is not None and not card.certificate_failed and bool(card.unset)
                and self._checks[CARD_VERIFIED].status == "passed" and self._checks[CARD_IDENTITY].status == "passed")

    # --- the resident sets the PINs -------------------------------------------------------------------------

    def _start_pin_setup(self) -> None:
        self._screen = Screen.PIN_SETUP
        self._pin_targets = []
        self._pin_index = 0
        self._one_pin = False
        self._message = None

    def _on_toggle(self, event: ToggleOption) -> None:
        if self._screen is Screen.PIN_SETUP and not self._pin_targets and event.option == "one_pin":
            self._one_pin = not self._one_pin
        elif self._screen is Screen.PICKUP_FINISH and event.option in self._collected:
            self._collected[event.option] = not self._collected[event.option]
            self._touch()

    def _unset_wanted(self) -> tuple[str, ...]:
        """The card's unset PINs this resident sets (a child under 15 has no sign password)."""
        unset = self._card.unset if self._card else ()
        return tuple(name for name in unset if not (name == "sign" and self._pickup and self._pickup.under_15))

    def _choose_pins(self) -> None:
        wanted = list(self._unset_wanted())
        four = [name for name in wanted if name in _FOUR_DIGIT]
        if self._one_pin and len(four) > 1:
            targets = ["common", *[name for name in wanted if name not in _FOUR_DIGIT]]
        else:
            targets = wanted
        self._pin_targets = targets
        self._pin_index = 0
        self._next_pin_entry()

    def _next_pin_entry(self) -> None:
        target = self._pin_targets[self._pin_index]
        self._pin_entry.clear()
        self._pin_entry = InputBuffer(NEW_SIGN_PIN if target == "sign" else NEW_PIN4)
        self._pin_error = None

    def _submit_pin(self) -> None:
        entry, problem = self._pin_entry.submit()
        if problem is not None:
            self._pin_error = problem
            return
        if entry is None:
            return  # the first of two entries: now the same again
        target = self._pin_targets[self._pin_index]
        self._chosen[target] = entry
        self._pin_index += 1
        if self._pin_index < len(self._pin_targets):
            self._next_pin_entry()
            return
        self._issue()

    def _issue(self) -> None:
        chosen, self._chosen = self._chosen, {}
        common = chosen.pop("common", None)
        if common is not None:
            pins = InitialPins.one_for_three(common, sign=chosen.pop("sign", None))
        else:
            pins = InitialPins(auth=chosen.pop("auth", None), card_info=chosen.pop("card_info", None),
                               juki=chosen.pop("juki", None), sign=chosen.pop("sign", None))
        for left in chosen.values():
            zero(left)
        self._pin_entry.clear()
        self._screen = Screen.VERIFYING
        self._card_op(IssuePins(pins), self._issued, self._issue_failed)

    def _issued(self, issued: IssuedCard) -> None:
        self._host.session.hold(issued)
        result = issued.pins
        self._pins_set = tuple(dict.fromkeys([*self._pins_set, *result.set_pins]))
        self._pin_targets = []
        wanted = set(self._card.unset if self._card else ()) - ({"sign"} if self._pickup and self._pickup.under_15
                                                                  else set())
        all_set = wanted <= set(self._pins_set)
        self._set(PINS_SET, "passed" if all_set else ("failed" if self._pins_set else "not_checked"))
        self._audit("pickup.pins_set", "ok" if all_set else "failed",
                    {"set": list(result.set_pins), "not_set": [p.name for p in result.pins if p.outcome is not
                                                               Outcome.SET]})
        if not result.complete:
            self._stop_for_card(issued)
            return
        if issued.checks:
            self._set(CARD_VERIFIED, "passed" if issued.verified else "failed")
        self._face_png = issued.face_png
        if issued.basic4 is None or self._pickup is None:
            self._set(BASIC4_MATCH, "not_checked")
            self._screen = Screen.PICKUP_COMPARE
            return
        basic4, issued.basic4 = issued.basic4, None
        self._screen = Screen.WORKING
        self._run(CheckBasic4(self._pickup.pickup_id, basic4, self._session().token), self._basic4_checked,
                  self._basic4_failed)

    def _stop_for_card(self, issued: IssuedCard) -> None:
        """The card left (or refused a PIN) mid-way: nothing is recorded; say what was and was not set."""
        if self._card is not None:
            remaining = tuple(name for name in self._card.unset if name not in self._pins_set)
            self._card = NewCardFacts(self._card.checks, self._card.certificate_failed, self._card.serial,
                                      self._card.issuer_key_id, remaining, (*self._card.already_set, *self._pins_set))
        self._screen = Screen.PICKUP_STOPPED
        self._message = m.Message(CARD_PULLED if issued.pins.card_removed else CARD_UNREADABLE)

    def _issue_failed(self, error: BaseException) -> None:
        self._pin_targets = []
        self._screen = Screen.PICKUP_STOPPED
        self._message = m.Message(CARD_PULLED if isinstance(error, errors.CardRemoved) else CARD_UNREADABLE)
        self._audit("pickup.pins_set", "failed", {"code": getattr(error, "code", type(error).__name__)})

    def _basic4_checked(self, same: bool) -> None:
        self._set(BASIC4_MATCH, "passed" if same else "failed")
        self._audit("pickup.checks", "ok" if same else "failed", {BASIC4_MATCH: self._checks[BASIC4_MATCH].status})
        self._screen = Screen.PICKUP_COMPARE

    def _basic4_failed(self, error: BaseException) -> None:
        LOG.info("basic-4 match could not be made: %s", getattr(error, "code", type(error).__name__))
        self._set(BASIC4_MATCH, "not_checked")
        self._message = m.Message(SERVER_UNREACHABLE)
        self._screen = Screen.PICKUP_COMPARE

    # --- the clerk's decision, the override, the handover ----------------------------------------------------

    def _on_face_match(self, event: FaceMatch) -> None:
        if self._screen is not Screen.PICKUP_COMPARE or not self._clerk_action("hand_over"):
            return
        self._set(FACE_VISUAL, "passed" if event.same else "failed")
        self._audit("pickup.checks", "ok" if event.same else "failed", {FACE_VISUAL: self._checks[FACE_VISUAL].status})
        self._go_finish()

    def _go_finish(self) -> None:
        self._screen = Screen.PICKUP_FINISH
        self._message = m.Message(OVERRIDE_NEEDED) if self._needs_override() and self._override is None else None

    def _issued_for_this_pickup(self) -> bool:
        """Is the card on the reader the one the server expects? No override hands over another card (or one
        whose identity could not be read): the server refuses such a handover (``card_mismatch``,
        server/overrides.py), so the kiosk offers no summary, no supervisor and no handover for it."""
        return self._checks[CARD_IDENTITY].status == "passed"

    def _not_this_card(self) -> m.Message:
        return m.Message(REASON_KEYS[CARD_IDENTITY].get(self._checks[CARD_IDENTITY].status,
                                                        REASON_KEYS[CARD_IDENTITY]["failed"]))

    def _needs_override(self) -> tuple[str, ...]:
        return payloads.checks_needing_override({name: check.status for name, check in self._checks.items()})

    def _go_supervisor(self) -> None:
        self._screen = Screen.SUPERVISOR
        self._editing = "username"
        self._username.clear()
        self._password.clear()
        self._reason = None
        self._message = None

    def _on_reason(self, event: ChooseReason) -> None:
        """Choose a reason; choosing the chosen one again opens the list again."""
        if self._screen is Screen.SUPERVISOR and event.reason in OVERRIDE_REASONS:
            self._reason = None if event.reason == self._reason else event.reason

    def _submit_override(self) -> None:
        username = self._username.text()
        password, problem = self._password.submit()
        if password is None or not username or self._reason is None or self._pickup is None:
            if password is not None:
                zero(password)
            self._message = m.Message(problem[0], problem[1]) if problem else m.Message(OVERRIDE_NEEDED)
            return
        self._screen = Screen.WORKING
        self._run(RequestOverride(self._pickup.pickup_id, self._needs_override(), self._reason, username, password),
                  self._override_granted, self._override_refused)

    def _override_granted(self, granted: OverrideGranted) -> None:
        self._override = granted
        self._username.clear()
        self._screen = Screen.PICKUP_FINISH
        self._message = None

    def _override_refused(self, error: BaseException) -> None:
        self._username.clear()
        self._screen = Screen.SUPERVISOR
        code = getattr(error, "code", None)
        status = getattr(error, "status", None)
        self._message = m.Message(OVERRIDE_REFUSED if status in (401, 403) or code == "supervisor_required"
                                  else SERVER_UNREACHABLE)

    def _on_finish(self, _event: Finish) -> None:
        if self._screen is Screen.PICKUP_FINISH:
            self._hand_over()
        elif self._screen in (Screen.PICKUP_DONE, Screen.PICKUP_STOPPED):
            self._host.end_session()

    def _hand_over(self) -> None:
        if not self._clerk_action("hand_over") or self._pickup is None or self._card is None:
            return
        if not self._issued_for_this_pickup():
            self._message = self._not_this_card()
            return
        if self._needs_override() and self._override is None:
            self._message = m.Message(OVERRIDE_NEEDED)
            return  # a failed check is never a pass
        found = self._pickup
        payload: dict[str, object] = {
            "pickup_id": found.pickup_id,
            "card_auth_cert_serial": self._card.serial or "",
            "handed_over_at": _utc_now_iso(),
            "grant": found.grant or "",
            "checks": {name: check.status for name, check in self._checks.items()},
            "pins_set": list(self._pins_set),
            "collected": dict(self._collected),
        }
        if self._override is not None:
            payload["override"] = self._override.override_id
        session = self._session()
        self._screen = Screen.WORKING
        self._run(QueueHandover(payload, session.username, session.role), self._handed_over, self._not_stored)

    def _handed_over(self, queued: QueuedHandover) -> None:
        self._handover = queued
        self._handover_state = self._early_outcomes.pop(queued.item_id, queued.state)
        self._early_outcomes.clear()
        self._screen = Screen.PICKUP_DONE
        self._message = None

    def _not_stored(self, error: BaseException) -> None:
        LOG.error("the handover could not be stored: %s", type(error).__name__)
        self._screen = Screen.PICKUP_FINISH
        self._message = m.Message(HANDOVER_NOT_STORED)

    def _on_delivered(self, event: OutboxDelivered) -> None:
        state = "delivered" if event.outcome == "delivered" else "refused"
        if self._handover is not None and event.item_id == self._handover.item_id:
            self._handover_state = state
        elif self._handover is None and self._pickup is not None:
            self._early_outcomes[event.item_id] = state  # ours, perhaps: its answer is still on its way

    # --- card and task plumbing --------------------------------------------------------------------------------

    def _on_card_removed(self, _event: CardRemoved) -> None:
        if self._screen is Screen.READING:
            self._cards.forget_all()
            self._screen = Screen.INSERT_CARD
            self._message = m.Message(INSERT_NEW_CARD)
        elif self._screen is Screen.PIN_SETUP:
            self._drop_chosen()  # nothing was sent yet: the same card put back starts the PINs again
            self._screen = Screen.PICKUP_STOPPED
            self._message = m.Message(CARD_PULLED)
        # VERIFYING: the operation itself reports what was set (IssuedCard.pins)

    def _set(self, name: str, status: str) -> None:
        self._checks[name] = _Check(status, REASON_KEYS[name].get(status))

    def _audit(self, action: str, outcome: str, details: dict[str, object]) -> None:
        session = self._desk.signed_in
        if session is None:
            return
        subject = self._pickup.pickup_id if self._pickup else None
        self._run(RecordAudit(session.username, session.role, action, outcome, subject, details), lambda _r: None,
                  lambda _e: LOG.error("an audit entry could not be written"))

    def _run(self, task: Task[object], on_result: Callable[..., None],
             on_failure: Callable[[BaseException], None]) -> None:
        try:
            ticket = self._host.tasks.submit(task)
        except Exception as exc:
            on_failure(exc)
            return
        self._tasks.expect(ticket, on_result, on_failure)

    def _card_op(self, operation: ReadNewCard | IssuePins, on_result: Callable[..., None],
                 on_failure: Callable[[BaseException], None]) -> None:
        ticket = self._host.jobs.submit(operation, insertion=self._host.insertion)
        self._cards.expect(ticket, on_result, on_failure)

    def _on_card_result(self, event: CardResult) -> None:
        self._cards.deliver(event.ticket, event.result)

    def _on_card_failed(self, event: CardFailed) -> None:
        self._cards.fail(event.ticket, event.error)

    def _on_task_result(self, event: TaskResult) -> None:
        self._tasks.deliver(event.ticket, event.result)

    def _on_task_failed(self, event: TaskFailed) -> None:
        self._tasks.fail(event.ticket, event.error)

    def _drop_chosen(self) -> None:
        for buffer in self._chosen.values():
            zero(buffer)
        self._chosen.clear()
        self._pin_entry.clear()
        self._pin_targets = []

    def _drop_pickup(self) -> None:
        self._drop_chosen()
        if self._pickup is not None:
            self._pickup.wipe()
        self._pickup = None
        self._card = None
        self._checks = {name: _Check() for name in CHECKS}
        self._face_png = None
        self._pins_set = ()
        self._one_pin = False
        self._collected = dict.fromkeys(COLLECTED, False)
        self._reason = None
        self._override = None
        self._handover = None
        self._handover_state = None
        self._early_outcomes.clear()


def _sign_in_error(error: BaseException) -> str:
    status = getattr(error, "status", None)
    if status == 429:
        return SIGN_IN_LIMITED
    if status in (401, 403, 423):
        return SIGN_IN_REFUSED
    return SERVER_UNREACHABLE


def _lookup_kind(text: str) -> tuple[str | None, str]:
    """An application ID (23 digits, the contract's check) or a notice number (the city's numbering)."""
    if text.isdigit() and len(text) == 23:
        try:
            return "application_id", check_application_id(text)
        except InvalidApplicationId:
            return None, ""
    if payloads.is_notice_number(text):
        return "notice_number", text
    return None, ""


def _prefetch_status(facts: NewCardFacts) -> str:
    if facts.certificate_failed or any(c.status == "failed" for c in facts.checks):
        return "failed"
    return "passed" if facts.checks and all(c.status == "passed" for c in facts.checks) else "not_checked"


def _same_serial(card: str, expected: str) -> bool:
    """The serial compared exactly as the server compares it for ``card_mismatch`` (``contract.crl``), so
    the kiosk's verdict can never differ from the server's; a serial that is not hex is not the same."""
    try:
        return normalise_serial(card) == normalise_serial(expected)
    except ValueError:
        return False


def _utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


__all__ = ["CHECKS", "COLLECTED", "OVERRIDE_REASONS", "PICKUP_KEYS", "REQUIRED_CHECKS", "PickupFlow"]
