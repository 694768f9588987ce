"""The validity lines after a card read: which state, and from which day renewal is possible."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from drivers.mynumber.certificates import JST, ValidityReport
from kiosk.core.expiry_guidance import AUTH_CERTIFICATE, card_line, certificate_line


@pytest.mark.parametrize(("today", "state"), [
    (date(2030, 2, 27), "valid"),
    (date(2030, 2, 28), "renewal_open"),  # the first day of the three-month window
    (date(2030, 5, 31), "renewal_open"),  # the last valid day
    (date(2030, 6, 1), "expired"),
])
def test_card_line_states_at_the_window_edges(today: date, state: str) -> None:
    line = card_line(date(2030, 5, 31), today, renewal_months=3)
    assert (line.state, line.renewal_from, line.expires) == (state, "2030-02-28", "2030-05-31")


def test_certificate_line_follows_the_verifiers_report_on_the_jst_calendar() -> None:
    # 15:00 UTC on 31 May is already 1 June in Japan: the day a resident reads is the JST one
    not_after = datetime(2030, 5, 31, 15, 0, tzinfo=UTC)
    opened = ValidityReport("valid", 20, True, datetime(2030, 2, 28, 15, 0, tzinfo=UTC))
    line = certificate_line(AUTH_CERTIFICATE, not_after, opened)
    assert (line.expires, line.state, line.renewal_from) == ("2030-06-01", "renewal_open", "2030-03-01")
    expired = ValidityReport("expired", -3, False, datetime(2030, 2, 28, tzinfo=JST))
    assert certificate_line(AUTH_CERTIFICATE, not_after, expired).state == "expired"
    assert certificate_line(AUTH_CERTIFICATE, not_after, expired).state_key == "expiry.expired"
