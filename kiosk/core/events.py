"""Everything that can happen to a kiosk session, as plain immutable events.

The UI turns touches into these; the card service turns reader changes and finished jobs into these;
the clock turns time into ``Tick``. Flows only ever see events.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Event:
    """Base class."""


# --- hardware / services ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReaderChanged(Event):
    """``state`` is one of kiosk.core.view.ReaderState values."""

    state: str
    reader: str | None = None


@dataclass(frozen=True, slots=True)
class CardInserted(Event):
    """``insertion`` numbers every insertion: operations submitted for it fail with ``CardRemoved`` once
    that card is gone, so they never touch the next person's card."""

    reader: str
    atr: bytes = b""
    insertion: int = 1


@dataclass(frozen=True, slots=True)
class CardRemoved(Event):
    reader: str


@dataclass(frozen=True, slots=True)
class CardResult(Event):
    """A card operation (``kiosk.core.ports.CardOperation``) finished on the reader's worker thread.

    ``ticket`` is the one ``CardJobs.submit`` returned; the flow that waits for it gets ``result`` with the
    operation's own result type. A result nobody waits for any more is stale: it is wiped and dropped.
    """

    ticket: int
    result: object = None


@dataclass(frozen=True, slots=True)
class CardFailed(Event):
    """A card operation raised; ``error`` is the typed exception (a ``drivers.errors.CardError``…)."""

    ticket: int
    error: BaseException = field(default_factory=Exception)


@dataclass(frozen=True, slots=True)
class CodeScanned(Event):
    """A code was read: ``source`` "qr" (the camera saw the form's QR code) or "scanner" (a USB barcode
    scanner typing like a keyboard, its terminating CR/LF/Tab already removed). ``text`` may be anything:
    the flow validates it (``contract.application_id``)."""

    text: str = field(repr=False)
    source: str = "qr"


@dataclass(frozen=True, slots=True)
class PhotoGuidance(Event):
    """The camera's live guidance on the latest frame (``kiosk.core.ports.LiveGuidance``)."""

    guidance: object = None


@dataclass(frozen=True, slots=True)
class CameraResult(Event):
    """A photo taken with ``Camera.capture``: ``result`` is a ``kiosk.core.ports.PhotoResult``."""

    ticket: int
    result: object = None


@dataclass(frozen=True, slots=True)
class TaskResult(Event):
    """A disk or network task (``kiosk.core.ports.Task``) finished on the task worker."""

    ticket: int
    result: object = None


@dataclass(frozen=True, slots=True)
class TaskFailed(Event):
    ticket: int
    error: BaseException = field(default_factory=Exception)


@dataclass(frozen=True, slots=True)
class OutboxDelivered(Event):
    """The flusher delivered (or the server refused) an outbox item: ``outcome`` "delivered" | "dead"."""

    item_id: str
    outcome: str


@dataclass(frozen=True, slots=True)
class KeyTyped(Event):
    """A character from a hardware keyboard — on a kiosk, a USB barcode scanner typing like one
    (``kiosk.core.wedge`` turns a burst ending in CR, LF or Tab into ``CodeScanned``)."""

    char: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Tick(Event):
    """Time passed; ``now`` is monotonic seconds from the injected clock."""

    now: float


# --- the person at the screen -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Touched(Event):
    """Any touch anywhere: the session is alive (resets the idle timer)."""


@dataclass(frozen=True, slots=True)
class Start(Event):
    """A task chosen on the attract screen (``kiosk.core.flows.TASKS`` lists the ones that exist)."""

    task: str = "card_check"


@dataclass(frozen=True, slots=True)
class LanguageChosen(Event):
    code: str


@dataclass(frozen=True, slots=True)
class PinDigit(Event):
    """One key of the pad or keyboard (a digit, or a letter where the input's alphabet has letters)."""

    digit: str


@dataclass(frozen=True, slots=True)
class PinBackspace(Event):
    pass


@dataclass(frozen=True, slots=True)
class PinClear(Event):
    pass


@dataclass(frozen=True, slots=True)
class PinSubmit(Event):
    pass


@dataclass(frozen=True, slots=True)
class ToggleShowPin(Event):
    pass


@dataclass(frozen=True, slots=True)
class ShowDetails(Event):
    """The resident asks to see the basic 4 information (masked My Number)."""


@dataclass(frozen=True, slots=True)
class HideDetails(Event):
    pass


@dataclass(frozen=True, slots=True)
class MoreTime(Event):
    """"I need more time" on the idle warning."""


@dataclass(frozen=True, slots=True)
class CallStaff(Event):
    pass


@dataclass(frozen=True, slots=True)
class CancelStaffCall(Event):
    """The resident takes the call back ("I am fine now")."""


@dataclass(frozen=True, slots=True)
class StaffCallUpdated(Event):
    """The staff-call channel reports on a call: ``status`` is "sent", "failed" or "cancelled"."""

    status: str


@dataclass(frozen=True, slots=True)
class ServiceChanged(Event):
    """The central server took this kiosk out of service (an operator disabled it) or back: ``in_service``.
    Posted by the heartbeat on a change only."""

    in_service: bool


@dataclass(frozen=True, slots=True)
class Cancel(Event):
    """"Stop" / "back to the start": ends the session and wipes it."""


@dataclass(frozen=True, slots=True)
class Finish(Event):
    """"Done" on the result screen."""


@dataclass(frozen=True, slots=True)
class ToggleLargeText(Event):
    pass


@dataclass(frozen=True, slots=True)
class ToggleHighContrast(Event):
    pass


@dataclass(frozen=True, slots=True)
class ToggleSpeech(Event):
    pass


# --- the application and the status lookup ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Continue(Event):
    """"Next" / "Yes, that is right" / "Use this photo": the current step is done."""


@dataclass(frozen=True, slots=True)
class Back(Event):
    """One step back (nothing typed or taken so far is kept unless the step says so)."""


@dataclass(frozen=True, slots=True)
class TypeInstead(Event):
    """Type the application ID on the keypad instead of showing the QR code."""


@dataclass(frozen=True, slots=True)
class ScanInstead(Event):
    """Back to reading the QR code (or the scanner)."""


@dataclass(frozen=True, slots=True)
class TakePhoto(Event):
    """Start the countdown; the photo is taken when it reaches zero."""


@dataclass(frozen=True, slots=True)
class Retake(Event):
    pass


@dataclass(frozen=True, slots=True)
class EditField(Event):
    """Open the keyboard for ``field``: "email" or "braille"."""

    field: str


@dataclass(frozen=True, slots=True)
class ToggleOption(Event):
    """Switch ``option``: "certificates", "under_15" or "consent"."""

    option: str


@dataclass(frozen=True, slots=True)
class Submit(Event):
    """Send the application (from the review screen, with the consent given)."""


@dataclass(frozen=True, slots=True)
class PrintReceipt(Event):
    pass


# --- the clerk's counter (kiosk/core/flows/pickup) --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignOut(Event):
    """The clerk signs out (the counter returns to the sign-in screen)."""


@dataclass(frozen=True, slots=True)
class AcknowledgeCall(Event):
    """The clerk answers a kiosk's "call staff": on my way."""

    call_id: str


@dataclass(frozen=True, slots=True)
class FaceMatch(Event):
    """The clerk's visual check of the person against both photos."""

    same: bool


@dataclass(frozen=True, slots=True)
class ChooseReason(Event):
    """The supervisor's reason for an override (one of ``pickup.OVERRIDE_REASONS``)."""

    reason: str
