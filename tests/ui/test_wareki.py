"""和暦 in Japanese dates: the era boundaries, 元年, and only the Japanese screens showing it."""

from __future__ import annotations

from datetime import date

import pytest

from kiosk.i18n.wareki import era_text, era_year
from kiosk.ui.text import UiTranslator, format_date

pytestmark = pytest.mark.ui


@pytest.mark.parametrize(("day", "expected"), [
    (date(2019, 4, 30), ("平成", "へいせい", 31)),
    (date(2019, 5, 1), ("令和", "れいわ", 1)),
    (date(2026, 12, 1), ("令和", "れいわ", 8)),
    (date(1989, 1, 7), ("昭和", "しょうわ", 64)),
    (date(1989, 1, 8), ("平成", "へいせい", 1)),
    (date(1926, 12, 25), ("昭和", "しょうわ", 1)),
    (date(1912, 7, 30), ("大正", "たいしょう", 1)),
    (date(1873, 1, 1), ("明治", "めいじ", 6)),
])
def test_era_boundaries(day: date, expected: tuple[str, str, int]) -> None:
    assert era_year(day) == expected


def test_no_era_date_before_the_gregorian_calendar() -> None:
    assert era_year(date(1872, 12, 31)) is None


def test_first_year_is_gannen_in_japanese_and_a_number_in_easy_japanese() -> None:
    assert era_text(date(2019, 5, 1), "ja") == "令和元年"
    assert era_text(date(2019, 5, 1), "ja-easy") == "れいわ1ねん"
    assert era_text(date(2019, 5, 1), "en") is None


def test_japanese_dates_carry_the_era_and_other_languages_do_not() -> None:
    assert format_date(UiTranslator("ja"), "2026-12-01") == "2026年12月1日（令和8年）"
    assert format_date(UiTranslator("ja-easy"), "2031-03-31") == "2031ねん 3がつ 31にち（れいわ13ねん）"
    assert format_date(UiTranslator("en"), "2026-12-01") == "2026/12/1"
    assert "令和" not in format_date(UiTranslator("vi"), "2026-12-01")
