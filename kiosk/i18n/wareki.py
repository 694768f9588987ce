"""和暦 (Japanese era) years for dates shown in Japanese: residents read 令和8年 on every city form.

Eras from the first day of each (Gregorian dates, as Japan has counted since 1873-01-01, 明治6年). The first
year of an era is written 元年 in Japanese; やさしい日本語 writes the era in kana with the number (no 元).
"""

from __future__ import annotations

from datetime import date

# (first day, kanji, kana)
ERAS: tuple[tuple[date, str, str], ...] = (
    (date(2019, 5, 1), "令和", "れいわ"),
    (date(1989, 1, 8), "平成", "へいせい"),
    (date(1926, 12, 25), "昭和", "しょうわ"),
    (date(1912, 7, 30), "大正", "たいしょう"),
    (date(1868, 1, 25), "明治", "めいじ"),
)
GREGORIAN_SINCE = date(1873, 1, 1)  # before this, Japan used the lunisolar calendar: no era date is given
JAPANESE_ERA_LANGUAGES = frozenset({"ja", "ja-easy"})


def era_year(day: date) -> tuple[str, str, int] | None:
    """(kanji name, kana name, year of the era) for ``day``; None before 1873."""
    if day < GREGORIAN_SINCE:
        return None
    for first, kanji, kana in ERAS:
        if day >= first:
            return kanji, kana, day.year - first.year + 1
    return None


def era_text(day: date, language: str) -> str | None:
    """"令和8年" (ja) / "れいわ8ねん" (ja-easy) for ``day``; None in other languages or before 1873."""
    found = era_year(day) if language in JAPANESE_ERA_LANGUAGES else None
    if found is None:
        return None
    kanji, kana, year = found
    if language == "ja":
        return f"{kanji}{'元' if year == 1 else year}年"
    return f"{kana}{year}ねん"
