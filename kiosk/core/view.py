"""The immutable view state a flow publishes and the UI renders — nothing else crosses to the UI.

Texts are message keys (``kiosk/i18n``), never sentences; values that are personal data appear only in
``ResultView.details`` and only after the resident asked, and they are gone from the next state after
the session ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from kiosk.core.expiry_guidance import ExpiryLine
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
    # the application and the status lookup (kiosk/core/flows/application)
    ID_SCAN = "id_scan"  # "show the QR code of your form to the camera, or scan it" (camera preview)
    ID_KEYPAD = "id_keypad"  # the 23-digit application ID on the on-screen keypad
    ID_CONFIRM = "id_confirm"  # "is this your number?"
    PHOTO = "photo"  # live preview with the face oval, guidance, countdown
    PHOTO_REVIEW = "photo_review"  # the photo taken, and what to fix if a check failed
    DETAILS = "details"  # contact e-mail, options (certificates, braille name)
    TEXT_ENTRY = "text_entry"  # on-screen keyboard for the e-mail address or the braille name
    REVIEW = "review"  # everything that will be sent, the consent, submit
    WORKING = "working"  # saving, checking the photo, asking the server
    RECEIPT = "receipt"  # the application is stored: its reference and whether it was delivered
    STATUS_RESULT = "status_result"  # where an application is, and the next step
    # renewal with an existing card (kiosk/core/flows/renewal)
    RENEWAL_CHECK = "renewal_check"  # may this card be renewed now? (its certificate's renewal window)
    # the clerk's counter (kiosk/core/flows/pickup): clerk theme, except PIN_SETUP, which faces the resident
    CLERK_SIGN_IN = "clerk_sign_in"  # staff ID and password
    CLERK_HOME = "clerk_home"  # look up a pickup (notice number or application ID); open staff calls
    PICKUP_APPLICATION = "pickup_application"  # the application: name, birth date, photo
    PICKUP_CHECKS = "pickup_checks"  # the new card's checks so far; next: the resident sets the PINs
    PIN_SETUP = "pin_setup"  # the RESIDENT sets the PINs (the clerk's side shows only progress)
    PICKUP_COMPARE = "pickup_compare"  # the card's face photo beside the application's; same person?
    PICKUP_FINISH = "pickup_finish"  # every check, documents collected, hand over
    SUPERVISOR = "supervisor"  # a supervisor signs in and overrides a failed check with a reason
    PICKUP_DONE = "pickup_done"  # handed over: recorded (queued, then delivered)
    PICKUP_STOPPED = "pickup_stopped"  # the card was pulled mid-way: what was and was not set
    # PIN services (kiosk/core/flows/pin_services): the resident's palette
    PIN_SERVICES = "pin_services"  # the four PINs' tries; change one, the three 4-digit ones at once, reset guide
    PIN_CHANGE = "pin_change"  # a current or a new PIN on the pad (or the A–Z/0–9 keyboard: InputView.keys)
    PIN_CHANGE_RESULT = "pin_change_result"  # per PIN: changed / not changed / unknown, and why
    PIN_RESET_GUIDE = "pin_reset_guide"  # a locked PIN: where it can be reset and what to bring (the slip)


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
    expiries: tuple[ExpiryLine, ...] = ()  # the card's and each certificate's last day, renewal, what to do


@dataclass(frozen=True, slots=True)
class IdEntryView:
    """The application ID being read. ``value`` is shown to the resident (grouped by 4), never spoken."""

    purpose: str  # "application" | "status"
    value: str | None = field(default=None, repr=False)
    from_qr: bool = False  # read from the form's QR code: shown, not editable
    error_key: str | None = None


@dataclass(frozen=True, slots=True)
class PhotoView:
    """The camera step: live guidance while previewing, the final check after the photo is taken."""

    live: bool = False  # the preview is running (the UI draws the camera's latest frame)
    countdown: int | None = None
    face: tuple[float, float, float, float] | None = None
    guidance: tuple[str, ...] = ()  # fix keys of the live checks ("photo.fix.*")
    problems: tuple[str, ...] = ()  # fix keys of the final check (empty: the photo passed)
    jpeg: bytes | None = field(default=None, repr=False)  # the photo taken (personal data), only on review


@dataclass(frozen=True, slots=True)
class ApplicationView:
    """What the application holds so far; on the review screen, everything that will be sent."""

    application_id: str | None = field(default=None, repr=False)
    email: str | None = field(default=None, repr=False)
    certificates: bool = True
    under_15: bool = False
    braille: str | None = field(default=None, repr=False)
    consent: bool = False
    photo_jpeg: bytes | None = field(default=None, repr=False)
    editing: str | None = None  # TEXT_ENTRY: "email" | "braille"
    error_key: str | None = None


@dataclass(frozen=True, slots=True)
class ReceiptView:
    local_number: str
    application_id_masked: str  # "**** **** **** **** **** 123": nothing else identifying
    state: str  # queued | delivered | refused
    printable: bool = False  # a receipt printer is configured
    printing: str | None = None  # None | "printing" | "printed" | "failed"


@dataclass(frozen=True, slots=True)
class RenewalView:
    """Whether the card in the reader may start a renewal here, and the dates that say why (no personal
    data: the certificate's expiry day only, as the card check also shows it)."""

    status: str  # eligible | not_yet | expired | not_genuine
    expires: str | None = None  # "2027-01-31" (the auth certificate's last day)
    opens: str | None = None  # the first day of the renewal window, when it is still to come


@dataclass(frozen=True, slots=True)
class StatusView:
    application_id_masked: str
    status_key: str  # "status.received" | "status.in_production" | … | "status.unknown"
    next_step_key: str | None = None


@dataclass(frozen=True, slots=True)
class StaffCallLine:
    """An open "call staff" request of a kiosk of the clerk's office (no resident data: kiosk and age)."""

    call_id: str
    kiosk_id: str
    age_seconds: int
    status: str  # open | acknowledged


@dataclass(frozen=True, slots=True)
class ClerkView:
    """Who is signed in at the counter, and the sign-in form (the password only as a count)."""

    username: str | None = None
    role: str | None = None
    editing: str | None = None  # CLERK_SIGN_IN / SUPERVISOR: "username" | "password"
    username_entry: str = ""
    password_entered: int = 0
    staff_calls: tuple[StaffCallLine, ...] = ()
    error_key: str | None = None


@dataclass(frozen=True, slots=True)
class PickupCheck:
    name: str  # card_verified | card_identity | basic4_match | face_visual | pins_set
    status: str  # passed | failed | not_checked
    reason_key: str | None = None  # why, in plain words ("pickup.reason.*")


@dataclass(frozen=True, slots=True)
class PickupView:
    """One pickup at the counter. Name, birth date and both photos are personal data: shown to the clerk
    on the counter screens only, never on PIN_SETUP, and gone from the next state when the pickup ends."""

    lookup: str = ""  # what the clerk typed or scanned (a notice number or an application ID)
    application_id_masked: str | None = None
    notice_number: str | None = None
    holder_name: str | None = field(default=None, repr=False)
    birth_date: str | None = field(default=None, repr=False)
    under_15: bool = False
    application_photo: bytes | None = field(default=None, repr=False)
    card_face_png: bytes | None = field(default=None, repr=False)
    checks: tuple[PickupCheck, ...] = ()
    needs_override: tuple[str, ...] = ()  # required checks that failed or were not made
    pins_to_set: tuple[str, ...] = ()  # auth | card_info | juki | sign, in the order they are asked
    pins_set: tuple[str, ...] = ()
    pins_unset: tuple[str, ...] = ()  # what the card still awaits (after a pulled card: what was not set)
    pin_target: str | None = None  # PIN_SETUP: the PIN being entered ("common": one for the three)
    one_pin: bool = False  # one 4-digit PIN for auth, card-info and 住基
    collected: tuple[tuple[str, bool], ...] = ()  # notification_card, juki_card, old_card
    override_reason: str | None = None  # granted by a supervisor: the reason code
    override_reasons: tuple[str, ...] = ()  # SUPERVISOR: the reasons to choose from
    handover: str | None = None  # queued | delivered | refused
    error_key: str | None = None


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
    id_entry: IdEntryView | None = None
    photo: PhotoView | None = None
    application: ApplicationView | None = None
    receipt: ReceiptView | None = None
    status: StatusView | None = None
    renewal: RenewalView | None = None
    clerk: ClerkView | None = None  # the counter only
    pickup: PickupView | None = None
    pin_services: PinServicesView | None = None


@dataclass(frozen=True, slots=True)
class PinChangeLine:
    """What happened to one PIN of a change. ``unknown`` is never a success: the card left while the
    change was on its way, so the resident is told to try the new PIN and the old one, or ask the counter."""

    pin: str  # auth | sign | card_info | juki
    outcome: str  # changed | not_changed | unknown | not_attempted
    outcome_key: str  # "pin_service.outcome.*"
    reason_key: str | None = None  # "pin_service.reason.*": why not (or "not_confirmed" after a change)
    reason_args: dict = field(default_factory=dict)
    confirmed: bool = False  # changed, and the counter read again afterwards was full


@dataclass(frozen=True, slots=True)
class ResetAdvice:
    """Where a locked (or last-try) PIN can be reset — never at this kiosk — and what to bring."""

    pin: str
    where: str  # convenience_store | counter
    guide_key: str  # "pin_service.reset.*"
    guide_args: dict = field(default_factory=dict)
    bring: tuple[tuple[str, dict], ...] = ()  # ("pin_service.bring.*", args), in the order to show or print


@dataclass(frozen=True, slots=True)
class PinServicesView:
    """The PIN services: no PIN value is ever here, only counts, names and message keys."""

    pins: tuple[PinTries, ...] = ()  # auth, sign, card_info, juki: remaining, maximum, blocked, not_set, usable
    changeable: tuple[str, ...] = ()  # the PINs that may be changed here now (EditField(field=pin))
    common_offered: bool = False  # EditField(field="common"): one new 4-digit PIN for auth, card_info, juki
    target: str | None = None  # PIN_CHANGE / PIN_CHANGE_RESULT: the PIN being changed, or "common"
    entering: str | None = None  # PIN_CHANGE: "current" | "new" (InputView.stage says first or confirmation)
    entering_for: str | None = None  # PIN_CHANGE: whose current PIN is typed; the target for the new one
    step: int = 0  # PIN_CHANGE: this entry's number, 1-based …
    steps: int = 0  # … of this many (each current PIN, then the new PIN)
    headline: Notice | None = None  # PIN_CHANGE_RESULT: the first sentence
    results: tuple[PinChangeLine, ...] = ()  # PIN_CHANGE_RESULT: one line per PIN of the change
    resets: tuple[ResetAdvice, ...] = ()  # the slip: one entry per locked (or last-try) PIN
    card_removed: bool = False  # the card left during the change (the result says what is known)
    expiries: tuple[ExpiryLine, ...] = ()  # the auth certificate's last day and renewal (as on the result)
