"""The clerk's counter, driven like a script (SyncDispatcher, FakeClock, fake card and task workers): sign-in
and its refusals, the pickup from lookup to handover, each failing check, the supervisor's override, the
resident's PIN panel, a card pulled mid-way, the idle sign-out and the staff calls."""

from __future__ import annotations

import pytest

from drivers.mynumber.basic4 import Basic4
from drivers.mynumber.integrity import CheckResult
from drivers.mynumber.issuance import InitialPins, IssuanceResult, Outcome, PinResult
from kiosk.config import KioskConfig, KioskSection
from kiosk.core.clerk import ClerkDesk
from kiosk.core.dispatch import FakeClock, SyncDispatcher
from kiosk.core.events import (
    AcknowledgeCall,
    Cancel,
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
    PinDigit,
    PinSubmit,
    ReaderChanged,
    SignOut,
    TaskFailed,
    TaskResult,
    Tick,
    ToggleOption,
)
from kiosk.core.flows import APPLICATION, PICKUP
from kiosk.core.flows.application import ApplicationFlow
from kiosk.core.flows.pickup import PickupFlow
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
from kiosk.core.shell import Shell
from kiosk.core.view import Screen, ViewState
from tests.core.test_application_flow import FakeTasks
from tests.core.test_renewal_flow import FakeCards

READER = "Reader 0"
SERIAL = "1a2b3c"
PASSWORD = "counter-pass-2026"
NAME = "試験交付太郎"  # synthetic
PHOTO = b"\xff\xd8synthetic-application-photo\xff\xd9"
FACE = b"\x89PNG synthetic card face"
COUNTER = KioskConfig(kiosk=KioskSection(id="counter-01", mode="attended", station="counter"))


class ServerError(Exception):
    def __init__(self, status: int, code: str = "") -> None:
        super().__init__(code)
        self.status = status
        self.code = code


def found(*, under_15: bool = False, serial: str = SERIAL) -> PickupFound:
    return PickupFound("P-0123456789ABCDEF", "**** **** **** **** **** 123", "N-2026-0001", serial, NAME, "1990-04-01",
                       under_15, PHOTO, "grant-token")


def card_facts(*, failed: bool = False, serial: str | None = SERIAL, unset: tuple[str, ...] = (
        "auth", "card_info", "juki", "sign")) -> NewCardFacts:
    status = "failed" if failed else "passed"
    checks = (CheckResult("certificate_chain", status, None), CheckResult("certificate_validity", "passed", None))
    return NewCardFacts(checks, failed, serial, "ab" * 20, unset, ())


def issued(names: tuple[str, ...], *, removed_at: int | None = None, verified: bool = True) -> IssuedCard:
    pins = []
    for i, name in enumerate(names):
        if removed_at is None or i < removed_at:
            pins.append(PinResult(name, Outcome.SET))
        else:
            pins.append(PinResult(name, Outcome.NOT_SET if i > removed_at else Outcome.FAILED, "card_removed"))
    result = IssuanceResult(tuple(pins), 12)
    card = IssuedCard(result)
    if removed_at is None:
        card.checks = (CheckResult("possession", "passed" if verified else "failed", None),)
        card.verified = verified
        card.basic4 = Basic4(NAME, "東京都千代田区試験1-1", "19900401", "1")
        card.face_png = FACE
    return card


class Counter:
    def __init__(self, config: KioskConfig = COUNTER) -> None:
        self.clock = FakeClock()
        self.dispatcher = SyncDispatcher()
        self.cards = FakeCards()
        self.tasks = FakeTasks()
        self.desk = ClerkDesk(config.clerk.sign_out_after_seconds)
        self.shell = Shell(self.dispatcher, self.cards, self.clock, config,
                           flows={PICKUP: lambda host: PickupFlow(host, self.desk), APPLICATION: ApplicationFlow},
                           tasks=self.tasks)
        self.states: list[ViewState] = []
        self.shell.subscribe(self.states.append)
        self.post(ReaderChanged("ready", READER))

    @property
    def state(self) -> ViewState:
        return self.shell.state

    @property
    def screen(self) -> Screen:
        return self.state.screen

    def post(self, *events: Event) -> Counter:
        for event in events:
            self.dispatcher.post(event)
        return self

    def type(self, text: str) -> Counter:
        return self.post(*(PinDigit(c) for c in text))

    def answer(self, kind: type, result: object) -> Counter:
        ticket, _task = self.tasks.last(kind)
        return self.post(TaskResult(ticket, result))

    def fail(self, kind: type, error: BaseException) -> Counter:
        ticket, _task = self.tasks.last(kind)
        return self.post(TaskFailed(ticket, error))

    def card(self, kind: type, result: object) -> Counter:
        ticket, _op = self.cards.last(kind)
        return self.post(CardResult(ticket, result))

    def audits(self) -> list[tuple[str, str]]:
        return [(t.action, t.outcome) for _, t in self.tasks.submitted if isinstance(t, RecordAudit)]

    def sign_in(self, role: str = "clerk", username: str = "clerk-a") -> Counter:
        self.post(EditField("username")).type(username).post(PinSubmit()).type(PASSWORD).post(PinSubmit())
        return self.answer(SignInClerk, ClerkSignedIn("token-" + username, username, role, 1800.0))

    def look_up(self, record: PickupFound | None = None) -> Counter:
        self.type("N-2026-0001").post(PinSubmit())
        return self.answer(FindPickup, record or found())

    def read_card(self, facts: NewCardFacts | None = None) -> Counter:
        self.post(CardInserted(READER, b"\x3b", 1), Continue())
        return self.card(ReadNewCard, facts or card_facts())

    def set_pins(self, *, sign: bool = True, one_pin: bool = False) -> Counter:
        self.post(Continue())  # the resident's panel: the choice first
        if one_pin:
            self.post(ToggleOption("one_pin"))
        self.post(Continue())
        entries = ["1234"] if one_pin else ["1111", "2222", "3333"]
        if sign:
            entries.append("ABC123")
        for pin in entries:
            self.type(pin).post(PinSubmit()).type(pin).post(PinSubmit())
        return self

    def to_finish(self) -> Counter:
        self.sign_in().look_up().read_card().set_pins()
        self.card(IssuePins, issued(("auth", "card_info", "juki", "sign")))
        self.answer(CheckBasic4, True)
        return self.post(FaceMatch(True))


def test_a_counter_starts_at_the_clerk_sign_in_and_a_resident_kiosk_never_offers_the_pickup() -> None:
    counter = Counter()
    assert counter.screen is Screen.CLERK_SIGN_IN
    assert counter.state.tasks == ()  # nothing a resident could start
    counter.post(CardInserted(READER, b"\x3b", 1))
    assert counter.screen is Screen.CLERK_SIGN_IN and counter.cards.submitted == []
    resident = Counter(KioskConfig())
    assert PICKUP not in resident.state.tasks and resident.screen is Screen.ATTRACT


def test_signing_in_shows_the_password_only_as_a_count_and_lands_on_the_home_screen() -> None:
    counter = Counter()
    counter.type("clerk-a").post(PinSubmit()).type(PASSWORD)
    clerk = counter.state.clerk
    assert clerk is not None and clerk.username_entry == "clerk-a" and clerk.password_entered == len(PASSWORD)
    assert PASSWORD not in repr(counter.state)
    counter.post(PinSubmit())
    _, task = counter.tasks.last(SignInClerk)
    assert isinstance(task, SignInClerk) and task.username == "clerk-a" and bytes(task.password) == PASSWORD.encode()
    counter.answer(SignInClerk, ClerkSignedIn("tok", "clerk-a", "clerk", 1800.0))
    assert counter.screen is Screen.CLERK_HOME
    assert counter.state.clerk is not None and counter.state.clerk.username == "clerk-a"
    assert counter.state.clerk.password_entered == 0


@pytest.mark.parametrize(("status", "key"), [(401, "clerk.sign_in_refused"), (429, "clerk.sign_in_limited"),
                                             (503, "clerk.server_unreachable")])
def test_a_refused_sign_in_says_why_in_words(status: int, key: str) -> None:
    counter = Counter()
    counter.type("clerk-a").post(PinSubmit()).type(PASSWORD).post(PinSubmit())
    counter.fail(SignInClerk, ServerError(status))
    assert counter.screen is Screen.CLERK_SIGN_IN and counter.state.message_key == key
    assert counter.state.clerk is not None and counter.state.clerk.password_entered == 0


def test_an_operator_cannot_serve_at_the_counter() -> None:
    counter = Counter().sign_in(role="operator", username="operator-a")
    assert counter.screen is Screen.CLERK_SIGN_IN and counter.state.message_key == "clerk.not_allowed"
    _, sign_out = counter.tasks.last(SignOutClerk)
    assert isinstance(sign_out, SignOutClerk) and sign_out.username == "operator-a"


def test_the_happy_path_from_lookup_to_a_delivered_handover() -> None:
    counter = Counter().sign_in().look_up()
    _, lookup = counter.tasks.last(FindPickup)
    assert isinstance(lookup, FindPickup) and lookup.by == "notice_number"
    pickup = counter.state.pickup
    assert counter.screen is Screen.PICKUP_APPLICATION and pickup is not None
    assert pickup.holder_name == NAME and pickup.application_photo == PHOTO and pickup.birth_date == "1990-04-01"
    counter.read_card()
    checks = {c.name: c.status for c in counter.state.pickup.checks}
    assert counter.screen is Screen.PICKUP_CHECKS
    assert checks["card_verified"] == "passed" and checks["card_identity"] == "passed"
    assert checks["basic4_match"] == "not_checked" and checks["face_visual"] == "not_checked"
    counter.set_pins()
    assert counter.screen is Screen.VERIFYING
    _, operation = counter.cards.last(IssuePins)
    assert isinstance(operation, IssuePins)
    assert {ref.key: bytes(v) for ref, v in operation.pins.requested()} == {
        "auth": b"1111", "card_info": b"2222", "juki": b"3333", "sign": b"ABC123"}
    counter.card(IssuePins, issued(("auth", "card_info", "juki", "sign")))
    assert counter.screen is Screen.WORKING
    _, basic4 = counter.tasks.last(CheckBasic4)
    assert isinstance(basic4, CheckBasic4) and basic4.pickup_id == "P-0123456789ABCDEF"
    counter.answer(CheckBasic4, True)
    assert counter.screen is Screen.PICKUP_COMPARE
    assert counter.state.pickup.card_face_png == FACE and counter.state.pickup.application_photo == PHOTO
    counter.post(FaceMatch(True))
    assert counter.screen is Screen.PICKUP_FINISH and counter.state.pickup.needs_override == ()
    counter.post(ToggleOption("notification_card"), Finish())
    _, handover = counter.tasks.last(QueueHandover)
    assert isinstance(handover, QueueHandover)
    payload = handover.payload
    assert payload["pickup_id"] == "P-0123456789ABCDEF" and payload["card_auth_cert_serial"] == SERIAL
    assert payload["grant"] == "grant-token" and "override" not in payload
    assert payload["checks"] == {"card_verified": "passed", "card_identity": "passed", "basic4_match": "passed",
                                 "face_visual": "passed", "pins_set": "passed"}
    assert payload["collected"] == {"notification_card": True, "juki_card": False, "old_card": False}
    assert sorted(payload["pins_set"]) == ["auth", "card_info", "juki", "sign"]
    counter.answer(QueueHandover, QueuedHandover("item-1"))
    assert counter.screen is Screen.PICKUP_DONE and counter.state.pickup.handover == "queued"
    counter.post(OutboxDelivered("item-1", "delivered"))
    assert counter.state.pickup.handover == "delivered"
    counter.post(CardRemoved(READER), Finish())
    assert counter.screen is Screen.CLERK_HOME  # the clerk stays signed in for the next resident
    assert counter.state.pickup is not None and counter.state.pickup.holder_name is None
    assert ("pickup.card_read", "ok") in counter.audits() and ("pickup.pins_set", "ok") in counter.audits()


def test_the_resident_panel_shows_no_name_no_photo_and_the_pins_only_as_a_count() -> None:
    counter = Counter().sign_in().look_up().read_card()
    counter.post(Continue(), Continue())
    assert counter.screen is Screen.PIN_SETUP
    counter.type("9731")
    pickup, pin = counter.state.pickup, counter.state.pin
    assert pickup is not None and pin is not None
    assert pickup.holder_name is None and pickup.application_photo is None and pickup.birth_date is None
    assert pickup.pin_target == "auth" and pin.entered == 4 and pin.shown is None
    assert "9731" not in repr(counter.state)


def test_a_child_under_15_gets_no_sign_password_and_one_pin_may_serve_the_three() -> None:
    counter = Counter().sign_in().look_up(found(under_15=True)).read_card()
    counter.set_pins(sign=False, one_pin=True)
    _, operation = counter.cards.last(IssuePins)
    assert isinstance(operation, IssuePins)
    requested = {ref.key: bytes(value) for ref, value in operation.pins.requested()}
    assert requested == {"auth": b"1234", "card_info": b"1234", "juki": b"1234"}


def test_a_mistyped_confirmation_is_said_and_nothing_reaches_the_card() -> None:
    counter = Counter().sign_in().look_up().read_card()
    counter.post(Continue(), Continue()).type("1111").post(PinSubmit()).type("1112").post(PinSubmit())
    assert counter.state.pin is not None and counter.state.pin.error_key == "input.mismatch"
    assert counter.state.pickup.pin_target == "auth"
    counter.type("12AB").post(PinSubmit())  # letters are not keys of a 4-digit pad
    assert not any(isinstance(op, IssuePins) for _, op in counter.cards.submitted)


def test_a_card_whose_certificate_failed_gets_no_pin_and_needs_a_supervisor() -> None:
    counter = Counter().sign_in().look_up()
    counter.read_card(card_facts(failed=True))
    assert counter.screen is Screen.PICKUP_CHECKS
    counter.post(Continue())
    assert counter.screen is Screen.PICKUP_FINISH  # no PIN setup for this card
    assert not any(isinstance(op, IssuePins) for _, op in counter.cards.submitted)
    assert "basic4_match" in counter.state.pickup.needs_override
    counter.post(Finish())
    assert counter.state.message_key == "pickup.override_needed"
    assert not any(isinstance(t, QueueHandover) for _, t in counter.tasks.submitted)


@pytest.mark.parametrize(("serial", "key"), [("ffff", "pickup.reason.other_card"), (None, "pickup.reason.no_serial")])
def test_a_card_that_is_not_the_one_issued_for_the_pickup_can_never_be_handed_over(serial: str | None,
                                                                                    key: str) -> None:
    # The server refuses a handover of another card whatever the override (card_mismatch): no summary, no
    # supervisor, no PIN, no handover; the clerk can only cancel.
    counter = Counter().sign_in().look_up().read_card(card_facts(serial=serial))
    assert counter.screen is Screen.PICKUP_CHECKS
    counter.post(Continue())
    assert counter.screen is Screen.PICKUP_CHECKS and counter.state.message_key == key
    counter.post(Continue(), Finish())
    assert counter.screen is Screen.PICKUP_CHECKS
    submitted = [*counter.cards.submitted, *counter.tasks.submitted]
    assert not any(isinstance(op, IssuePins | RequestOverride | QueueHandover) for _, op in submitted)
    counter.post(Cancel())
    assert counter.screen in (Screen.CLERK_HOME, Screen.TAKE_CARD) and counter.desk.signed_in is not None


def test_a_supervisor_override_names_the_failed_checks_and_is_carried_by_the_handover() -> None:
    counter = Counter().to_finish()
    assert counter.state.pickup.needs_override == ()
    counter = Counter().sign_in().look_up().read_card().set_pins()
    counter.card(IssuePins, issued(("auth", "card_info", "juki", "sign")))
    counter.answer(CheckBasic4, False).post(FaceMatch(True))
    assert counter.state.pickup.needs_override == ("basic4_match",)
    counter.post(Continue())
    assert counter.screen is Screen.SUPERVISOR
    assert "record_updated_since_application" in counter.state.pickup.override_reasons
    counter.post(ChooseReason("photo_outdated_identity_documented"), ChooseReason("photo_outdated_identity_documented"))
    assert counter.state.pickup.override_reason is None  # choosing the chosen one again opens the list again
    counter.post(ChooseReason("no_such_reason"))
    assert counter.state.pickup.override_reason is None
    counter.post(ChooseReason("record_updated_since_application")).type("super-a").post(PinSubmit())
    counter.type("supervisor-pass-1").post(PinSubmit())
    _, request = counter.tasks.last(RequestOverride)
    assert isinstance(request, RequestOverride)
    assert request.failed_checks == ("basic4_match",) and request.reason == "record_updated_since_application"
    counter.answer(RequestOverride, OverrideGranted("ovr-1", "super-a", "record_updated_since_application"))
    assert counter.screen is Screen.PICKUP_FINISH and counter.state.pickup.override_reason is not None
    counter.post(Finish())
    _, handover = counter.tasks.last(QueueHandover)
    assert isinstance(handover, QueueHandover) and handover.payload["override"] == "ovr-1"
    assert handover.payload["checks"]["basic4_match"] == "failed"  # the override does not turn it into a pass


def test_a_refused_override_keeps_the_pickup_closed() -> None:
    counter = Counter().sign_in().look_up().read_card().set_pins()
    counter.card(IssuePins, issued(("auth", "card_info", "juki", "sign")))
    counter.answer(CheckBasic4, True).post(FaceMatch(False), Continue(), ChooseReason("other_documented_on_paper"))
    counter.type("clerk-b").post(PinSubmit()).type("not-a-supervisor").post(PinSubmit())
    counter.fail(RequestOverride, ServerError(403, "supervisor_required"))
    assert counter.screen is Screen.SUPERVISOR and counter.state.message_key == "pickup.override_refused"


def test_a_card_pulled_while_the_pins_are_set_says_what_was_set_and_records_nothing() -> None:
    counter = Counter().sign_in().look_up().read_card().set_pins()
    counter.card(IssuePins, issued(("auth", "card_info", "juki", "sign"), removed_at=2))
    assert counter.screen is Screen.PICKUP_STOPPED and counter.state.message_key == "pickup.card_pulled"
    assert counter.state.pickup.pins_set == ("auth", "card_info")
    assert counter.state.pickup.pins_unset == ("juki", "sign")
    assert not any(isinstance(t, QueueHandover) for _, t in counter.tasks.submitted)
    assert ("pickup.pins_set", "failed") in counter.audits()
    counter.post(CardRemoved(READER), CardInserted(READER, b"\x3b", 2))
    counter.card(ReadNewCard, card_facts(unset=("juki", "sign")))
    counter.post(Continue(), Continue())
    assert counter.state.pickup.pin_target == "juki"  # only what is still unset is asked for


@pytest.mark.parametrize("step", ["application", "reading", "checks", "pin_setup", "compare", "finish"])
def test_cancel_at_every_step_returns_to_the_home_screen_with_nothing_left(step: str) -> None:
    counter = Counter().sign_in().look_up()
    if step != "application":
        counter.post(CardInserted(READER, b"\x3b", 1), Continue())
    if step not in ("application", "reading"):
        counter.card(ReadNewCard, card_facts())
    if step in ("pin_setup", "compare", "finish"):
        counter.post(Continue(), Continue()).type("12")
    if step in ("compare", "finish"):
        counter.post(PinSubmit())  # (incomplete) nothing sent; reach compare through the full path instead
        counter = Counter().sign_in().look_up().read_card().set_pins()
        counter.card(IssuePins, issued(("auth", "card_info", "juki", "sign"))).answer(CheckBasic4, True)
        if step == "finish":
            counter.post(FaceMatch(True))
    counter.post(Cancel())
    assert counter.screen in (Screen.CLERK_HOME, Screen.TAKE_CARD)
    assert counter.state.pickup is None or counter.state.pickup.holder_name is None
    assert counter.desk.signed_in is not None
    assert not any(isinstance(t, QueueHandover) for _, t in counter.tasks.submitted)
    counter.post(CardRemoved(READER))
    assert counter.screen is Screen.CLERK_HOME


def test_the_clerk_is_signed_out_after_inactivity_and_the_server_token_ended() -> None:
    counter = Counter().sign_in()
    counter.clock.advance(COUNTER.clerk.sign_out_after_seconds + 1)
    counter.post(Tick(counter.clock.now()))
    assert counter.screen is Screen.CLERK_SIGN_IN and counter.state.message_key == "clerk.signed_out_idle"
    _, sign_out = counter.tasks.last(SignOutClerk)
    assert isinstance(sign_out, SignOutClerk) and sign_out.why == "timeout"
    assert counter.desk.signed_in is None


def test_signing_out_ends_the_token_and_a_lookup_after_it_is_impossible() -> None:
    counter = Counter().sign_in().post(SignOut())
    assert counter.screen is Screen.CLERK_SIGN_IN
    _, sign_out = counter.tasks.last(SignOutClerk)
    assert isinstance(sign_out, SignOutClerk) and sign_out.why == "sign_out"
    counter.post(CodeScanned("N-2026-0001", "scanner"))
    assert not any(isinstance(t, FindPickup) for _, t in counter.tasks.submitted)


def test_lookup_by_scanned_application_id_and_its_refusals() -> None:
    counter = Counter().sign_in()
    counter.post(CodeScanned("12345678901234567890123", "scanner"))
    _, lookup = counter.tasks.last(FindPickup)
    assert isinstance(lookup, FindPickup) and lookup.by == "application_id"
    counter.fail(FindPickup, ServerError(404, "pickup_not_found"))
    assert counter.screen is Screen.CLERK_HOME and counter.state.message_key == "pickup.not_found"
    counter.post(CodeScanned("not a code!", "scanner"))
    assert counter.state.message_key == "pickup.lookup_invalid"
    counter.post(CodeScanned("N-1", "scanner")).fail(FindPickup, ServerError(409, "already_handed_over"))
    assert counter.state.message_key == "pickup.closed"


def test_the_office_staff_calls_are_listed_and_can_be_acknowledged() -> None:
    counter = Counter().sign_in()
    counter.post(Tick(counter.clock.now()))
    call = type("Call", (), {"call_id": "c-1", "kiosk_id": "kiosk-07", "age_seconds": 42, "status": "open"})()
    counter.answer(ListStaffCalls, (call,))
    calls = counter.state.clerk.staff_calls
    assert [(c.call_id, c.kiosk_id, c.status) for c in calls] == [("c-1", "kiosk-07", "open")]
    counter.post(AcknowledgeCall("c-1"))
    _, ack = counter.tasks.last(AcknowledgeCallTask)
    assert isinstance(ack, AcknowledgeCallTask) and ack.call_id == "c-1" and ack.actor == "clerk-a"
    counter.answer(AcknowledgeCallTask, "c-1")
    assert counter.state.clerk.staff_calls[0].status == "acknowledged"


def test_a_delivery_reported_before_the_handovers_own_answer_still_shows_as_delivered() -> None:
    # The flusher may deliver while the handover task is still writing its audit entry.
    counter = Counter().to_finish().post(Finish())
    counter.post(OutboxDelivered("item-7", "delivered"))
    counter.answer(QueueHandover, QueuedHandover("item-7"))
    assert counter.screen is Screen.PICKUP_DONE and counter.state.pickup.handover == "delivered"
    counter = Counter().to_finish().post(Finish())
    counter.post(OutboxDelivered("item-other", "dead")).answer(QueueHandover, QueuedHandover("item-8"))
    assert counter.state.pickup.handover == "queued"  # another item's outcome is not this one's


def test_a_handover_that_cannot_be_stored_says_so_and_stays_on_the_summary() -> None:
    counter = Counter().to_finish().post(Finish())
    counter.fail(QueueHandover, OSError("disk full"))
    assert counter.screen is Screen.PICKUP_FINISH and counter.state.message_key == "pickup.handover_not_stored"


def test_the_pins_typed_are_zeroed_when_the_pickup_ends() -> None:
    counter = Counter().sign_in().look_up().read_card()
    counter.post(Continue(), Continue()).type("1111").post(PinSubmit()).type("1111").post(PinSubmit())
    counter.type("22")
    counter.post(Cancel())
    assert counter.screen in (Screen.CLERK_HOME, Screen.TAKE_CARD)
    assert all(not isinstance(op, IssuePins) for _, op in counter.cards.submitted)
    pins = InitialPins(auth=bytearray(b"1234"))
    IssuePins(pins).wipe()
    assert pins.auth == bytearray(4)


def test_views_never_hold_the_resident_after_the_pickup() -> None:
    counter = Counter().to_finish().post(Finish()).answer(QueueHandover, QueuedHandover("item-9"))
    counter.post(CardRemoved(READER), Finish())
    last = counter.state
    assert NAME not in repr(last.pickup) and last.pickup.application_photo is None
    assert counter.desk.signed_in is not None and counter.desk.signed_in.username == "clerk-a"


@pytest.mark.parametrize(("card_serial", "status"), [("001A2B3C", "passed"), ("1a2b3d", "failed"), ("zz", "failed")])
def test_the_card_identity_is_compared_as_the_server_compares_serials(card_serial: str, status: str) -> None:
    counter = Counter().sign_in().look_up().read_card(card_facts(serial=card_serial))
    assert {c.name: c.status for c in counter.state.pickup.checks}["card_identity"] == status
