"""What flows ask of the world, as types: card operations with typed results, and the queue that runs them.

A flow never talks to a card. It builds a ``CardOperation`` — a small frozen object that says what to do
("verify with this PIN", "change this PIN") and how, in terms of the driver's domain verbs — and hands it
to ``CardJobs.submit``. The card worker (``kiosk.services.card_service``) runs every operation the same
way, ``operation.run(card)``, on the thread that owns the reader, and posts ``CardResult`` or
``CardFailed`` with the ticket it gave out. There are no job kinds to switch on, on either side: the
flow keeps the continuation for each ticket it waits for (``Tickets``), so a result reaches exactly the
code that asked for it, with its own type.

Two promises every operation keeps:

* **PINs are the operation's to zero.** A PIN travels inside the operation as a ``bytearray``; ``wipe()``
  zeroes it and the worker calls it when the operation ends — run, failed or skipped at shutdown. The
  driver zeroes the buffer too (``drivers.mynumber.pinpolicy.prepare_pin``).
* **Personal data in a result is wipeable.** A result type that holds the basic 4 or the My Number has a
  ``wipe()``; the flow calls it as soon as it has made its view lines, and on any stale result.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.verifier import CardVerifier

LOG = logging.getLogger(__name__)

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class OpenCard(Protocol):
    """The card in the reader, as the worker hands it to an operation (already connected and recognised
    as a My Number card). Operations call the driver's domain verbs on it; nothing else."""

    @property
    def card(self) -> MyNumberCard: ...

    @property
    def verifier(self) -> CardVerifier: ...


class CardOperation(Protocol[R_co]):
    """One unit of card work with a typed result. ``run`` is called on the reader's worker thread."""

    def run(self, card: OpenCard) -> R_co: ...

    def wipe(self) -> None:
        """Zero any PIN the operation carries (idempotent)."""
        ...


class CardJobs(Protocol):
    """The card worker's queue. ``submit`` returns a ticket at once and never blocks on the card; the
    outcome arrives later as ``CardResult``/``CardFailed`` carrying that ticket. An operation queued for
    an insertion that is over fails with ``drivers.errors.CardRemoved`` instead of touching a new card."""

    def submit(self, operation: CardOperation[object], *, insertion: int) -> int: ...


class Wipeable(Protocol):
    def wipe(self) -> None: ...


def wipe_if_personal(result: object) -> None:
    """Wipe a result that may hold personal data (anything with ``wipe()``)."""
    wipe = getattr(result, "wipe", None)
    if callable(wipe):
        wipe()


@dataclass(slots=True)
class _Waiting(Generic[R]):
    on_result: Callable[[R], None]
    on_failure: Callable[[BaseException], None]


@dataclass(slots=True)
class Tickets:
    """The operations a flow waits for, each with its continuations. A ticket not waited for (the flow
    moved on, the session ended) is stale: its result is wiped and dropped, never shown to anyone."""

    _waiting: dict[int, _Waiting[object]] = field(default_factory=dict)

    def expect(self, ticket: int, on_result: Callable[[R], None], on_failure: Callable[[BaseException], None]) -> int:
        self._waiting[ticket] = _Waiting(on_result, on_failure)  # type: ignore[arg-type]
        return ticket

    def waiting_for(self, ticket: int) -> bool:
        return ticket in self._waiting

    @property
    def pending(self) -> bool:
        return bool(self._waiting)

    def forget_all(self) -> None:
        """Stop waiting for anything (the results, when they come, are stale)."""
        self._waiting.clear()

    def forget(self, ticket: int) -> None:
        self._waiting.pop(ticket, None)

    def deliver(self, ticket: int, result: object) -> bool:
        """Run the continuation for ``ticket``; False (and the result wiped) when nobody waits for it."""
        waiting = self._waiting.pop(ticket, None)
        if waiting is None:
            wipe_if_personal(result)
            LOG.info("stale card result (ticket %d) dropped", ticket)
            return False
        waiting.on_result(result)
        return True

    def fail(self, ticket: int, error: BaseException) -> bool:
        waiting = self._waiting.pop(ticket, None)
        if waiting is None:
            LOG.info("stale card failure (ticket %d) dropped", ticket)
            return False
        waiting.on_failure(error)
        return True


class TicketCounter:
    """Ticket numbers, unique for the life of the process (shared by every flow and the worker)."""

    def __init__(self, start: int = 1) -> None:
        self._next = itertools.count(start)

    def __call__(self) -> int:
        return next(self._next)




# --- the camera (application photos, the QR code on the mailed form) ------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    """One camera picture: ``rgb`` is row-major RGB888, top row first (what a Kivy texture blits)."""

    width: int
    height: int
    rgb: bytes = field(repr=False)
    seq: int = 0  # increases with every frame of one camera session
    captured_at: float = 0.0  # monotonic seconds


@dataclass(frozen=True, slots=True)
class PhotoProblem:
    """One automatic check that failed, with the message key of its plain-words fix (``photo.fix.*``)."""

    check: str  # e.g. "one_face", "centred", "face_size", "eyes_open", "background", "exposure", "sharpness"
    fix_key: str


@dataclass(frozen=True, slots=True)
class LiveGuidance:
    """What the preview says right now (cheap checks on a small copy of the latest frame)."""

    seq: int
    face: tuple[float, float, float, float] | None  # x, y, w, h as fractions of the frame; None: no face
    problems: tuple[PhotoProblem, ...] = ()

    @property
    def ready(self) -> bool:
        return self.face is not None and not self.problems


@dataclass(slots=True, repr=False)
class PhotoResult:
    """The final check of a taken photo: the cropped 3.5:4.5 JPEG when every check passed, else why not.

    ``jpeg`` is a face photo (personal data): ``wipe()`` it as soon as it is queued or discarded.
    """

    problems: tuple[PhotoProblem, ...]
    jpeg: bytes | None = None
    width: int = 0
    height: int = 0

    @property
    def passed(self) -> bool:
        return not self.problems and self.jpeg is not None

    def wipe(self) -> None:
        self.jpeg = None

    def __repr__(self) -> str:
        return f"PhotoResult(problems={[p.check for p in self.problems]}, jpeg={'held' if self.jpeg else None})"


class Camera(Protocol):
    """The kiosk camera (a real one through OpenCV, or image files in demo mode and tests).

    ``start``/``stop`` bracket one use (the preview screen); ``latest`` is what the preview draws and never
    blocks; live guidance arrives as ``PhotoGuidance`` events and QR codes seen as ``CodeScanned`` events
    (``source="qr"``), both posted from the camera's own thread; ``capture`` takes the photo and answers
    with ``CameraResult(ticket, PhotoResult)``.
    """

    def start(self, *, guidance: bool, qr: bool) -> None: ...

    def stop(self) -> None: ...

    def latest(self) -> Frame | None: ...

    def capture(self) -> int: ...


# --- disk and network work (the outbox, the central server) ---------------------------------------------------


class StorageFull(Exception):
    """The kiosk's disk cannot take what a task wanted to store (``kiosk.services.outbox.OutboxFull``)."""


@dataclass(frozen=True, slots=True)
class QueuedApplication:
    """What the resident is told at once: the application is on disk and queued (``local_number`` is the
    kiosk's own reference for the receipt; ``item_id`` matches later delivery news)."""

    item_id: str
    local_number: str
    state: str = "queued"  # queued | delivered


@dataclass(frozen=True, slots=True)
class ReceiptSlip:
    """What a printed receipt carries: the kiosk's reference, the masked ID and the state — nothing else
    about the resident (no name, no e-mail, no photo, not the whole ID)."""

    language: str
    local_number: str
    application_id_masked: str
    state: str  # queued | delivered
    kiosk_id: str
    issued_at: datetime  # local time, printed to the minute


class PrinterPort(Protocol):
    """The receipt printer (``kiosk.services.receipt_printer``): a PDF in demo mode, CUPS or ESC/POS."""

    def print_receipt(self, slip: ReceiptSlip) -> str:
        """Print one slip; answers where it went (a file, a CUPS job id). Raises on failure."""
        ...


class OutboxPort(Protocol):
    """The durable outbox (``kiosk.services.outbox.Outbox``)."""

    def enqueue(self, kind: str, payload: Mapping[str, Any]) -> Any: ...

    def can_accept(self, size: int | None = None) -> bool:
        """Whether one more application (default: the largest possible) fits on the disk now."""
        ...


class CentralPort(Protocol):
    """The central server client (``kiosk.services.central.CentralClient``), used from the task worker."""

    def application_status(self, application_id: str) -> Any: ...

    def renewal_nonce(self) -> Any:
        """A single-use nonce (``.nonce`` bytes) for the card to sign in a renewal."""
        ...


class AuditPort(Protocol):
    """The counter's audit trail (``kiosk.services.audit_log.AuditLog``): a local hash chain of clerk actions,
    shipped to the central server by the flusher. Entries carry no personal data (``contract.audit``)."""

    def append(self, *, actor: str, role: str, action: str, outcome: str, subject: str | None = None,
               details: Mapping[str, Any] | None = None) -> Any: ...


class ServiceContext(Protocol):
    """What a task's ``run`` may use; built by the composition root, used only on the task worker."""

    @property
    def outbox(self) -> OutboxPort: ...

    @property
    def audit(self) -> AuditPort | None: ...

    @property
    def printer(self) -> PrinterPort | None: ...

    def central(self) -> CentralPort: ...


class Task(Protocol[R_co]):
    """One piece of disk or network work with a typed result, run on the task worker (never the UI
    thread: a SQLite commit or an HTTPS round trip can take seconds)."""

    def run(self, services: ServiceContext) -> R_co: ...

    def wipe(self) -> None:
        """Drop any personal data the task carries (idempotent)."""
        ...


class TaskJobs(Protocol):
    """The task worker's queue: ``submit`` returns a ticket at once; the outcome arrives as
    ``TaskResult``/``TaskFailed`` with that ticket."""

    def submit(self, task: Task[object]) -> int: ...


__all__ = ["AuditPort", "Camera", "CardJobs", "CardOperation", "CentralPort", "Frame", "LiveGuidance", "OpenCard",
           "OutboxPort", "PhotoProblem", "PhotoResult", "PrinterPort", "QueuedApplication", "ReceiptSlip",
           "ServiceContext", "StorageFull", "Task", "TaskJobs", "TicketCounter", "Tickets", "Wipeable",
           "wipe_if_personal"]
