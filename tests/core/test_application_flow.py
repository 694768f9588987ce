"""The resident's application and the status lookup, driven like a script (SyncDispatcher, FakeClock,
fake camera and task worker): every way in for the ID, the photo steps, details, consent, the receipt —
and that nothing personal outlives the session."""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field

import pytest

from kiosk.config import KioskConfig
from kiosk.core.dispatch import FakeClock, SyncDispatcher
from kiosk.core.events import (
    Back,
    CameraResult,
    Cancel,
    CodeScanned,
    Continue,
    EditField,
    Event,
    Finish,
    KeyTyped,
    OutboxDelivered,
    PhotoGuidance,
    PinDigit,
    PinSubmit,
    Retake,
    ScanInstead,
    Start,
    Submit,
    TakePhoto,
    TaskFailed,
    TaskResult,
    Tick,
    ToggleOption,
    TypeInstead,
)
from kiosk.core.flows import APPLICATION, CARD_CHECK, STATUS
from kiosk.core.flows.application import ApplicationFlow, StatusFlow, mask_application_id
from kiosk.core.flows.application.tasks import (
    ApplicationStatusAnswer,
    CheckCapacity,
    EnqueueApplication,
    LookUpStatus,
)
from kiosk.core.flows.card_check import CardCheckFlow
from kiosk.core.messages import ALL_MESSAGE_KEYS
from kiosk.core.ports import LiveGuidance, PhotoProblem, PhotoResult, QueuedApplication
from kiosk.core.shell import Shell
from kiosk.core.view import Screen, ViewState
from tests.core.test_card_check_flow import FakeCardJobs, reachable_strings

APP_ID = "98760000000000000000042"  # synthetic
EMAIL = "hanako.shiken@example.invalid"  # synthetic
BRAILLE = "シケンハナコ"
JPEG = b"\xff\xd8SYNTHETIC-FACE-PHOTO\xff\xd9"


@dataclass
class FakeCamera:
    starts: list[tuple[bool, bool]] = field(default_factory=list)
    running: bool = False
    captures: list[int] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(500))

    def start(self, *, guidance: bool, qr: bool) -> None:
        self.starts.append((guidance, qr))
        self.running = True

    def stop(self) -> None:
        self.running = False

    def latest(self) -> None:
        return None

    def capture(self) -> int:
        ticket = next(self._ids)
        self.captures.append(ticket)
        return ticket


@dataclass
class FakeTasks:
    submitted: list[tuple[int, object]] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(900))

    def submit(self, task: object) -> int:
        ticket = next(self._ids)
        self.submitted.append((ticket, task))
        return ticket

    def last(self, kind: type) -> tuple[int, object]:
        return next((t, task) for t, task in reversed(self.submitted) if isinstance(task, kind))


class Kiosk:
    def __init__(self, *, camera: bool = True, accepting: bool = True) -> None:
        self.accepting = accepting
        self.clock = FakeClock()
        self.dispatcher = SyncDispatcher()
        self.camera = FakeCamera() if camera else None
        self.tasks = FakeTasks()
        self.shell = Shell(self.dispatcher, FakeCardJobs(self.dispatcher), self.clock, KioskConfig(),
                           flows={CARD_CHECK: CardCheckFlow, APPLICATION: ApplicationFlow, STATUS: StatusFlow},
                           tasks=self.tasks, camera=self.camera)
        self.states: list[ViewState] = []
        self.shell.subscribe(self._seen)

    def _seen(self, state: ViewState) -> None:
        keys = {state.message_key} if state.message_key else set()
        for part in (state.id_entry, state.application):
            if part is not None and part.error_key:
                keys.add(part.error_key)
        assert keys <= ALL_MESSAGE_KEYS, keys - ALL_MESSAGE_KEYS
        self.states.append(state)

    @property
    def state(self) -> ViewState:
        return self.shell.state

    @property
    def screen(self) -> Screen:
        return self.shell.state.screen

    def post(self, *events: Event) -> Kiosk:
        for event in events:
            self.dispatcher.post(event)
        return self

    def tick(self, seconds: float) -> Kiosk:
        self.clock.advance(seconds)
        return self.post(Tick(self.clock.now()))

    def type(self, text: str) -> Kiosk:
        return self.post(*(PinDigit(c) for c in text))

    # --- getting somewhere ---

    def capacity_answered(self) -> Kiosk:
        """The task worker's answer to the capacity check every application starts with."""
        ticket, _task = self.tasks.last(CheckCapacity)
        return self.post(TaskResult(ticket, self.accepting))

    def to_id_scan(self) -> Kiosk:
        return self.post(Start(APPLICATION)).capacity_answered()

    def to_id_confirm(self) -> Kiosk:
        return self.to_id_scan().post(CodeScanned(APP_ID, "qr"))

    def to_photo(self) -> Kiosk:
        return self.to_id_confirm().post(Continue())

    def take_photo(self, result: PhotoResult) -> Kiosk:
        self.post(TakePhoto()).tick(1).tick(1).tick(1)
        assert self.camera is not None
        return self.post(CameraResult(self.camera.captures[-1], result))

    def to_photo_review(self) -> Kiosk:
        return self.to_photo().take_photo(PhotoResult((), JPEG, 700, 900))

    def to_details(self) -> Kiosk:
        return self.to_photo_review().post(Continue())

    def to_review(self) -> Kiosk:
        return self.to_details().post(Continue())

    def submit(self) -> Kiosk:
        return self.post(ToggleOption("consent"), Submit())

    def stored(self) -> Kiosk:
        ticket, _task = self.tasks.last(EnqueueApplication)
        return self.post(TaskResult(ticket, QueuedApplication("item-1", "000042")))


def personal_in(kiosk: Kiosk) -> set[str]:
    texts = list(reachable_strings(kiosk.shell, skip=(FakeTasks,)))
    return {value for value in (APP_ID, EMAIL, BRAILLE, "SYNTHETIC-FACE-PHOTO") if any(value in t for t in texts)}


# --- the application ID, three ways ----------------------------------------------------------------------------


def test_the_attract_screen_offers_the_tasks_that_exist() -> None:
    assert Kiosk().state.tasks == (CARD_CHECK, APPLICATION, STATUS)


def test_a_qr_code_is_shown_for_confirmation_and_cannot_be_edited() -> None:
    kiosk = Kiosk().to_id_scan()
    assert kiosk.screen is Screen.ID_SCAN and kiosk.camera is not None and kiosk.camera.starts == [(False, True)]
    kiosk.post(CodeScanned(APP_ID, "qr"))
    entry = kiosk.state.id_entry
    assert kiosk.screen is Screen.ID_CONFIRM and entry is not None
    assert (entry.value, entry.from_qr, entry.purpose) == (APP_ID, True, "application")
    assert not kiosk.camera.running  # the camera is only on while it is needed
    kiosk.type("1")  # nothing edits a QR-read ID
    assert kiosk.state.id_entry is not None and kiosk.state.id_entry.value == APP_ID


def test_a_barcode_scanner_types_the_id_and_its_enter_is_not_part_of_it() -> None:
    kiosk = Kiosk().to_id_scan()
    for char in APP_ID + "\r":
        kiosk.post(KeyTyped(char))
        kiosk.clock.advance(0.01)
    entry = kiosk.state.id_entry
    # the scanner read the form's code: shown, not editable, like the camera's
    assert kiosk.screen is Screen.ID_CONFIRM and entry is not None and entry.value == APP_ID and entry.from_qr


def test_a_scanned_form_on_the_attract_screen_starts_the_application() -> None:
    kiosk = Kiosk()
    for char in APP_ID + "\t":
        kiosk.post(KeyTyped(char))
    assert kiosk.screen is Screen.WORKING  # first: can the kiosk keep one more application?
    kiosk.capacity_answered()
    assert kiosk.screen is Screen.ID_CONFIRM and kiosk.state.id_entry is not None
    assert kiosk.state.id_entry.value == APP_ID


def test_a_kiosk_that_cannot_store_one_more_application_says_so_before_the_resident_starts() -> None:
    kiosk = Kiosk(accepting=False).post(Start(APPLICATION)).capacity_answered()
    assert kiosk.screen is Screen.ERROR and kiosk.state.message_key == "apply.cannot_accept"
    assert kiosk.camera is not None and kiosk.camera.starts == []  # nothing begun that cannot be finished


def test_a_disk_that_fills_during_the_application_ends_it_with_the_same_words() -> None:
    from kiosk.core.ports import StorageFull
    from kiosk.services.outbox import OutboxFull

    assert issubclass(OutboxFull, StorageFull)  # what the real outbox raises is what the flow knows
    kiosk = Kiosk().to_review().post(ToggleOption("consent"), Submit())
    ticket, _task = kiosk.tasks.last(EnqueueApplication)
    kiosk.post(TaskFailed(ticket, OutboxFull("database or disk is full")))
    assert kiosk.screen is Screen.ERROR and kiosk.state.message_key == "apply.cannot_accept"
    assert kiosk.state.photo is None and kiosk.state.application is None


def test_a_slow_burst_is_not_a_scanned_code() -> None:
    kiosk = Kiosk().to_id_scan()
    for char in APP_ID[:10]:
        kiosk.post(KeyTyped(char))
    kiosk.clock.advance(2.0)  # a pause no scanner makes
    for char in APP_ID[10:] + "\r":
        kiosk.post(KeyTyped(char))
    assert kiosk.screen is Screen.ID_SCAN
    assert kiosk.state.id_entry is not None and kiosk.state.id_entry.error_key == "id.error.wrong_length"


def test_the_keypad_takes_23_digits_and_explains_a_wrong_count() -> None:
    kiosk = Kiosk().to_id_scan().post(TypeInstead())
    assert kiosk.screen is Screen.ID_KEYPAD and kiosk.state.pin is not None and kiosk.state.pin.max_length == 23
    kiosk.type(APP_ID[:20]).post(PinSubmit())
    state = kiosk.state
    assert state.screen is Screen.ID_KEYPAD and state.pin is not None
    assert (state.pin.error_key, state.pin.error_args) == ("id.error.wrong_length", {"count": 20})
    assert state.pin.entered == 20  # kept for correcting, not thrown away
    kiosk.type(APP_ID[20:]).post(PinSubmit())
    entry = kiosk.state.id_entry
    assert kiosk.screen is Screen.ID_CONFIRM and entry is not None and entry.value == APP_ID
    assert not entry.from_qr


@pytest.mark.parametrize(("code", "error"), [
    ("https://example.invalid/not-a-form", "id.error.not_an_id"),
    ("123456789012345678901234", "id.error.wrong_length"),
    (APP_ID + "\n", "id.error.not_an_id"),
    ("９８７６" + APP_ID[4:], "id.error.not_an_id"),
])
def test_a_code_that_is_not_an_application_id_says_so(code: str, error: str) -> None:
    kiosk = Kiosk().to_id_scan().post(CodeScanned(code, "qr"))
    assert kiosk.screen is Screen.ID_SCAN
    assert kiosk.state.id_entry is not None and kiosk.state.id_entry.error_key == error


def test_read_again_from_the_confirmation() -> None:
    kiosk = Kiosk().to_id_confirm().post(ScanInstead())
    assert kiosk.screen is Screen.ID_SCAN and kiosk.state.id_entry is not None and kiosk.state.id_entry.value is None


# --- the photo -------------------------------------------------------------------------------------------------


def test_live_guidance_then_countdown_then_the_final_check() -> None:
    kiosk = Kiosk().to_photo()
    assert kiosk.screen is Screen.PHOTO and kiosk.camera is not None and kiosk.camera.starts[-1] == (True, False)
    problem = PhotoProblem("centred", "photo.fix.centred")
    kiosk.post(PhotoGuidance(LiveGuidance(1, (0.1, 0.2, 0.3, 0.4), (problem,))))
    photo = kiosk.state.photo
    assert photo is not None and photo.live and photo.guidance == ("photo.fix.centred",)
    assert photo.face == (0.1, 0.2, 0.3, 0.4)
    kiosk.post(TakePhoto()).tick(1)
    assert kiosk.state.photo is not None and kiosk.state.photo.countdown == 2
    kiosk.tick(1).tick(1)
    assert kiosk.screen is Screen.WORKING and kiosk.camera.captures
    kiosk.post(CameraResult(kiosk.camera.captures[-1], PhotoResult((), JPEG, 700, 900)))
    review = kiosk.state.photo
    assert kiosk.screen is Screen.PHOTO_REVIEW and review is not None and review.jpeg == JPEG
    assert kiosk.state.message_key == "photo.review.passed" and not kiosk.camera.running


def test_a_photo_that_fails_a_check_names_the_fix_and_cannot_be_used() -> None:
    problems = (PhotoProblem("one_face", "photo.fix.one_face"), PhotoProblem("exposure", "photo.fix.exposure"))
    kiosk = Kiosk().to_photo().take_photo(PhotoResult(problems, None))
    assert kiosk.state.message_key == "photo.review.failed"
    assert kiosk.state.photo is not None and kiosk.state.photo.problems == ("photo.fix.one_face", "photo.fix.exposure")
    kiosk.post(Continue())
    assert kiosk.screen is Screen.PHOTO_REVIEW  # a failed photo cannot go on
    kiosk.post(Retake())
    assert kiosk.screen is Screen.PHOTO and kiosk.state.photo is not None and kiosk.state.photo.jpeg is None


def test_a_retake_wipes_the_photo_taken() -> None:
    result = PhotoResult((), JPEG, 700, 900)
    kiosk = Kiosk().to_photo().take_photo(result).post(Retake())
    assert result.jpeg is None and kiosk.screen is Screen.PHOTO


def test_without_a_camera_the_resident_is_told() -> None:
    kiosk = Kiosk(camera=False).to_id_confirm().post(Continue())
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.PHOTO, "photo.no_camera")
    kiosk.post(TakePhoto()).tick(5)
    assert kiosk.screen is Screen.PHOTO


# --- details, review, consent, submit ----------------------------------------------------------------------------


def test_email_is_optional_and_checked() -> None:
    kiosk = Kiosk().to_details().post(EditField("email"))
    assert kiosk.screen is Screen.TEXT_ENTRY and kiosk.state.application is not None
    assert kiosk.state.application.editing == "email"
    kiosk.type("not-an-address").post(PinSubmit())
    assert kiosk.screen is Screen.TEXT_ENTRY and kiosk.state.application.error_key == "details.apply.email_invalid"
    kiosk.post(EditField("email"))  # no effect outside the details screen
    for _ in range(20):
        kiosk.post(Event())
    kiosk.shell.session.entry.clear()
    kiosk.type(EMAIL).post(PinSubmit())
    assert kiosk.screen is Screen.DETAILS and kiosk.state.application.email == EMAIL


def test_under_15_switches_the_certificates_off() -> None:
    kiosk = Kiosk().to_details()
    assert kiosk.state.application is not None and kiosk.state.application.certificates
    kiosk.post(ToggleOption("under_15"))
    assert not kiosk.state.application.certificates and kiosk.state.application.under_15
    kiosk.post(ToggleOption("certificates"))
    assert not kiosk.state.application.certificates  # not possible under 15


def test_the_braille_name_takes_up_to_11_katakana() -> None:
    kiosk = Kiosk().to_details().post(EditField("braille"))
    kiosk.type(BRAILLE + "abc123" + "アイウエオカキ").post(PinSubmit())  # latin refused, cut at 11
    assert kiosk.state.application is not None and kiosk.state.application.braille == (BRAILLE + "アイウエオ")


def test_the_options_the_review_showed_are_the_options_sent() -> None:
    kiosk = Kiosk().to_details().post(ToggleOption("under_15"), EditField("braille")).type(BRAILLE)
    kiosk.post(PinSubmit(), Continue()).submit()
    _ticket, task = kiosk.tasks.last(EnqueueApplication)
    assert isinstance(task, EnqueueApplication)
    assert task.payload["options"] == {"electronic_certificates": False, "braille_name": BRAILLE}


def test_the_review_shows_everything_and_nothing_is_sent_without_consent() -> None:
    kiosk = Kiosk().to_details().post(EditField("email")).type(EMAIL).post(PinSubmit(), Continue())
    review = kiosk.state.application
    assert kiosk.screen is Screen.REVIEW and review is not None
    assert (review.application_id, review.email, review.photo_jpeg, review.certificates) == (APP_ID, EMAIL, JPEG, True)
    kiosk.post(Submit())
    assert kiosk.state.message_key == "review.consent_needed"
    assert not any(isinstance(task, EnqueueApplication) for _t, task in kiosk.tasks.submitted)


def test_submit_stores_first_then_shows_the_receipt_then_delivery() -> None:
    kiosk = Kiosk().to_details().post(EditField("email")).type(EMAIL).post(PinSubmit(), Continue()).submit()
    assert kiosk.screen is Screen.WORKING and kiosk.state.message_key == "working.saving"
    ticket, task = kiosk.tasks.last(EnqueueApplication)
    assert isinstance(task, EnqueueApplication)
    payload = dict(task.payload)
    assert payload["application_id"] == APP_ID and base64.b64decode(payload["photo_jpeg_base64"]) == JPEG
    assert payload["contact"] == {"email": EMAIL}
    assert payload["options"] == {"electronic_certificates": True, "braille_name": None}
    kiosk.post(TaskResult(ticket, QueuedApplication("item-1", "000042")))
    receipt = kiosk.state.receipt
    assert kiosk.screen is Screen.RECEIPT and receipt is not None
    assert (receipt.local_number, receipt.state) == ("000042", "queued")
    assert receipt.application_id_masked == mask_application_id(APP_ID) and APP_ID not in repr(kiosk.state)
    assert personal_in(kiosk) == set()  # stored: nothing of it stays in the flow
    kiosk.post(OutboxDelivered("another-item", "delivered"))
    assert kiosk.state.receipt is not None and kiosk.state.receipt.state == "queued"
    kiosk.post(OutboxDelivered("item-1", "delivered"))
    assert kiosk.state.receipt is not None and kiosk.state.receipt.state == "delivered"
    kiosk.post(Finish())
    assert kiosk.screen is Screen.ATTRACT


def test_a_store_that_fails_keeps_the_review_and_says_so() -> None:
    kiosk = Kiosk().to_review().submit()
    ticket, _ = kiosk.tasks.last(EnqueueApplication)
    kiosk.post(TaskFailed(ticket, OSError("disk")))
    assert (kiosk.screen, kiosk.state.message_key) == (Screen.REVIEW, "apply.save_failed")


def test_the_mask_shows_only_the_last_three_digits() -> None:
    assert mask_application_id(APP_ID) == "**** **** **** **** **** 042"


# --- privacy ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("end", ["cancel", "idle"])
def test_cancel_and_idle_wipe_the_photo_the_id_and_the_email(end: str) -> None:
    result = PhotoResult((), JPEG, 700, 900)
    kiosk = Kiosk().to_photo().take_photo(result).post(Continue(), EditField("email")).type(EMAIL)
    kiosk.post(PinSubmit())
    assert personal_in(kiosk)  # positive control: the walker finds them while the session runs
    if end == "cancel":
        kiosk.post(Cancel())
    else:
        kiosk.tick(91)
    assert kiosk.screen is Screen.ATTRACT
    assert result.jpeg is None and personal_in(kiosk) == set()
    assert kiosk.camera is not None and not kiosk.camera.running


def test_a_photo_arriving_after_cancel_is_wiped() -> None:
    kiosk = Kiosk().to_photo().post(TakePhoto()).tick(1).tick(1).tick(1)
    assert kiosk.camera is not None
    ticket = kiosk.camera.captures[-1]
    kiosk.post(Cancel())
    late = PhotoResult((), JPEG, 700, 900)
    kiosk.post(CameraResult(ticket, late))
    assert late.jpeg is None and kiosk.screen is Screen.ATTRACT


def test_back_goes_one_step_back() -> None:
    kiosk = Kiosk().to_review().post(Back())
    assert kiosk.screen is Screen.DETAILS
    kiosk.post(Back())
    assert kiosk.screen is Screen.PHOTO_REVIEW


# --- status lookup ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "key"), [
    ("received", "status.received"), ("in_production", "status.in_production"),
    ("ready_for_pickup", "status.ready_for_pickup"), ("picked_up", "status.picked_up"),
    ("something_new", "status.unknown"),
])
def test_the_status_in_plain_words(status: str, key: str) -> None:
    kiosk = Kiosk().post(Start(STATUS), CodeScanned(APP_ID, "qr"))
    assert kiosk.state.id_entry is not None and kiosk.state.id_entry.purpose == "status"
    kiosk.post(Continue())
    ticket, task = kiosk.tasks.last(LookUpStatus)
    assert kiosk.screen is Screen.WORKING and isinstance(task, LookUpStatus)
    kiosk.post(TaskResult(ticket, ApplicationStatusAnswer(status)))
    answer = kiosk.state.status
    assert kiosk.screen is Screen.STATUS_RESULT and answer is not None and answer.status_key == key
    assert answer.application_id_masked.endswith("042") and APP_ID not in repr(kiosk.state)


def test_a_status_lookup_that_cannot_reach_the_server_says_so() -> None:
    kiosk = Kiosk().post(Start(STATUS), CodeScanned(APP_ID, "qr"), Continue())
    ticket, _ = kiosk.tasks.last(LookUpStatus)
    kiosk.post(TaskFailed(ticket, ConnectionError("down")))
    assert kiosk.state.status is not None and kiosk.state.status.status_key == "status.unreachable"
