"""Renewal with an existing card, driven like a script (SyncDispatcher, FakeClock, fake card worker, task
worker and camera): the window decides what is offered, the PIN comes last and goes straight to the card,
the card signs exactly the payload that is stored, and a card taken out and put back resumes."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from drivers import errors
from drivers.mynumber.session import PinStatus
from kiosk.config import KioskConfig
from kiosk.core.dispatch import FakeClock, SyncDispatcher
from kiosk.core.events import (
    Back,
    CameraResult,
    CardFailed,
    CardInserted,
    CardRemoved,
    CardResult,
    Continue,
    Event,
    Finish,
    PinDigit,
    PinSubmit,
    ReaderChanged,
    Start,
    Submit,
    TakePhoto,
    TaskFailed,
    TaskResult,
    ToggleOption,
)
from kiosk.core.flows import RENEWAL
from kiosk.core.flows.application.tasks import CheckCapacity
from kiosk.core.flows.renewal import RenewalFlow
from kiosk.core.flows.renewal.operations import (
    CheckRenewal,
    EnqueueRenewal,
    GetRenewalNonce,
    RenewalFacts,
    RenewalNonceAnswer,
    SignedRenewal,
    SignRenewal,
)
from kiosk.core.ports import PhotoResult, QueuedApplication
from kiosk.core.shell import Shell
from kiosk.core.view import Screen, ViewState
from tests.core.test_application_flow import JPEG, FakeCamera, FakeTasks

READER = "Reader 0"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
NONCE = bytes(range(32))
CARD_A, CARD_B = "a" * 64, "b" * 64


@dataclass
class FakeCards:
    """Records the card operations; the test answers them."""

    submitted: list[tuple[int, object]] = field(default_factory=list)
    pins: list[bytes] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(100))

    def submit(self, operation: object, *, insertion: int) -> int:
        ticket = next(self._ids)
        pin = getattr(operation, "pin", None)
        if pin is not None:
            self.pins.append(bytes(pin))
        self.submitted.append((ticket, operation))
        return ticket

    def last(self, kind: type) -> tuple[int, object]:
        return next((t, op) for t, op in reversed(self.submitted) if isinstance(op, kind))


def facts(status: str = "eligible", *, remaining: int = 3, card: str = CARD_A) -> RenewalFacts:
    return RenewalFacts(status, PinStatus("auth", remaining, 3), NOW + timedelta(days=45),
                        NOW - timedelta(days=47), card)


class Kiosk:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.dispatcher = SyncDispatcher()
        self.cards = FakeCards()
        self.camera = FakeCamera()
        self.tasks = FakeTasks()
        self.shell = Shell(self.dispatcher, self.cards, self.clock, KioskConfig(), flows={RENEWAL: RenewalFlow},
                           tasks=self.tasks, camera=self.camera)
        self.states: list[ViewState] = []
        self.shell.subscribe(self.states.append)

    @property
    def state(self) -> ViewState:
        return self.shell.state

    @property
    def screen(self) -> Screen:
        return self.state.screen

    def post(self, *events: Event) -> Kiosk:
        for event in events:
            self.dispatcher.post(event)
        return self

    def task_answer(self, kind: type, result: object) -> Kiosk:
        ticket, _task = self.tasks.last(kind)
        return self.post(TaskResult(ticket, result))

    def card_answer(self, kind: type, result: object) -> Kiosk:
        ticket, _op = self.cards.last(kind)
        return self.post(CardResult(ticket, result))

    def start(self) -> Kiosk:
        self.post(ReaderChanged("ready", READER), Start(RENEWAL))
        return self.task_answer(CheckCapacity, True)

    def card_checked(self, result: RenewalFacts | None = None, insertion: int = 1) -> Kiosk:
        self.post(CardInserted(READER, b"\x3b", insertion))
        return self.card_answer(CheckRenewal, result or facts())

    def to_review(self) -> Kiosk:
        self.start().card_checked().post(Continue(), TakePhoto())
        self.clock.advance(3.5)
        from kiosk.core.events import Tick

        for _ in range(4):
            self.clock.advance(1.0)
            self.post(Tick(self.clock.now()))
        ticket = self.camera.captures[-1]
        self.post(CameraResult(ticket, PhotoResult((), JPEG, 700, 900)))
        return self.post(Continue(), Continue())  # photo used; no details changed

    def to_pin(self) -> Kiosk:
        self.to_review().post(ToggleOption("consent"), Submit())
        return self.task_answer(GetRenewalNonce, RenewalNonceAnswer(NONCE))


def test_a_card_inside_its_window_is_offered_the_renewal_and_one_outside_is_told_when() -> None:
    kiosk = Kiosk().start()
    assert kiosk.screen is Screen.INSERT_CARD
    kiosk.card_checked()
    assert kiosk.screen is Screen.RENEWAL_CHECK and kiosk.state.renewal is not None
    assert kiosk.state.renewal.status == "eligible" and kiosk.state.renewal.expires == "2027-01-15"
    kiosk.post(Continue())
    assert kiosk.screen is Screen.PHOTO and kiosk.camera.running
    early = Kiosk().start().card_checked(facts("not_yet"))
    assert early.state.renewal is not None and early.state.renewal.status == "not_yet"
    assert early.state.renewal.opens == "2026-10-15"
    early.post(Continue())
    assert early.screen is Screen.RENEWAL_CHECK and not early.camera.starts  # nothing to renew yet
    early.post(Finish())
    assert early.screen is Screen.TAKE_CARD  # the session is over; the card is still on the reader


def test_an_expired_or_failed_certificate_is_never_asked_for_a_pin() -> None:
    for status in ("expired", "not_genuine"):
        kiosk = Kiosk().start().card_checked(facts(status))
        assert kiosk.state.renewal is not None and kiosk.state.renewal.status == status
        kiosk.post(Continue(), *(PinDigit(d) for d in "1234"), PinSubmit())
        assert kiosk.screen is Screen.RENEWAL_CHECK and kiosk.cards.pins == []


def test_the_last_try_at_an_unattended_kiosk_goes_to_the_counter_before_any_work() -> None:
    kiosk = Kiosk().start().card_checked(facts(remaining=1))
    assert kiosk.screen is Screen.GO_TO_COUNTER and kiosk.state.message_key == "counter.last_try"
    assert kiosk.cards.pins == [] and not kiosk.camera.starts


def test_the_pin_comes_last_and_the_card_signs_exactly_what_is_stored() -> None:
    kiosk = Kiosk().to_review()
    assert kiosk.screen is Screen.REVIEW
    kiosk.post(ToggleOption("consent"), Submit())
    assert kiosk.screen is Screen.WORKING and kiosk.cards.pins == []  # the nonce first: no PIN waits for it
    kiosk.task_answer(GetRenewalNonce, RenewalNonceAnswer(NONCE))
    assert kiosk.screen is Screen.PIN_ENTRY and kiosk.state.message_key == "renewal.pin"
    assert kiosk.state.pin is not None and kiosk.state.pin.remaining_tries == 2  # the last one is the counter's
    kiosk.post(*(PinDigit(d) for d in "1234"), PinSubmit())
    ticket, sign = kiosk.cards.last(SignRenewal)
    assert isinstance(sign, SignRenewal) and kiosk.cards.pins == [b"1234"] and sign.nonce == NONCE
    assert kiosk.screen is Screen.VERIFYING
    signed_payload = dict(sign.payload)
    assert "application_id" not in signed_payload and signed_payload["options"] == {
        "electronic_certificates": True, "braille_name": None}
    kiosk.post(CardResult(ticket, SignedRenewal(b"CERT", b"SIG")))
    _t, store = kiosk.tasks.last(EnqueueRenewal)
    assert isinstance(store, EnqueueRenewal) and store.payload == signed_payload and store.nonce == NONCE
    kiosk.post(CardRemoved(READER))  # taken out while the outbox commits: nothing is lost, nothing waits
    kiosk.task_answer(EnqueueRenewal, QueuedApplication("item-9", "000009"))
    receipt = kiosk.state.receipt
    assert kiosk.screen is Screen.RECEIPT and receipt is not None and receipt.local_number == "000009"
    assert receipt.application_id_masked == ""


def test_a_wrong_pin_says_how_many_tries_are_left_and_the_last_one_is_the_counters() -> None:
    kiosk = Kiosk().to_pin().post(*(PinDigit(d) for d in "9999"), PinSubmit())
    ticket, _op = kiosk.cards.last(SignRenewal)
    kiosk.post(CardFailed(ticket, errors.WrongPin(0x63C2, 2, "auth")))
    assert kiosk.screen is Screen.PIN_ENTRY and kiosk.state.pin is not None
    assert kiosk.state.pin.error_key == "pin.wrong" and kiosk.state.pin.remaining_tries == 1
    kiosk.post(*(PinDigit(d) for d in "8888"), PinSubmit())
    ticket, _op = kiosk.cards.last(SignRenewal)
    kiosk.post(CardFailed(ticket, errors.WrongPin(0x63C1, 1, "auth")))
    assert kiosk.screen is Screen.GO_TO_COUNTER and kiosk.cards.pins == [b"9999", b"8888"]


def test_without_the_central_server_the_resident_is_told_before_typing_a_pin() -> None:
    kiosk = Kiosk().to_review().post(ToggleOption("consent"), Submit())
    ticket, _task = kiosk.tasks.last(GetRenewalNonce)
    kiosk.post(TaskFailed(ticket, ConnectionError("down")))
    assert kiosk.screen is Screen.REVIEW and kiosk.state.message_key == "renewal.offline"
    assert kiosk.cards.pins == []


def test_the_same_card_put_back_resumes_and_another_card_starts_over() -> None:
    kiosk = Kiosk().to_pin()
    kiosk.post(CardRemoved(READER))
    assert kiosk.screen is Screen.INSERT_CARD and kiosk.state.message_key == "error.card_removed"
    kiosk.card_checked(insertion=2)
    assert kiosk.screen is Screen.REVIEW  # the photo and the consent kept; the PIN step starts again
    kiosk.post(Submit())
    assert kiosk.screen is Screen.WORKING
    kiosk.post(CardRemoved(READER))
    kiosk.card_checked(facts(card=CARD_B), insertion=3)
    assert kiosk.screen is Screen.RENEWAL_CHECK and kiosk.state.photo is None
    kiosk.post(Back())
    assert kiosk.cards.pins == []


def test_cancel_wipes_the_photo_and_what_was_to_be_signed() -> None:
    import base64

    from kiosk.core.events import Cancel

    kiosk = Kiosk().to_pin()
    photo_b64 = base64.b64encode(JPEG).decode("ascii")
    assert kiosk.state.pin is not None
    kiosk.post(Cancel())
    assert kiosk.screen is Screen.TAKE_CARD
    assert kiosk.state.photo is None and kiosk.state.application is None and kiosk.state.pin is None
    assert photo_b64 not in repr(kiosk.state) and JPEG not in repr(kiosk.state).encode()
    kiosk.post(*(PinDigit(d) for d in "1234"), PinSubmit())  # a late pad press signs nothing
    assert kiosk.cards.pins == []
