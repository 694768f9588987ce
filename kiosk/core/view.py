"""The immutable view state a flow publishes and the UI renders — nothing else crosses to the UI.

Texts are message keys (``kiosk/i18n``), never sentences; values that are personal data appear only in
``ResultView.details`` and only after the resident asked, and they are gone from the next state after
the session ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from kiosk.core.input import InputView


class Screen(StrEnum):
    ATTRACT = "attract"  # until a card or a touch; offers the tasks that exist
    TAKE_CARD = "take_card"  # the session is over but a card is still on the reader: "take your card"
    INSERT_CARD = "insert_card"  # "put your card on the reader"
    READING = "reading"  # card I/O: "keep the card still"
    PIN_ENTRY = "pin_entry"
    VERIFYING = "verifying"  # card I/O after the PIN
    RESULT = "result"
    GO_TO_COUNTER = "go_to_counter"  # one try left at an unattended kiosk, PIN blocked, …
    ERROR = "error"  # not a My Number card, reader problem, …


class ReaderState(StrEnum):
    NO_READER = "no_reader"
    READY = "ready"
    CARD_PRESENT = "card_present"
    NOT_MY_NUMBER = "not_my_number"
    READER_LOST = "reader_lost"
    SERVICE_DOWN = "service_down"


@dataclass(frozen=True, slots=True)
class CheckLine:
    name: str  # verifier check name
    status: str  # passed | failed | not_checked
    message_key: str  # plain-words explanation key


@dataclass(frozen=True, slots=True)
class PinTries:
    pin: str  # auth | sign | card_info | juki
    remaining: int  # what the card's counter says
    maximum: int
    blocked: bool
    not_set: bool
    usable: int | None = None  # what the resident can use here (an unattended kiosk keeps the last one back)


@dataclass(frozen=True, slots=True)
class Notice:
    """One sentence the result leads with: a consequence and its next step (``result.*`` / ``notice.*``)."""

    key: str
    args: dict = field(default_factory=dict)
    tone: str = "warn"  # ok | warn | bad


@dataclass(frozen=True, slots=True)
class ResultView:
    """``headline`` first (what this means for the resident), then ``notices`` (next steps), then the checks.

    ``verified`` is true only when no check failed and every required check passed (``is_verified``).
    """

    verified: bool
    checks: tuple[CheckLine, ...]
    certificate_expiry: str | None  # ISO date
    days_to_expiry: int | None
    renewal_key: str | None  # "renewal.soon" inside the 3-month window, "renewal.expired", None
    pins: tuple[PinTries, ...]
    details: tuple[tuple[str, str], ...] | None = None  # (label key, value) only after ShowDetails
    headline: Notice | None = None
    notices: tuple[Notice, ...] = ()
    details_withheld: bool = False  # the card's data failed its integrity check: not shown at all
    details_offered: bool = True  # False when no card-info PIN may be sent (certificate failed, PIN blocked)


@dataclass(frozen=True, slots=True)
class ViewState:
    screen: Screen
    language: str
    reader: ReaderState
    large_text: bool = False
    high_contrast: bool = False
    speech: bool = True
    message_key: str | None = None  # the screen's main message when it varies (errors, counter reasons)
    message_args: dict = field(default_factory=dict)
    busy: bool = False  # card I/O running: show "keep the card still"
    pin: InputView | None = None
    result: ResultView | None = None
    idle_warning: int | None = None  # seconds left, when the "more time?" warning is up
    staff_called: bool = False
    staff_call: str | None = None  # None | "sending" | "sent" | "failed": what the resident is told
    session_id: int = 0  # changes every session (the UI drops textures when it changes)
    tasks: tuple[str, ...] = ()  # on the attract screen: the tasks this kiosk offers (kiosk.core.flows)
    reminder: int = 0  # TAKE_CARD: counts the reminders, so the guidance is spoken again
