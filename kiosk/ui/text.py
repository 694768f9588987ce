"""Turning keys and flow values into the words on screen — the one place the UI formats anything.

Flow messages carry codes, not words: ``{pin}`` is ``"auth"``, a detail's sex is ``"sex.female"``, dates
are ISO. Translating those codes here (not in each kv rule, not in the flow) keeps every screen and the
spoken guidance saying the same thing. Kivy-free so the i18n tests can exercise it.
"""

from __future__ import annotations

from datetime import date

from kiosk.core.expiry_guidance import ExpiryLine
from kiosk.core.messages import DETAIL_BIRTH_DATE, DETAIL_SEX
from kiosk.core.view import ResultView
from kiosk.i18n import Translate, translator
from kiosk.i18n.wareki import era_text
from kiosk.ui.keys import GENERIC_PIN_KEY, PIN_NAME_KEYS


class UiTranslator:
    """``t(key, **args)`` like ``kiosk.i18n.translator``, plus: a ``pin`` code becomes the PIN's name."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._translate: Translate = translator(language)

    def __call__(self, key: str, **args: object) -> str:
        pin = args.get("pin")
        args["pin"] = self._translate(pin_name_key(pin) if pin else GENERIC_PIN_KEY)
        if args.get("other"):  # the other JPKI PIN, in the PIN reset guide
            args["other"] = self._translate(pin_name_key(args["other"]))
        return self._translate(key, **args)


# The three 4-digit PINs changed or set together (PIN services, the counter's PIN setup).
COMMON_PIN_KEY = "pickup.pins.common"


def pin_name_key(pin: object) -> str:
    """The catalog key naming a PIN ("auth", "sign", …; "common": the one 4-digit PIN for three)."""
    return COMMON_PIN_KEY if pin == "common" else PIN_NAME_KEYS.get(str(pin), GENERIC_PIN_KEY)


def format_date(t: UiTranslator, iso: str | None) -> str:
    """``date.full`` in the language's own order, and in Japanese its 和暦 year after it ("2026年12月1日
    （令和8年）"); text that is not an ISO date is shown as it is."""
    if not iso:
        return ""
    try:
        when = date.fromisoformat(iso)
    except ValueError:
        return iso
    text = t("date.full", year=when.year, month=when.month, day=when.day)
    era = era_text(when, t.language)
    return text + t("date.era", era=era) if era else text


def message(t: UiTranslator, key: str | None, args: dict | None = None) -> str:
    return t(key, **dict(args or {})) if key else ""


def result_args(t: UiTranslator, result: ResultView | None) -> dict[str, object]:
    """Arguments any result-screen message may use: the expiry date and the days left."""
    if result is None:
        return {}
    args: dict[str, object] = {"date": format_date(t, result.certificate_expiry)}
    if result.days_to_expiry is not None:
        args["days"] = result.days_to_expiry
    return args


def expiry_text(t: UiTranslator, line: ExpiryLine) -> str:
    """One validity line: what, until when, and from when renewal is possible (or what to do now)."""
    return t(line.state_key, item=as_label(t(line.item_key)), date=format_date(t, line.expires),
             opens=format_date(t, line.renewal_from))


def as_label(text: str) -> str:
    """A PIN name is a noun phrase inside sentences ("… your {pin} is locked"); standing alone as a list
    label it starts with a capital (no effect on scripts without case)."""
    return text[:1].upper() + text[1:]


def detail_value(t: UiTranslator, label_key: str, value: str) -> str:
    """Personal data for the details panel; only the sex code and the birth date need translating."""
    if label_key == DETAIL_SEX:
        return t(value)
    if label_key == DETAIL_BIRTH_DATE:
        return format_date(t, value)
    return value


def headline(t: UiTranslator, result: ResultView) -> str:
    """The result's first line: a mark and the sentence that says what it means for the resident."""
    from kiosk.ui.keys import SYMBOLS

    notice = result.headline
    if notice is None:
        key, tone, args = ("result.verified", "ok", {}) if result.verified else ("result.not_verified", "bad", {})
    else:
        key, tone, args = notice.key, notice.tone, dict(notice.args)
    mark = SYMBOLS["passed"] if tone == "ok" else SYMBOLS["warning"]
    return f"{mark} {t(key, **args)}"


def group_digits(value: str, size: int = 4) -> str:
    """``"1234 5678 9012 …"``: long numbers in groups, the way the form prints them."""
    return " ".join(value[i : i + size] for i in range(0, len(value), size))
