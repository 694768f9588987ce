"""Age on a Japanese calendar day (contract/age.py): who is under 15, and on which day."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from contract.age import age_on, is_under_15, japan_day


def test_a_year_is_completed_on_the_birthday() -> None:
    born = date(2011, 12, 11)
    assert age_on(born, date(2026, 12, 10)) == 14
    assert age_on(born, date(2026, 12, 11)) == 15
    assert is_under_15(born, date(2026, 12, 10)) and not is_under_15(born, date(2026, 12, 11))


def test_born_on_29_february() -> None:
    born = date(2012, 2, 29)
    assert is_under_15(born, date(2027, 2, 28))
    assert not is_under_15(born, date(2027, 3, 1))
    assert not is_under_15(born, date(2028, 2, 29))
    assert age_on(born, date(2028, 2, 28)) == 15


def test_the_day_is_the_day_in_japan() -> None:
    assert japan_day(datetime(2026, 12, 10, 14, 59, tzinfo=UTC)) == date(2026, 12, 10)
    assert japan_day(datetime(2026, 12, 10, 15, 0, tzinfo=UTC)) == date(2026, 12, 11)
    with pytest.raises(ValueError):
        japan_day(datetime(2026, 12, 10, 15, 0))  # a naive time has no day in Japan


def test_a_birth_after_the_day_is_refused() -> None:
    with pytest.raises(ValueError):
        age_on(date(2027, 1, 1), date(2026, 12, 31))
