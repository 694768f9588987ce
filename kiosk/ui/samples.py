"""Hand-made view states, one per screen, for the tour and the UI tests (synthetic data only).

They exercise the longest texts a screen has to hold (an error on the PIN pad, every check on the result,
the counter reason with a PIN name) so that the tour screenshots show clipping if there is any.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache

from kiosk.core import messages as m
from kiosk.core.expiry_guidance import AUTH_CERTIFICATE, CARD, ExpiryLine
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
        expiries=(ExpiryLine(AUTH_CERTIFICATE, "2030-05-31", "renewal_open", "2030-02-28"),
                  *((ExpiryLine(CARD, "2035-05-31", "valid", "2035-02-28"),) if details else ())),
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
        expiries=(ExpiryLine(AUTH_CERTIFICATE, "2030-05-31", "valid", "2030-02-28"),),
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
    elif screen in CLERK_SCREENS:
        base = _clerk_sample(base, screen)
    elif screen in PIN_SERVICE_SCREENS:
        base = _pin_services_sample(replace(base, reader=ReaderState.CARD_PRESENT), screen)
    else:
        base = _application_sample(base, screen)
    return replace(base, **changes) if changes else base


SAMPLE_APPLICATION_ID = "98760000000000000000042"  # synthetic
SAMPLE_EMAIL = "mihon.hanako@example.invalid"  # synthetic


@cache
def sample_photo() -> bytes:
    """A JPEG of a drawn demo resident (``kiosk.defaults.camera``: no real person) for the review screens."""
    import io

    from PIL import Image

    from kiosk.defaults.camera import Head, picture

    out = io.BytesIO()
    Image.fromarray(picture(700, 900, (Head(x=350, y=40 + 340, height=680),))).save(out, "JPEG", quality=85)
    return out.getvalue()


CLERK_SCREENS = frozenset({Screen.CLERK_SIGN_IN, Screen.CLERK_HOME, Screen.PICKUP_APPLICATION, Screen.PICKUP_CHECKS,
                           Screen.PIN_SETUP, Screen.PICKUP_COMPARE, Screen.PICKUP_FINISH, Screen.SUPERVISOR,
                           Screen.PICKUP_DONE, Screen.PICKUP_STOPPED})
SAMPLE_HOLDER = "見本 交付子"  # synthetic


@cache
def sample_card_face() -> bytes:
    """The card's face photo as the driver hands it over (PNG), of the same drawn demo resident."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(sample_photo())).resize((300, 400)).save(out, "PNG")
    return out.getvalue()


def _clerk_sample(base: ViewState, screen: Screen) -> ViewState:
    """The counter's screens, signed in as a synthetic clerk, with every check in a different state."""
    from kiosk.core.flows.pickup.machine import CHECKS, COLLECTED, OVERRIDE_REASONS, REASON_KEYS
    from kiosk.core.input import NEW_PIN4, PICKUP_LOOKUP, STAFF_ID, STAFF_PASSWORD
    from kiosk.core.view import ClerkView, PickupCheck, PickupView, StaffCallLine

    clerk = ClerkView(username="mihon-clerk", role="clerk")
    states = ("passed", "passed", "failed", "not_checked", "passed")
    checks = tuple(PickupCheck(name, status, REASON_KEYS[name].get(status)) for name, status in
                   zip(CHECKS, states, strict=True))
    pickup = PickupView(application_id_masked="**** **** **** **** **** 042", notice_number="KF-2026-000042",
                        holder_name=SAMPLE_HOLDER, birth_date="1990-06-15", application_photo=sample_photo(),
                        card_face_png=sample_card_face(), checks=checks, needs_override=("basic4_match",
                                                                                          "face_visual"),
                        pins_to_set=("sign", "auth", "juki", "card_info"), pins_set=("sign", "auth"),
                        pins_unset=("juki", "card_info"), collected=tuple((item, item == "notification_card")
                                                                           for item in COLLECTED))
    if screen in (Screen.CLERK_SIGN_IN, Screen.SUPERVISOR):
        user, secret = InputBuffer(STAFF_ID), InputBuffer(STAFF_PASSWORD)
        for char in "mihon-clerk":
            user.add(char)
        form = ClerkView(editing="password", username_entry="mihon-clerk", password_entered=12)
        if screen is Screen.CLERK_SIGN_IN:
            return replace(base, clerk=form, pin=secret.view(), message_key="clerk.sign_in_refused")
        return replace(base, clerk=form, pin=secret.view(), message_key="pickup.override_refused",
                       pickup=replace(pickup, override_reasons=OVERRIDE_REASONS, override_reason=OVERRIDE_REASONS[1]))
    if screen is Screen.CLERK_HOME:
        entry = InputBuffer(PICKUP_LOOKUP)
        for char in "KF-2026-0000":
            entry.add(char)
        calls = (StaffCallLine("c-1", "kiosk-02", 95, "open"), StaffCallLine("c-2", "kiosk-05", 20, "acknowledged"))
        return replace(base, clerk=replace(clerk, staff_calls=calls), pin=entry.view(),
                       pickup=PickupView(lookup="KF-2026-0000"), message_key="pickup.not_found")
    if screen is Screen.PIN_SETUP:
        entry = InputBuffer(NEW_PIN4)
        for char in "12":
            entry.add(char)
        return replace(base, clerk=clerk, pin=entry.view(error=("input.mismatch", {})),
                       pickup=PickupView(pins_to_set=pickup.pins_to_set, pin_target="auth", pins_set=("sign",)))
    if screen is Screen.PICKUP_APPLICATION:
        return replace(base, clerk=clerk, pickup=replace(pickup, under_15=True))
    if screen is Screen.PICKUP_CHECKS:
        return replace(base, clerk=clerk, pickup=pickup, message_key="pickup.card_not_new")
    if screen is Screen.PICKUP_COMPARE:
        return replace(base, clerk=clerk, pickup=pickup, message_key="clerk.server_unreachable")
    if screen is Screen.PICKUP_FINISH:
        return replace(base, clerk=clerk, pickup=pickup, message_key="pickup.override_needed")
    if screen is Screen.PICKUP_DONE:
        return replace(base, clerk=clerk, pickup=replace(pickup, handover="queued"))
    return replace(base, clerk=clerk, pickup=pickup, message_key="pickup.card_pulled")


PIN_SERVICE_SCREENS = frozenset({Screen.PIN_SERVICES, Screen.PIN_CHANGE, Screen.PIN_CHANGE_RESULT,
                                 Screen.PIN_RESET_GUIDE})


def _pin_services_sample(base: ViewState, screen: Screen) -> ViewState:
    """The PIN services with the longest texts they hold: a locked PIN, a sign PIN on its keyboard, a change
    that ended with one PIN unknown, and the slip for two locked PINs."""
    from kiosk.core import pin_service_keys as k
    from kiosk.core.input import NEW_SIGN_PIN
    from kiosk.core.view import PinChangeLine, PinServicesView, ResetAdvice

    tries = (PinTries("auth", 3, 3, blocked=False, not_set=False, usable=2),
             PinTries("sign", 0, 5, blocked=True, not_set=False, usable=0),
             PinTries("card_info", 2, 3, blocked=False, not_set=False, usable=1),
             PinTries("juki", 0, 3, blocked=True, not_set=False, usable=0))
    resets = (ResetAdvice("sign", "convenience_store", k.RESET_STORE_SIGN, {"other": "auth"},
                          ((k.BRING_CARD, {}), (k.BRING_APP, {}), (k.BRING_OTHER_PIN, {"other": "auth"}))),
              ResetAdvice("juki", "counter", k.RESET_COUNTER, {"pin": "juki"},
                          ((k.BRING_CARD, {}), (k.BRING_ID, {}), (k.BRING_REPRESENTATIVE, {}), (k.BRING_PROXY, {}))))
    services = PinServicesView(pins=tries, changeable=("auth", "card_info"), common_offered=True, resets=resets,
                               expiries=(ExpiryLine(AUTH_CERTIFICATE, "2031-03-31", "expired", "2030-12-31"),))
    if screen is Screen.PIN_CHANGE:
        entry = InputBuffer(NEW_SIGN_PIN)
        for char in "AB12":
            entry.add(char)
        return replace(base, message_key=k.ENTER_NEW, message_args={"pin": "sign"},
                       pin=entry.view(error=("input.mismatch", {}), note=(k.RULE_SIGN, {})),
                       pin_services=replace(services, target="sign", entering="new", entering_for="sign",
                                            step=2, steps=2))
    if screen is Screen.PIN_CHANGE_RESULT:
        results = (PinChangeLine("auth", "changed", k.OUTCOME_CHANGED, confirmed=True),
                   PinChangeLine("card_info", "unknown", k.OUTCOME_UNKNOWN, k.REASON_CARD_REMOVED),
                   PinChangeLine("juki", "not_attempted", k.OUTCOME_NOT_ATTEMPTED, k.REASON_CARD_REMOVED))
        return replace(base, pin_services=replace(services, target="common", results=results, card_removed=True,
                                                  headline=Notice(k.RESULT_UNKNOWN, tone="bad")))
    return replace(base, pin_services=services)


def _application_sample(base: ViewState, screen: Screen) -> ViewState:
    """The application's screens with synthetic values (the longest texts they have to hold)."""
    from kiosk.core import application_keys as k
    from kiosk.core.input import APPLICATION_ID, BRAILLE_NAME
    from kiosk.core.view import ApplicationView, IdEntryView, PhotoView, ReceiptView, RenewalView, StatusView

    if screen is Screen.ID_SCAN:
        return replace(base, id_entry=IdEntryView("application", error_key=k.ID_NOT_AN_ID))
    if screen is Screen.ID_KEYPAD:
        entry = InputBuffer(APPLICATION_ID)
        for digit in SAMPLE_APPLICATION_ID[:20]:
            entry.add(digit)
        return replace(base, id_entry=IdEntryView("application"),
                       pin=entry.view(error=(k.ID_WRONG_LENGTH, {"count": 20})))
    if screen is Screen.ID_CONFIRM:
        return replace(base, id_entry=IdEntryView("application", SAMPLE_APPLICATION_ID, from_qr=True))
    if screen is Screen.PHOTO:
        return replace(base, photo=PhotoView(live=True, face=(0.35, 0.2, 0.3, 0.4), guidance=("photo.fix.centred",)))
    if screen is Screen.PHOTO_REVIEW:
        return replace(base, message_key=k.PHOTO_FAILED,
                       photo=PhotoView(problems=("photo.fix.dark", "photo.fix.background"), jpeg=sample_photo()))
    if screen is Screen.DETAILS:
        return replace(base, application=ApplicationView(email=SAMPLE_EMAIL, under_15=False, braille="ミホンハナコ"))
    if screen is Screen.TEXT_ENTRY:
        entry = InputBuffer(BRAILLE_NAME)
        for char in "ミホンハナコ":
            entry.add(char)
        return replace(base, application=ApplicationView(editing="braille"), pin=entry.view())
    if screen is Screen.REVIEW:
        return replace(base, application=ApplicationView(application_id=SAMPLE_APPLICATION_ID, email=SAMPLE_EMAIL,
                                                         braille="ミホンハナコ", consent=True,
                                                         photo_jpeg=sample_photo()))
    if screen is Screen.WORKING:
        return replace(base, busy=True, message_key=k.WORKING_SAVING)
    if screen is Screen.RECEIPT:
        return replace(base, receipt=ReceiptView("000042", "**** **** **** **** **** 042", "queued", printable=True,
                                                 printing="failed"))
    if screen is Screen.STATUS_RESULT:
        return replace(base, status=StatusView("**** **** **** **** **** 042", k.STATUS_KEYS["in_production"]))
    if screen is Screen.RENEWAL_CHECK:
        return replace(base, renewal=RenewalView("eligible", "2027-01-31"))
    return base
