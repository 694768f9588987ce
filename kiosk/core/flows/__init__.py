"""The resident and clerk tasks the kiosk hosts, one package per flow; the shell (``kiosk.core.shell``) runs
whichever is active.

A flow is a small state machine for one task. It gets every event while it is active (after the shell
has taken the session-wide ones: language, display preferences, "more time", call staff, idle), asks
for card work through ``FlowHost.jobs`` with typed operations (``kiosk.core.ports``), and publishes a
``FlowView``. It ends by asking the host: ``end_session()`` when the person is done (the shell wipes
everything and shows "take your card" while a card is still on the reader), ``restart_for_same_person()``
when the card was pulled mid-task (a new session id, preferences kept).

``TASKS`` lists the tasks this build offers on the attract screen, in display order: a task that does not
exist yet is absent, never a disabled button.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from drivers.mynumber.pinpolicy import PinPolicy
from kiosk.config import KioskConfig
from kiosk.core.dispatch import Clock
from kiosk.core.events import Event
from kiosk.core.input import InputView
from kiosk.core.messages import Message
from kiosk.core.ports import Camera, CardJobs, TaskJobs
from kiosk.core.session import Session
from kiosk.core.view import (
    ApplicationView,
    ClerkView,
    IdEntryView,
    PhotoView,
    PickupView,
    PinServicesView,
    ReaderState,
    ReceiptView,
    RenewalView,
    ResultView,
    Screen,
    StatusView,
)

CARD_CHECK = "card_check"
APPLICATION = "application"
STATUS = "status"
RENEWAL = "renewal"
PICKUP = "pickup"  # the clerk's counter: only on a kiosk with ``[kiosk] station = "counter"``
PIN_SERVICES = "pin_services"  # PIN tries, change, and where a locked PIN is reset (kiosk/core/flows/pin_services)
TASKS: tuple[str, ...] = (CARD_CHECK, PIN_SERVICES, APPLICATION, RENEWAL, STATUS)
COUNTER_TASKS: tuple[str, ...] = (PICKUP,)


@dataclass(frozen=True, slots=True)
class FlowView:
    """The part of ``ViewState`` a flow decides; the shell adds language, preferences, reader, idle…"""

    screen: Screen
    message: Message | None = None
    busy: bool = False
    pin: InputView | None = None
    result: ResultView | None = None
    not_my_number: bool = False  # the card in the reader answered, but not as a My Number card
    id_entry: IdEntryView | None = None
    photo: PhotoView | None = None
    application: ApplicationView | None = None
    receipt: ReceiptView | None = None
    status: StatusView | None = None
    renewal: RenewalView | None = None
    clerk: ClerkView | None = None
    pickup: PickupView | None = None
    pin_services: PinServicesView | None = None


class FlowHost(Protocol):
    """What the shell offers the active flow."""

    @property
    def config(self) -> KioskConfig: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def jobs(self) -> CardJobs: ...

    @property
    def tasks(self) -> TaskJobs:
        """Disk and network work (the outbox, the central server), on the task worker."""
        ...

    @property
    def camera(self) -> Camera | None:
        """The kiosk camera, when one is configured."""
        ...

    @property
    def policy(self) -> PinPolicy: ...

    @property
    def session(self) -> Session: ...

    @property
    def reader(self) -> ReaderState: ...

    @property
    def reader_usable(self) -> bool: ...

    @property
    def card_present(self) -> bool: ...

    @property
    def insertion(self) -> int:
        """The number of the card now in the reader (operations are submitted for it)."""
        ...

    def end_session(self) -> None:
        """The person is done: wipe everything; "take your card" while one is in, else the attract screen."""
        ...

    def restart_for_same_person(self) -> None:
        """The same person goes on (the card was pulled mid-task): wiped, a new session id, preferences kept."""
        ...


class Flow(Protocol):
    task: str

    def begin(self) -> None:
        """Start from the attract screen, or for a card that was just inserted (``host.card_present``)."""
        ...

    def handle(self, event: Event) -> None: ...

    def view(self) -> FlowView: ...

    def wipe(self) -> None:
        """Drop personal data, typed input and every ticket (results arriving later are stale)."""
        ...


__all__ = ["APPLICATION", "CARD_CHECK", "COUNTER_TASKS", "PICKUP", "PIN_SERVICES", "STATUS", "TASKS", "Flow",
           "FlowHost", "FlowView"]
