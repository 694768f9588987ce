"""The resident's card application, and the application status lookup, as small state machines.

Application: the 申請書ID (the form's QR code on the camera, a barcode scanner, or the keypad) → confirm →
photo (live guidance, countdown, the final automatic check, review) → contact e-mail and options → review of
everything that will be sent, with the consent → stored in the outbox → receipt (queued, then delivered
when the flusher has sent it). Status lookup: the ID the same three ways → the central server's answer in
plain words with the next step.

Decisions worth knowing:

* **One ID rule** (``contract.application_id``) for all three ways in. An ID read from a QR code is shown
  but not editable (a typo cannot creep in); a typed one gets "that is N digits, the ID has 23".
* **Nothing is sent before the resident saw it all and agreed.** The receipt appears only after the
  outbox committed the application (``EnqueueApplication`` on the task worker), so a power cut after the
  receipt loses nothing; delivery is the flusher's job, exactly once.
* **The photo is personal data with the shortest life possible.** It exists only as the final check's
  JPEG; it is in the view only on the review screens, handed to the outbox task, and wiped on cancel,
  idle, finish or a retake.
* **No under-15 signing certificate** (workflows-and-peers.md C.1): choosing "under 15" switches the
  electronic certificates off.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from contract.application_id import APPLICATION_ID_LENGTH, InvalidApplicationId, check_application_id
from contract.payloads import PayloadInvalid, validate_contact
from kiosk.core import application_keys as k
from kiosk.core import messages as m
from kiosk.core.events import (
    Back,
    CameraResult,
    CodeScanned,
    Continue,
    EditField,
    Event,
    Finish,
    OutboxDelivered,
    PhotoGuidance,
    PinBackspace,
    PinClear,
    PinDigit,
    PinSubmit,
    PrintReceipt,
    Retake,
    ScanInstead,
    Submit,
    TakePhoto,
    TaskFailed,
    TaskResult,
    Tick,
    ToggleOption,
    TypeInstead,
)
from kiosk.core.flows import APPLICATION, STATUS, FlowHost, FlowView
from kiosk.core.flows.application.tasks import (
    ApplicationStatusAnswer,
    CheckCapacity,
    EnqueueApplication,
    LookUpStatus,
)
from kiosk.core.flows.application.tasks import PrintReceipt as PrintReceiptTask
from kiosk.core.input import APPLICATION_ID, BRAILLE_NAME, EMAIL, InputSpec, InputView
from kiosk.core.ports import LiveGuidance, PhotoResult, QueuedApplication, ReceiptSlip, StorageFull, Task, Tickets
from kiosk.core.view import ApplicationView, IdEntryView, PhotoView, ReceiptView, Screen, StatusView

LOG = logging.getLogger(__name__)

def mask_application_id(value: str) -> str:
    """Only the last three digits, grouped like the form prints the ID: what a receipt may carry."""
    groups = [value[i : i + 4] for i in range(0, len(value), 4)]
    masked = ["*" * len(group) for group in groups[:-1]]
    last = groups[-1] if groups else ""
    return " ".join([*masked, "*" * max(0, len(last) - 3) + last[-3:]])


class _IdEntry:
    """Reading the 申請書ID three ways, shared by the application and the status lookup."""

    purpose = APPLICATION

    def __init__(self, host: FlowHost) -> None:
        self._host = host
        self._id: str | None = None
        self._from_qr = False
        self._id_error: m.Message | None = None
        self._screen = Screen.ID_SCAN
        self._message: m.Message | None = None
        self._tasks = Tickets()  # disk and network work asked of the task worker

    # the camera is used while the QR code is awaited (and for the photo in the application)
    def _start_camera(self, *, guidance: bool, qr: bool) -> None:
        camera = self._host.camera
        if camera is not None:
            try:
                camera.start(guidance=guidance, qr=qr)
            except Exception as exc:
                LOG.error("the camera could not be started: %s", type(exc).__name__)

    def _stop_camera(self) -> None:
        camera = self._host.camera
        if camera is not None:
            try:
                camera.stop()
            except Exception as exc:
                LOG.error("the camera could not be stopped: %s", type(exc).__name__)

    def _go_scan(self) -> None:
        self._screen = Screen.ID_SCAN
        self._message = None
        self._host.session.entry.clear()
        self._start_camera(guidance=False, qr=True)

    def _go_keypad(self) -> None:
        self._stop_camera()
        self._screen = Screen.ID_KEYPAD
        self._host.session.start_entry(APPLICATION_ID)

    def _accept_id(self, text: str, *, from_qr: bool) -> bool:
        try:
            self._id = check_application_id(text)
        except InvalidApplicationId:
            digits = sum(c.isdigit() for c in text)
            self._id_error = (m.Message(k.ID_WRONG_LENGTH, {"count": digits}) if text.isdigit() and
                              digits != APPLICATION_ID_LENGTH else m.Message(k.ID_NOT_AN_ID))
            return False
        self._from_qr = from_qr
        self._id_error = None
        self._stop_camera()
        self._screen = Screen.ID_CONFIRM
        return True

    def _on_code_scanned(self, event: CodeScanned) -> None:
        self._host.session.touch(self._host.clock.now())
        if self._screen in (Screen.ID_SCAN, Screen.ID_KEYPAD):
            self._accept_id(event.text, from_qr=event.source in ("qr", "scanner"))  # both read the form

    def _id_keypad_submit(self) -> None:
        """Typed digits stay on the pad when they are not 23, so the resident can correct them."""
        entry = self._host.session.entry
        typed = entry.text()
        if len(typed) != APPLICATION_ID_LENGTH:
            self._id_error = m.Message(k.ID_WRONG_LENGTH, {"count": len(typed)})
            return
        entry.clear()
        if not self._accept_id(typed, from_qr=False):
            self._host.session.start_entry(APPLICATION_ID)

    def _id_view(self) -> IdEntryView | None:
        if self._screen not in (Screen.ID_SCAN, Screen.ID_KEYPAD, Screen.ID_CONFIRM):
            return None
        error = self._id_error
        return IdEntryView(self.purpose, self._id if self._screen is Screen.ID_CONFIRM else None, self._from_qr,
                           error.key if error is not None else None)

    def _wipe_id(self) -> None:
        self._id = None
        self._from_qr = False
        self._id_error = None

    # --- what both flows do alike ---------------------------------------------------------------------

    _typing: frozenset[Screen] = frozenset({Screen.ID_KEYPAD})  # the screens whose pad takes keys
    _handlers: dict[type[Event], Callable[[Event], None]]

    def handle(self, event: Event) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _activity(self) -> None:
        self._host.session.touch(self._host.clock.now())

    def _on_type_instead(self, _event: TypeInstead) -> None:
        self._activity()
        if self._screen is Screen.ID_SCAN:
            self._go_keypad()

    def _on_scan(self, _event: ScanInstead) -> None:
        self._activity()
        if self._screen in (Screen.ID_KEYPAD, Screen.ID_CONFIRM):
            self._wipe_id()
            self._go_scan()

    def _on_key(self, event: PinDigit) -> None:
        self._activity()
        if self._screen in self._typing and self._host.session.entry.add(event.digit):
            self._typed()

    def _typed(self) -> None:
        """A key was taken: the error about what was typed before no longer applies."""
        self._id_error = None

    def _on_backspace(self, _event: PinBackspace) -> None:
        self._activity()
        if self._screen in self._typing:
            self._host.session.entry.backspace()

    def _on_clear(self, _event: PinClear) -> None:
        self._activity()
        if self._screen in self._typing:
            self._host.session.entry.clear()

    def _on_task_result(self, event: TaskResult) -> None:
        self._tasks.deliver(event.ticket, event.result)

    def _on_task_failed(self, event: TaskFailed) -> None:
        self._tasks.fail(event.ticket, event.error)


class ApplicationFlow(_IdEntry):
    """The resident's application: ID → photo → details → review → stored → receipt."""

    task = APPLICATION
    purpose = APPLICATION

    def __init__(self, host: FlowHost) -> None:
        super().__init__(host)
        self._shots = Tickets()
        self._countdown: int | None = None
        self._countdown_next: float | None = None
        self._guidance: LiveGuidance | None = None
        self._photo: PhotoResult | None = None
        self._email: str | None = None
        self._certificates = True
        self._under_15 = False
        self._braille: str | None = None
        self._consent = False
        self._editing: str | None = None
        self._field_error: m.Message | None = None
        self._receipt: QueuedApplication | None = None
        self._receipt_id_masked = ""
        self._printing: str | None = None
        self._preparing = False
        self._early_code: CodeScanned | None = None  # a form scanned on the attract screen, before the check
        self._handlers: dict[type[Event], Callable[[Event], None]] = {
            CodeScanned: self._on_code_scanned, TypeInstead: self._on_type_instead, ScanInstead: self._on_scan,
            PinDigit: self._on_key, PinBackspace: self._on_backspace, PinClear: self._on_clear,
            PinSubmit: self._on_pad_submit, Continue: self._on_continue, Back: self._on_back,
            TakePhoto: self._on_take_photo, Retake: self._on_retake, Tick: self._on_tick,
            PhotoGuidance: self._on_guidance, CameraResult: self._on_camera_result,
            EditField: self._on_edit_field, ToggleOption: self._on_toggle, Submit: self._on_submit,
            TaskResult: self._on_task_result, TaskFailed: self._on_task_failed,
            OutboxDelivered: self._on_delivered, PrintReceipt: self._on_print, Finish: self._on_finish,
        }

    # --- the Flow protocol ------------------------------------------------------------------------

    def begin(self) -> None:
        """First ask whether the kiosk can keep one more application (a full disk: say so now)."""
        try:
            ticket = self._host.tasks.submit(CheckCapacity())
        except Exception as exc:
            LOG.error("could not check the outbox: %s", type(exc).__name__)
            self._cannot_accept()
            return
        self._tasks.expect(ticket, self._capacity_known, lambda _error: self._cannot_accept())
        self._preparing = True
        self._go_working(k.WORKING_PREPARING)

    def _capacity_known(self, accepting: bool) -> None:
        self._preparing = False
        early, self._early_code = self._early_code, None
        if not accepting:
            self._cannot_accept()
            return
        self._first_step()
        if early is not None:
            self._on_code_scanned(early)

    def _first_step(self) -> None:
        """What the resident does first once the kiosk can take the application: the form's ID."""
        self._go_scan()

    def _on_code_scanned(self, event: CodeScanned) -> None:
        if self._preparing:
            self._early_code = event  # the scanner was faster than the check: use it once we may
            return
        super()._on_code_scanned(event)

    def _cannot_accept(self) -> None:
        LOG.warning("the outbox cannot take an application now: the resident is sent to the counter")
        self._screen = Screen.ERROR
        self._message = m.Message(k.CANNOT_ACCEPT)

    def wipe(self) -> None:
        self._stop_camera()
        self._wipe_id()
        self._drop_photo()
        self._email = self._braille = None
        self._certificates, self._under_15, self._consent = True, False, False
        self._editing = None
        self._receipt = None
        self._receipt_id_masked = ""
        self._printing = None
        self._preparing = False
        self._early_code = None
        self._tasks.forget_all()
        self._shots.forget_all()
        self._host.session.entry.clear()

    def view(self) -> FlowView:
        return FlowView(self._screen, self._message, busy=self._screen is Screen.WORKING,
                        pin=self._pad_view(), id_entry=self._id_view(), photo=self._photo_view(),
                        application=self._application_view(), receipt=self._receipt_view())

    # --- steps ------------------------------------------------------------------------------------

    def _drop_photo(self) -> None:
        if self._photo is not None:
            self._photo.wipe()
        self._photo = None
        self._guidance = None
        self._countdown = None

    def _go_photo(self) -> None:
        self._drop_photo()
        self._screen = Screen.PHOTO
        self._message = None if self._host.camera is not None else m.Message(k.PHOTO_NO_CAMERA)
        self._start_camera(guidance=True, qr=False)

    def _go_details(self) -> None:
        self._screen = Screen.DETAILS
        self._message = None
        self._editing = None

    def _go_working(self, key: str) -> None:
        self._screen = Screen.WORKING
        self._message = m.Message(key)

    def _on_continue(self, _event: Continue) -> None:
        self._activity()
        if self._screen is Screen.ID_CONFIRM:
            self._go_photo()
        elif self._screen is Screen.PHOTO_REVIEW and self._photo is not None and self._photo.passed:
            self._go_details()
        elif self._screen is Screen.DETAILS:
            self._screen = Screen.REVIEW
            self._message = None

    def _on_back(self, _event: Back) -> None:
        self._activity()
        back = {Screen.ID_KEYPAD: self._go_scan, Screen.ID_CONFIRM: self._back_from_confirm,
                Screen.PHOTO: self._back_from_photo, Screen.PHOTO_REVIEW: self._go_photo,
                Screen.DETAILS: self._back_to_review_photo, Screen.TEXT_ENTRY: self._go_details,
                Screen.REVIEW: self._go_details}.get(self._screen)
        if back is not None:
            back()

    def _back_from_confirm(self) -> None:
        self._wipe_id()
        self._go_scan()

    def _back_from_photo(self) -> None:
        self._stop_camera()
        self._drop_photo()
        self._screen = Screen.ID_CONFIRM

    def _back_to_review_photo(self) -> None:
        self._screen = Screen.PHOTO_REVIEW if self._photo is not None else Screen.PHOTO

    # --- keypad and keyboards ---------------------------------------------------------------------

    _typing = frozenset({Screen.ID_KEYPAD, Screen.TEXT_ENTRY})

    def _typed(self) -> None:
        self._id_error = self._field_error = None

    def _on_pad_submit(self, _event: PinSubmit) -> None:
        self._activity()
        if self._screen is Screen.ID_KEYPAD:
            self._id_keypad_submit()
        elif self._screen is Screen.TEXT_ENTRY:
            self._text_submit()

    def _on_edit_field(self, event: EditField) -> None:
        self._activity()
        spec: InputSpec | None = {"email": EMAIL, "braille": BRAILLE_NAME}.get(event.field)
        if self._screen is not Screen.DETAILS or spec is None:
            return
        self._editing = event.field
        self._field_error = None
        self._screen = Screen.TEXT_ENTRY
        entry = self._host.session.start_entry(spec)
        for char in (self._email if event.field == "email" else self._braille) or "":
            entry.add(char)

    def _text_submit(self) -> None:
        entry = self._host.session.entry
        if entry.count == 0:  # an empty field: the optional value is removed
            self._set_field(None)
            self._go_details()
            return
        value, problem = entry.submit()
        if value is None:
            self._field_error = m.Message(problem[0], problem[1]) if problem else None
            return
        text = value.decode("utf-8")
        value[:] = bytes(len(value))  # not secret, but the typed copy goes as soon as it is used
        if self._editing == "email":
            try:
                validate_contact({"email": text})
            except PayloadInvalid:
                self._field_error = m.Message(k.EMAIL_INVALID)
                for char in text:
                    entry.add(char)
                return
        self._set_field(text)
        self._go_details()

    def _set_field(self, value: str | None) -> None:
        if self._editing == "email":
            self._email = value
        elif self._editing == "braille":
            self._braille = value

    def _on_toggle(self, event: ToggleOption) -> None:
        self._activity()
        if self._screen is Screen.DETAILS and event.option == "certificates" and not self._under_15:
            self._certificates = not self._certificates
        elif self._screen is Screen.DETAILS and event.option == "under_15":
            self._under_15 = not self._under_15
            if self._under_15:
                self._certificates = False  # no electronic certificates under 15
        elif self._screen is Screen.REVIEW and event.option == "consent":
            self._consent = not self._consent
            self._message = None

    # --- the photo --------------------------------------------------------------------------------

    def _on_guidance(self, event: PhotoGuidance) -> None:
        if self._screen is Screen.PHOTO and isinstance(event.guidance, LiveGuidance):
            self._guidance = event.guidance

    def _on_take_photo(self, _event: TakePhoto) -> None:
        self._activity()
        if self._screen is Screen.PHOTO and self._countdown is None and self._host.camera is not None:
            self._countdown = self._host.config.camera.countdown_seconds
            self._countdown_next = self._host.clock.now() + 1.0
            if self._countdown == 0:
                self._shoot()

    def _on_tick(self, event: Tick) -> None:
        if self._countdown is None or self._countdown_next is None or event.now < self._countdown_next:
            return
        self._countdown -= 1
        self._countdown_next = event.now + 1.0
        if self._countdown > 0:
            return
        self._shoot()

    def _shoot(self) -> None:
        self._countdown = None
        camera = self._host.camera
        if camera is None:
            return
        self._shots.expect(camera.capture(), self._photo_taken, self._photo_failed)
        self._go_working(k.WORKING_PHOTO)
        self._host.session.pause()

    def _on_camera_result(self, event: CameraResult) -> None:
        self._shots.deliver(event.ticket, event.result)

    def _photo_taken(self, result: PhotoResult) -> None:
        self._host.session.resume(self._host.clock.now())
        self._stop_camera()
        self._photo = result
        self._screen = Screen.PHOTO_REVIEW
        self._message = m.Message(k.PHOTO_PASSED if result.passed else k.PHOTO_FAILED)

    def _photo_failed(self, error: BaseException) -> None:
        self._host.session.resume(self._host.clock.now())
        LOG.error("taking the photo failed: %s", type(error).__name__)
        self._go_photo()
        self._message = m.Message(k.PHOTO_NO_CAMERA)

    def _on_retake(self, _event: Retake) -> None:
        self._activity()
        if self._screen is Screen.PHOTO_REVIEW:
            self._go_photo()

    # --- submit and receipt -----------------------------------------------------------------------

    def _payload(self) -> dict[str, object]:
        assert self._id is not None  # noqa: S101
        return {"application_id": self._id, **self._details_payload()}

    def _details_payload(self) -> dict[str, object]:
        """The photo, the contact and the options as the review showed them (an application's or a renewal's)."""
        assert self._photo is not None and self._photo.jpeg is not None  # noqa: S101
        contact = {"email": self._email} if self._email else None
        return {
            "photo_jpeg_base64": base64.b64encode(self._photo.jpeg).decode("ascii"),
            "contact": contact,
            # what the review showed: electronic certificates (never under 15) and the braille name
            "options": {"electronic_certificates": self._certificates, "braille_name": self._braille},
            "submitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def _on_submit(self, _event: Submit) -> None:
        self._activity()
        if self._screen is not Screen.REVIEW:
            return
        if not self._consent:
            self._message = m.Message(k.REVIEW_CONSENT_NEEDED)
            return
        if self._photo is None or not self._photo.passed:
            return
        self._send()

    def _send(self) -> None:
        """Everything was seen and agreed: store it (the renewal signs it first)."""
        if self._id is not None:
            self._store(EnqueueApplication(self._payload()), mask_application_id(self._id))

    def _store(self, task: Task[QueuedApplication], masked_id: str) -> None:
        """Commit ``task``'s application to the outbox on the task worker; the receipt follows its answer."""
        try:
            ticket = self._host.tasks.submit(task)
        except Exception as exc:
            task.wipe()
            LOG.error("could not queue the application: %s", type(exc).__name__)
            self._screen = Screen.REVIEW
            self._message = m.Message(k.SAVE_FAILED)
            return
        self._receipt_id_masked = masked_id
        self._tasks.expect(ticket, self._stored, self._store_failed)
        self._go_working(k.WORKING_SAVING)
        self._host.session.pause()

    def _stored(self, queued: QueuedApplication) -> None:
        self._host.session.resume(self._host.clock.now())
        self._receipt = queued
        # stored: the personal data is the outbox's now (sealed); nothing of it stays here
        self._drop_photo()
        self._email = self._braille = None
        self._id = None
        self._screen = Screen.RECEIPT
        self._message = None

    def _store_failed(self, error: BaseException) -> None:
        self._host.session.resume(self._host.clock.now())
        LOG.error("the application could not be stored: %s", type(error).__name__)
        if isinstance(error, StorageFull):  # the disk filled since the start: nothing to retry here
            self._stop_camera()
            self._drop_photo()
            self._cannot_accept()
            return
        self._screen = Screen.REVIEW
        self._message = m.Message(k.SAVE_FAILED)

    def _on_delivered(self, event: OutboxDelivered) -> None:
        if self._receipt is not None and event.item_id == self._receipt.item_id:
            state = "delivered" if event.outcome == "delivered" else "refused"
            self._receipt = QueuedApplication(self._receipt.item_id, self._receipt.local_number, state)

    def _printable(self) -> bool:
        return self._host.config.printer.kind != "none"

    def _on_print(self, _event: PrintReceipt) -> None:
        """One print per receipt (a second slip would be a copy nobody asked for); a failed one may retry."""
        self._activity()
        if (self._screen is not Screen.RECEIPT or self._receipt is None or not self._printable()
                or self._printing in ("printing", "printed")):
            return
        slip = ReceiptSlip(self._host.session.prefs.language, self._receipt.local_number, self._receipt_id_masked,
                           self._receipt.state, self._host.config.kiosk.id, datetime.now().astimezone())
        try:
            ticket = self._host.tasks.submit(PrintReceiptTask(slip))
        except Exception as exc:
            LOG.error("could not print the receipt: %s", type(exc).__name__)
            self._printing = "failed"
            return
        self._printing = "printing"
        self._tasks.expect(ticket, self._printed, self._print_failed)

    def _printed(self, where: str) -> None:
        LOG.info("receipt printed (%s)", where.split(":", 1)[0])
        self._printing = "printed"

    def _print_failed(self, error: BaseException) -> None:
        LOG.error("printing the receipt failed: %s", getattr(error, "code", type(error).__name__))
        self._printing = "failed"

    def _on_finish(self, _event: Finish) -> None:
        if self._screen is Screen.RECEIPT:
            self._host.end_session()

    # --- views ------------------------------------------------------------------------------------

    def _pad_view(self) -> InputView | None:
        if self._screen not in (Screen.ID_KEYPAD, Screen.TEXT_ENTRY):
            return None
        error = self._id_error if self._screen is Screen.ID_KEYPAD else self._field_error
        return self._host.session.entry.view(error=(error.key, error.args_dict()) if error else None)

    def _photo_view(self) -> PhotoView | None:
        if self._screen is Screen.PHOTO:
            guidance = self._guidance
            return PhotoView(live=True, countdown=self._countdown,
                             face=guidance.face if guidance is not None else None,
                             guidance=tuple(p.fix_key for p in guidance.problems) if guidance is not None else ())
        if self._screen is Screen.PHOTO_REVIEW and self._photo is not None:
            return PhotoView(problems=tuple(p.fix_key for p in self._photo.problems), jpeg=self._photo.jpeg)
        return None

    def _application_view(self) -> ApplicationView | None:
        if self._screen not in (Screen.DETAILS, Screen.TEXT_ENTRY, Screen.REVIEW):
            return None
        error = self._field_error
        return ApplicationView(
            application_id=self._id if self._screen is Screen.REVIEW else None, email=self._email,
            certificates=self._certificates, under_15=self._under_15, braille=self._braille, consent=self._consent,
            photo_jpeg=self._photo.jpeg if self._screen is Screen.REVIEW and self._photo is not None else None,
            editing=self._editing if self._screen is Screen.TEXT_ENTRY else None,
            error_key=error.key if error is not None else None)

    def _receipt_view(self) -> ReceiptView | None:
        if self._screen is not Screen.RECEIPT or self._receipt is None:
            return None
        return ReceiptView(self._receipt.local_number, self._receipt_id_masked, self._receipt.state,
                           printable=self._printable(), printing=self._printing)


class StatusFlow(_IdEntry):
    """Where is my application? The ID the same three ways, then the central server's answer."""

    task = STATUS
    purpose = STATUS

    def __init__(self, host: FlowHost) -> None:
        super().__init__(host)
        self._answer: StatusView | None = None
        self._handlers: dict[type[Event], Callable[[Event], None]] = {
            CodeScanned: self._on_code_scanned, TypeInstead: self._on_type_instead, ScanInstead: self._on_scan,
            PinDigit: self._on_key, PinBackspace: self._on_backspace, PinClear: self._on_clear,
            PinSubmit: self._on_pad_submit, Continue: self._on_continue, Back: self._on_back,
            TaskResult: self._on_task_result, TaskFailed: self._on_task_failed, Finish: self._on_finish,
        }

    def begin(self) -> None:
        self._go_scan()

    def wipe(self) -> None:
        self._stop_camera()
        self._wipe_id()
        self._answer = None
        self._tasks.forget_all()
        self._host.session.entry.clear()

    def view(self) -> FlowView:
        return FlowView(self._screen, self._message, busy=self._screen is Screen.WORKING,
                        pin=self._host.session.entry.view(error=(self._id_error.key, self._id_error.args_dict())
                                                          if self._id_error else None)
                        if self._screen is Screen.ID_KEYPAD else None,
                        id_entry=self._id_view(), status=self._answer if self._screen is Screen.STATUS_RESULT
                        else None)

    def _on_back(self, _event: Back) -> None:
        self._on_scan(ScanInstead())  # back from the keypad or the confirmation: read the code again

    def _on_pad_submit(self, _event: PinSubmit) -> None:
        self._activity()
        if self._screen is Screen.ID_KEYPAD:
            self._id_keypad_submit()

    def _on_continue(self, _event: Continue) -> None:
        self._activity()
        if self._screen is not Screen.ID_CONFIRM or self._id is None:
            return
        masked = mask_application_id(self._id)
        task = LookUpStatus(self._id)
        try:
            ticket = self._host.tasks.submit(task)
        except Exception as exc:
            task.wipe()
            LOG.error("could not ask for the status: %s", type(exc).__name__)
            self._show(StatusView(masked, k.STATUS_UNREACHABLE))
            return
        self._tasks.expect(ticket, lambda answer: self._answered(masked, answer),
                           lambda error: self._unanswered(masked, error))
        self._id = None  # the task holds it now
        self._screen = Screen.WORKING
        self._message = m.Message(k.WORKING_STATUS)

    def _answered(self, masked: str, answer: ApplicationStatusAnswer) -> None:
        key = k.STATUS_KEYS.get(answer.status, k.STATUS_KEYS["unknown"])
        self._show(StatusView(masked, key))

    def _unanswered(self, masked: str, error: BaseException) -> None:
        LOG.info("status lookup failed: %s", getattr(error, "code", type(error).__name__))
        if getattr(error, "status", None) == 404:
            key = k.STATUS_KEYS["unknown"]
        elif getattr(error, "status", None) == 429:
            key = k.STATUS_RATE_LIMITED
        else:
            key = k.STATUS_UNREACHABLE
        self._show(StatusView(masked, key))

    def _show(self, answer: StatusView) -> None:
        self._answer = answer
        self._screen = Screen.STATUS_RESULT
        self._message = None

    def _on_finish(self, _event: Finish) -> None:
        if self._screen is Screen.STATUS_RESULT:
            self._host.end_session()


__all__ = ["ApplicationFlow", "StatusFlow", "mask_application_id"]
