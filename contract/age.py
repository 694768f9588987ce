"""A resident's age on a Japanese calendar day: who counts as "under 15" at the counter.

Why shared: a child under 15 gets no signing certificate and so sets no sign PIN (workflows-and-peers.md
C.1/C.3). The server tells the clerk's kiosk from the pickup's birth date; the kiosk may tell from the
card's. Both must draw the line on the same day.

The day is the calendar day in Japan (JST, UTC+9, no daylight saving): the counter is in Japan, and a
server clock in UTC would move a birthday by nine hours. By the Japanese rule (年齢計算ニ関スル法律 with
民法 143), a year of age is completed at the end of the day before the birthday, so on the birthday itself
the resident is a year older — the ordinary count. A resident born on 29 February completes a year at the
end of 28 February in other years, so is older from 1 March: also the ordinary count (``(month, day)``
comparison). Whether a city counts the age on the day of pickup or on the day the card was applied for is
UNCONFIRMED; the day of pickup is used, since that is when the PINs are set.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

JST = timezone(timedelta(hours=9), "JST")
SIGN_PIN_MIN_AGE = 15


def japan_day(moment: datetime) -> date:
    """The calendar day in Japan at ``moment`` (an aware datetime)."""
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no day in Japan")
    return moment.astimezone(JST).date()


def age_on(birth_date: date, day: date) -> int:
    """Completed years of age on ``day`` (negative never: a birth after ``day`` is an error)."""
    if birth_date > day:
        raise ValueError("the birth date is after the day")
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def is_under_15(birth_date: date, day: date) -> bool:
    """True when the resident has not yet completed 15 years on ``day`` (no sign PIN then)."""
    return age_on(birth_date, day) < SIGN_PIN_MIN_AGE
