"""The disk and network work of the application and the status lookup (``kiosk.core.ports.Task``).

They run on the task worker, never on the UI thread: the outbox commit is an fsync (``synchronous=FULL``)
and a status lookup is an HTTPS round trip. Personal data travels only inside the task and is dropped
with ``wipe()`` as soon as it is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiosk.core.ports import QueuedApplication, ReceiptSlip, ServiceContext


@dataclass(slots=True, repr=False)
class EnqueueApplication:
    """Commit the application to the outbox; the receipt is shown only after this returned."""

    payload: dict[str, Any] = field(repr=False)

    def run(self, services: ServiceContext) -> QueuedApplication:
        try:
            receipt = services.outbox.enqueue("application", self.payload)
        finally:
            self.wipe()
        return QueuedApplication(receipt.item_id, receipt.local_number, receipt.state)

    def wipe(self) -> None:
        self.payload.clear()


@dataclass(slots=True)
class CheckCapacity:
    """Can this kiosk store one more application? Asked before the resident starts, so nobody spends ten
    minutes on a photo and a form the kiosk then cannot keep (a full disk)."""

    def run(self, services: ServiceContext) -> bool:
        return bool(services.outbox.can_accept())

    def wipe(self) -> None:
        """Carries nothing."""


@dataclass(frozen=True, slots=True)
class ApplicationStatusAnswer:
    """Where an application is (``status`` as the central server names it) — no personal data."""

    status: str


@dataclass(slots=True, repr=False)
class LookUpStatus:
    """Ask the central server where the application with this ID is."""

    application_id: str | None = field(repr=False)

    def run(self, services: ServiceContext) -> ApplicationStatusAnswer:
        application_id, self.application_id = self.application_id, None
        if application_id is None:
            raise ValueError("the status lookup was wiped before it ran")
        answer = services.central().application_status(application_id)
        return ApplicationStatusAnswer(str(getattr(answer, "status", answer)))

    def wipe(self) -> None:
        self.application_id = None


class NoPrinter(RuntimeError):
    """No receipt printer is configured on this kiosk."""


@dataclass(slots=True)
class PrintReceipt:
    """Print the receipt slip (only the reference, the masked ID and the state: nothing to wipe)."""

    slip: ReceiptSlip

    def run(self, services: ServiceContext) -> str:
        printer = services.printer
        if printer is None:
            raise NoPrinter("no receipt printer is configured")
        return printer.print_receipt(self.slip)

    def wipe(self) -> None:
        """The slip carries no personal data beyond the masked ID."""


__all__ = ["ApplicationStatusAnswer", "CheckCapacity", "EnqueueApplication", "LookUpStatus", "NoPrinter",
           "PrintReceipt"]
