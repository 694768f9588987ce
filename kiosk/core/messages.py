"""THE one mapping from domain facts (driver errors, verifier checks, PIN counters) to message keys.

Why one place: a resident must get the same words for the same situation on every screen and in every
flow, the i18n catalogs must be provably complete (``ALL_MESSAGE_KEYS`` is what the UI's completeness
test checks), and nobody should ever build a sentence from an exception's English ``str()`` — that text
is for operators and logs. Flows ask this module "what do I tell the resident?", and only this module
knows the answer.

Message arguments are small and impersonal (tries left, which PIN); personal values never travel as
message arguments — they appear only in ``ResultView.details``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from drivers import errors
from drivers.mynumber.basic4 import SEX_LABELS, SEX_UNKNOWN_LABEL, Basic4, mask_my_number
from drivers.mynumber.certificates import JST, ValidityReport
from drivers.mynumber.integrity import CheckResult
from drivers.mynumber.pinpolicy import PinPolicy
from drivers.mynumber.session import PinStatus
from drivers.mynumber.trust import REASON_UNKNOWN_CA_GENERATION, REASON_UNKNOWN_ISSUER, REASON_UNTRUSTED_ROOT
from drivers.mynumber.verifier import ALL_CHECKS, CARD_INFO_CHECKS
from kiosk.core.application_keys import ALL_KEYS as APPLICATION_KEYS
from kiosk.core.expiry_guidance import ALL_KEYS as EXPIRY_KEYS
from kiosk.core.input import INPUT_KEYS
from kiosk.core.pickup_keys import PICKUP_KEYS
from kiosk.core.pin_service_keys import PIN_SERVICE_KEYS
from kiosk.core.view import CheckLine, Notice, PinTries

# --- keys ------------------------------------------------------------------------------------------------

PIN_AUTH = "pin.auth"  # pad prompt: the 4-digit PIN of the user-authentication certificate
PIN_CARD_INFO = "pin.card_info"  # pad prompt: the 4-digit card-info PIN, asked only for "show details"
PIN_WRONG = "pin.wrong"  # {remaining}
PIN_FORMAT = "pin.format"  # fewer than 4 digits, or not digits: nothing was sent to the card
PIN_TIMEOUT = "pin.timeout"  # typed digits were cleared after a pause

COUNTER_LAST_TRY = "counter.last_try"  # {pin, remaining}: an unattended kiosk never spends the last try
COUNTER_BLOCKED = "counter.blocked"  # {pin}: only the counter can reset it
COUNTER_PIN_NOT_SET = "counter.pin_not_set"  # {pin}: the PIN was never set on this card

ERROR_NOT_MY_NUMBER = "error.not_my_number"
ERROR_CARD_REMOVED = "error.card_removed"
ERROR_READER = "error.reader"
ERROR_TIMEOUT = "error.timeout"
ERROR_CARD_GENERIC = "error.card_generic"

CARD_KEEP_STILL = "card.keep_still"  # busy screens: card I/O is running
PIN_TRIES_RULE = "pin.tries_rule"  # {usable}: said once, before the first try — the last try is the counter's

# The result's first sentence: what it means for the resident (Notice.tone ok / warn / bad).
RESULT_VALID = "result.verified"
RESULT_NOT_VERIFIED = "result.not_verified"  # something required could not be checked (e.g. offline)
RESULT_NOT_GENUINE = "result.headline.not_genuine"  # a check proving the card genuine failed
RESULT_TAMPERED = "result.headline.tampered"  # the card's data does not match its signature
RESULT_ISSUER_UNKNOWN = "result.headline.issuer_unknown"  # this kiosk lacks the CA: not "forged"
# a J-LIS CA generation this kiosk has no certificate of (e.g. 2019): not "forged"; staff update the anchors
RESULT_UNKNOWN_CA_GENERATION = "result.headline.unknown_ca_generation"
RESULT_EXPIRED = "result.headline.expired"
RESULT_REVOKED = "result.headline.revoked"
RESULT_HEADLINES = (RESULT_VALID, RESULT_NOT_VERIFIED, RESULT_NOT_GENUINE, RESULT_TAMPERED, RESULT_ISSUER_UNKNOWN,
                    RESULT_UNKNOWN_CA_GENERATION, RESULT_EXPIRED, RESULT_REVOKED)
NOTICE_PIN_BLOCKED = "notice.pin_blocked"  # {pin}: blocked; where it can be reset
NOTICE_SIGN_NOT_SET = "notice.sign_not_set"  # no signing certificate on this card
NOTICE_LAST_TRY = "notice.last_try"  # {pin}: one try left, kept for the counter
DETAILS_WITHHELD = "result.details_withheld"  # integrity failed: the card's data is not shown at all

TAKE_CARD = "take_card.title"  # the session is over, a card is still on the reader
OUT_OF_SERVICE = "attract.out_of_service"  # an operator disabled this kiosk: no task starts; call staff works

RENEWAL_SOON = "renewal.soon"  # inside the renewal window (3 months by default) before expiry
RENEWAL_EXPIRED = "renewal.expired"

DETAIL_NAME = "details.name"
DETAIL_ADDRESS = "details.address"
DETAIL_BIRTH_DATE = "details.birth_date"  # value: ISO date YYYY-MM-DD (the UI formats it, e.g. in 和暦)
DETAIL_SEX = "details.sex"  # value: one of SEX_KEYS (a message key, translate it)
DETAIL_MY_NUMBER = "details.my_number"  # value: always masked, "**** **** 9018"
DETAIL_LABELS = (DETAIL_NAME, DETAIL_ADDRESS, DETAIL_BIRTH_DATE, DETAIL_SEX, DETAIL_MY_NUMBER)

CHECK_STATUSES = ("passed", "failed", "not_checked")
OTHER_CHECK = "other"  # a check name this build does not know (a newer verifier): still said in words
SEX_KEYS = tuple(f"sex.{label}" for label in (*SEX_LABELS.values(), SEX_UNKNOWN_LABEL))


def check_key(name: str, status: str) -> str:
    """``check.<name>.<status>``; unknown names or statuses fall back to words that are still true."""
    known_status = status if status in CHECK_STATUSES else "not_checked"
    known_name = name if name in ALL_CHECKS else OTHER_CHECK
    return f"check.{known_name}.{known_status}"


CHECK_KEYS = tuple(check_key(name, status) for name in (*ALL_CHECKS, OTHER_CHECK) for status in CHECK_STATUSES)

ALL_MESSAGE_KEYS: frozenset[str] = frozenset({
    PIN_AUTH, PIN_CARD_INFO, PIN_WRONG, PIN_FORMAT, PIN_TIMEOUT,
    COUNTER_LAST_TRY, COUNTER_BLOCKED, COUNTER_PIN_NOT_SET,
    ERROR_NOT_MY_NUMBER, ERROR_CARD_REMOVED, ERROR_READER, ERROR_TIMEOUT, ERROR_CARD_GENERIC,
    CARD_KEEP_STILL, RENEWAL_SOON, RENEWAL_EXPIRED, PIN_TRIES_RULE,
    *RESULT_HEADLINES, NOTICE_PIN_BLOCKED, NOTICE_SIGN_NOT_SET, NOTICE_LAST_TRY, DETAILS_WITHHELD, TAKE_CARD,
    OUT_OF_SERVICE,
    *INPUT_KEYS, *APPLICATION_KEYS, *PICKUP_KEYS, *EXPIRY_KEYS, *PIN_SERVICE_KEYS,
    *DETAIL_LABELS, *SEX_KEYS, *CHECK_KEYS,
})


# --- errors -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """A key plus impersonal arguments (``{remaining}``, ``{pin}``), ready for ``ViewState``."""

    key: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", MappingProxyType(dict(self.args)))

    def args_dict(self) -> dict[str, Any]:
        return dict(self.args)


def message_for_error(error: BaseException) -> Message:
    """What to tell the resident about a failed card job. Order matters: subclasses before bases."""
    if isinstance(error, errors.WrongPin):
        return Message(PIN_WRONG, _with_pin({"remaining": error.remaining}, error.pin_name))
    if isinstance(error, errors.PinGuardRefused):
        return Message(COUNTER_LAST_TRY, {"pin": error.pin_name, "remaining": error.remaining})
    if isinstance(error, errors.PinBlocked):
        return Message(COUNTER_BLOCKED)
    if isinstance(error, errors.PinNotSet):
        # a new card's PIN awaits its first value: that is done at the counter (pickup), not here
        return Message(COUNTER_PIN_NOT_SET, {"pin": error.pin_name})
    if isinstance(error, errors.PinFormatInvalid):
        return Message(PIN_FORMAT, {"pin": error.pin_name})
    if isinstance(error, errors.NotAMyNumberCard):
        return Message(ERROR_NOT_MY_NUMBER)
    if isinstance(error, errors.CertificateRefused):
        return Message(RESULT_NOT_GENUINE)
    if isinstance(error, errors.CardRemoved | errors.NoCard):
        # NoCard at connect time means the card left between "inserted" and the first APDU.
        return Message(ERROR_CARD_REMOVED)
    if isinstance(error, errors.ReaderTimeout):
        return Message(ERROR_TIMEOUT)
    if isinstance(error, errors.ServiceUnavailable | errors.NoReader | errors.ReaderError):
        return Message(ERROR_READER)
    return Message(ERROR_CARD_GENERIC)  # any other CardError, and bugs: never the exception's text


def is_card_gone(error: BaseException) -> bool:
    """The failure means the card is no longer there (the session must end, not show an error)."""
    return isinstance(error, errors.CardRemoved | errors.NoCard)


def pin_refusal(status: PinStatus, policy: PinPolicy) -> Message | None:
    """None when the policy lets a try be spent now; otherwise why not, for the resident.

    The decision is the driver's ``PinPolicy`` (one place per decision); this only names it, so the
    flow can send the resident to the counter *before* they type a PIN that would be refused anyway.
    """
    if status.not_set:
        return Message(COUNTER_PIN_NOT_SET, {"pin": status.name})
    try:
        policy.check(status)
    except errors.PinBlocked:
        return Message(COUNTER_BLOCKED, {"pin": status.name})
    except errors.PinGuardRefused as exc:
        return Message(COUNTER_LAST_TRY, {"pin": status.name, "remaining": exc.remaining})
    return None


def _with_pin(args: dict[str, Any], pin_name: str | None) -> dict[str, Any]:
    if pin_name:
        args["pin"] = pin_name
    return args


# --- result screen ----------------------------------------------------------------------------------------


def check_lines(checks: Iterable[CheckResult]) -> tuple[CheckLine, ...]:
    return tuple(CheckLine(c.name, c.status, check_key(c.name, c.status)) for c in checks)


def renewal_key(report: ValidityReport | None) -> str | None:
    """Renewal advice: expired, or inside the window (the verifier's ``renewal_months``), else none."""
    if report is None:
        return None
    if report.status == "expired":
        return RENEWAL_EXPIRED
    if report.in_renewal_window:
        return RENEWAL_SOON
    return None


def expiry_date(not_after: datetime | None) -> str | None:
    """The certificate's last day as the resident knows it: a JST calendar date (JPKI dates are JST)."""
    return None if not_after is None else not_after.astimezone(JST).date().isoformat()


def pin_tries(statuses: Iterable[PinStatus], policy: PinPolicy) -> tuple[PinTries, ...]:
    return tuple(PinTries(s.name, s.remaining, s.maximum, s.blocked, s.not_set, policy.usable_tries(s))
                 for s in statuses)


_ISSUER_UNKNOWN_REASONS = frozenset({REASON_UNKNOWN_ISSUER, REASON_UNTRUSTED_ROOT})
_EXPIRED_REASONS = frozenset({"expired", "ca_expired"})


def result_headline(checks: Iterable[CheckResult], verified: bool) -> Notice:
    """The result's first sentence, by what the resident must do next — most serious first.

    A chain that fails because the trust store lacks the issuer (a CA generation this kiosk does not know)
    is "could not confirm the issuer", never "forged": the card may be perfectly genuine. A J-LIS-named
    issuer whose key the store lacks has its own words: staff can fix it by adding that CA's certificate.
    """
    by_name = {check.name: check for check in checks}
    failed = {name for name, check in by_name.items() if check.status == "failed"}
    chain = by_name.get("auth_chain")
    validity = by_name.get("auth_validity")
    if chain is not None and chain.status == "failed" and chain.reason == REASON_UNKNOWN_CA_GENERATION:
        return Notice(RESULT_UNKNOWN_CA_GENERATION, tone="warn")
    if chain is not None and chain.status == "failed" and chain.reason in _ISSUER_UNKNOWN_REASONS:
        return Notice(RESULT_ISSUER_UNKNOWN, tone="warn")
    if validity is not None and validity.status == "failed" and validity.reason in _EXPIRED_REASONS:
        return Notice(RESULT_EXPIRED, tone="bad")
    if chain is not None and chain.status == "failed" and chain.reason in _EXPIRED_REASONS:
        return Notice(RESULT_EXPIRED, tone="bad")
    if failed & {"auth_chain", "auth_validity", "auth_key_usage", "possession"}:
        return Notice(RESULT_NOT_GENUINE, tone="bad")
    if failed & {*CARD_INFO_CHECKS, "sign_consistency"}:
        return Notice(RESULT_TAMPERED, tone="bad")
    if "revocation" in failed:
        return Notice(RESULT_REVOKED, tone="bad")
    if verified:
        return Notice(RESULT_VALID, tone="ok")
    return Notice(RESULT_NOT_VERIFIED, tone="warn")


def pin_notices(statuses: Iterable[PinStatus], policy: PinPolicy) -> tuple[Notice, ...]:
    """A blocked PIN, a missing signing certificate, a PIN on its last try: each with its next step."""
    notices = []
    for status in statuses:
        if status.not_set and status.name == "sign":
            notices.append(Notice(NOTICE_SIGN_NOT_SET, tone="warn"))
        elif status.blocked:
            notices.append(Notice(NOTICE_PIN_BLOCKED, {"pin": status.name}, tone="bad"))
        elif not status.not_set and policy.usable_tries(status) == 0:
            notices.append(Notice(NOTICE_LAST_TRY, {"pin": status.name}, tone="warn"))
    return tuple(notices)


def sex_key(basic4: Basic4) -> str:
    return f"sex.{basic4.sex_label}"


def detail_lines(my_number: str | None, basic4: Basic4 | None) -> tuple[tuple[str, str], ...]:
    """(label key, value) pairs for the details panel; the My Number only ever masked."""
    lines: list[tuple[str, str]] = []
    if basic4 is not None:
        lines += [
            (DETAIL_NAME, basic4.name),
            (DETAIL_ADDRESS, basic4.address),
            (DETAIL_BIRTH_DATE, basic4.birth_date.isoformat()),
            (DETAIL_SEX, sex_key(basic4)),
        ]
    if my_number is not None:
        lines.append((DETAIL_MY_NUMBER, mask_my_number(my_number)))
    return tuple(lines)


__all__ = [
    "ALL_MESSAGE_KEYS",
    "CHECK_KEYS",
    "DETAIL_LABELS",
    "SEX_KEYS",
    "Message",
    "check_key",
    "check_lines",
    "detail_lines",
    "expiry_date",
    "is_card_gone",
    "message_for_error",
    "pin_notices",
    "pin_refusal",
    "pin_tries",
    "renewal_key",
    "result_headline",
]
