"""The immutable view state a flow publishes and the UI renders — nothing else crosses to the UI.

Texts are message keys (``kiosk/i18n``), never sentences; values that are personal data appear only in
``ResultView.details`` and only after the resident asked, and they are gone from the next state after
the session ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Screen(StrEnum):
    ATTRACT = "attract"  # until a card or a touch
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
class PinPadView:
    entered: int  # how many digits are typed (the digits themselves never leave the flow…)
    length: int  # 4
    shown: str | None = None  # …unless the resident pressed "show": then the digits, else None
    layout: tuple[str, ...] = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0")  # button order
    remaining_tries: int | None = None
    error_key: str | None = None  # e.g. "pin.wrong" with error_args
    error_args: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CheckLine:
    name: str  # verifier check name
    status: str  # passed | failed | not_checked
    message_key: str  # plain-words explanation key


@dataclass(frozen=True, slots=True)
class PinTries:
    pin: str  # auth | sign | card_info | juki
    remaining: int
    maximum: int
    blocked: bool
    not_set: bool


@dataclass(frozen=True, slots=True)
class ResultView:
    verified: bool
    checks: tuple[CheckLine, ...]
    certificate_expiry: str | None  # ISO date
    days_to_expiry: int | None
    renewal_key: str | None  # "renewal.soon" inside the 3-month window, "renewal.expired", None
    pins: tuple[PinTries, ...]
    details: tuple[tuple[str, str], ...] | None = None  # (label key, value) only after ShowDetails


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
    pin: PinPadView | None = None
    result: ResultView | None = None
    idle_warning: int | None = None  # seconds left, when the "more time?" warning is up
    staff_called: bool = False
    session_id: int = 0  # changes every session (the UI drops textures when it changes)
