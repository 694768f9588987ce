"""Hand-made view states, one per screen, for the tour and the UI tests (synthetic data only).

They exercise the longest texts a screen has to hold (an error on the PIN pad, every check on the result,
the counter reason with a PIN name) so that the tour screenshots show clipping if there is any.
"""

from __future__ import annotations

from dataclasses import replace

from kiosk.core import messages as m
from kiosk.core.flows import TASKS
from kiosk.core.input import PIN4, InputBuffer
from kiosk.core.view import CheckLine, Notice, PinTries, ReaderState, ResultView, Screen, ViewState

SAMPLE_CHECKS: tuple[tuple[str, str], ...] = (
    ("auth_chain", "passed"),
    ("auth_validity", "passed"),
    ("auth_key_usage", "passed"),
    ("possession", "passed"),
    ("basic4_digest", "passed"),
    ("sign_consistency", "not_checked"),
    ("revocation", "passed"),
)

# Obviously synthetic (見本 = "sample"), never a real person.
SAMPLE_DETAILS: tuple[tuple[str, str], ...] = (
    (m.DETAIL_NAME, "見本 花子"),
    (m.DETAIL_ADDRESS, "東京都千代田区見本町一丁目2番3号"),
    (m.DETAIL_BIRTH_DATE, "1980-04-01"),
    (m.DETAIL_SEX, "sex.female"),
    (m.DETAIL_MY_NUMBER, "**** **** 9018"),
)


def sample_result(details: bool = False) -> ResultView:
    """A valid card inside its renewal window, with one PIN blocked: headline, a notice, every section."""
    return ResultView(
        verified=True,
        checks=tuple(CheckLine(name, status, m.check_key(name, status)) for name, status in SAMPLE_CHECKS),
        certificate_expiry="2030-05-31",
        days_to_expiry=62,
        renewal_key=m.RENEWAL_SOON,
        pins=(
            PinTries("auth", 3, 3, blocked=False, not_set=False, usable=2),
            PinTries("sign", 5, 5, blocked=False, not_set=False, usable=4),
            PinTries("card_info", 2, 3, blocked=False, not_set=False, usable=1),
            PinTries("juki", 0, 3, blocked=True, not_set=False, usable=0),
        ),
        details=SAMPLE_DETAILS if details else None,
        headline=Notice(m.RESULT_VALID, tone="ok"),
        notices=(Notice(m.NOTICE_PIN_BLOCKED, {"pin": "juki"}, tone="bad"),),
    )


def sample_failed_result() -> ResultView:
    """A card whose data failed its integrity check: the failure first, the data withheld."""
    checks = (("auth_chain", "passed"), ("auth_validity", "passed"), ("auth_key_usage", "passed"),
              ("possession", "passed"), ("basic4_digest", "failed"), ("revocation", "passed"))
    return ResultView(
        verified=False,
        checks=tuple(CheckLine(name, status, m.check_key(name, status)) for name, status in checks),
        certificate_expiry="2030-05-31", days_to_expiry=1500, renewal_key=None,
        pins=(PinTries("auth", 3, 3, blocked=False, not_set=False, usable=2),),
        headline=Notice(m.RESULT_TAMPERED, tone="bad"), details_withheld=True, details_offered=False,
    )


def _typed(count: int) -> InputBuffer:
    entry = InputBuffer(PIN4)
    for digit in "1234"[:count]:
        entry.add(digit)
    return entry


def sample_state(screen: Screen, language: str = "ja", **changes: object) -> ViewState:
    """A plausible state for ``screen``; ``changes`` override any ViewState field."""
    base = ViewState(screen=screen, language=language, reader=ReaderState.READY)
    if screen is Screen.ATTRACT:
        base = replace(base, tasks=TASKS)
    elif screen is Screen.TAKE_CARD:
        base = replace(base, reader=ReaderState.CARD_PRESENT, message_key=m.TAKE_CARD)
    elif screen is Screen.INSERT_CARD:
        base = replace(base, message_key=m.ERROR_CARD_REMOVED)
    elif screen in (Screen.READING, Screen.VERIFYING):
        base = replace(base, reader=ReaderState.CARD_PRESENT, busy=True, message_key=m.CARD_KEEP_STILL)
    elif screen is Screen.PIN_ENTRY:
        base = replace(
            base,
            reader=ReaderState.CARD_PRESENT,
            message_key=m.PIN_AUTH,
            pin=_typed(2).view(remaining_tries=2, note=(m.PIN_TRIES_RULE, {"usable": 2, "pin": "auth"})),
        )
    elif screen is Screen.RESULT:
        base = replace(base, reader=ReaderState.CARD_PRESENT, result=sample_result())
    elif screen is Screen.GO_TO_COUNTER:
        base = replace(base, reader=ReaderState.CARD_PRESENT, message_key=m.COUNTER_LAST_TRY,
                       message_args={"pin": "auth", "remaining": 1})
    elif screen is Screen.ERROR:
        base = replace(base, reader=ReaderState.NOT_MY_NUMBER, message_key=m.ERROR_NOT_MY_NUMBER)
    return replace(base, **changes) if changes else base
