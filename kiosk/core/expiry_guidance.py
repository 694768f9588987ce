"""What a resident should know about expiry after any card read: the card's and each certificate's last day,
whether renewal is open (and from when), and that an expired one needs the counter.

Dates are JST calendar dates (the day printed on the card and in the certificate), as ISO text for the UI to
format (with 和暦 in Japanese). The card itself and the certificates share the renewal rule the verifier is
configured with (``[verification] renewal_months``, 3 by default): J-LIS opens both renewals three months
before the last day (UNCONFIRMED for the card: the card's own renewal notice is sent about then).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from drivers.mynumber.certificates import JST, ValidityReport, months_before

CARD = "card"
AUTH_CERTIFICATE = "auth_certificate"
SIGN_CERTIFICATE = "sign_certificate"

EXPIRY_TITLE = "expiry.title"
ITEM_KEYS = {CARD: "expiry.item.card", AUTH_CERTIFICATE: "expiry.item.auth", SIGN_CERTIFICATE: "expiry.item.sign"}
STATE_KEYS = {"valid": "expiry.valid", "renewal_open": "expiry.renewal_open", "expired": "expiry.expired",
              "not_yet_valid": "expiry.not_yet_valid"}
FOREIGN_RESIDENT_NOTE = "expiry.foreign_resident"
ALL_KEYS = frozenset({EXPIRY_TITLE, FOREIGN_RESIDENT_NOTE, *ITEM_KEYS.values(), *STATE_KEYS.values()})


@dataclass(frozen=True, slots=True)
class ExpiryLine:
    """One thing that expires. ``state``: valid | renewal_open | expired | not_yet_valid."""

    item: str
    expires: str  # ISO date, the last valid day (JST)
    state: str
    renewal_from: str  # ISO date, the first day renewal is possible (JST)

    @property
    def item_key(self) -> str:
        return ITEM_KEYS[self.item]

    @property
    def state_key(self) -> str:
        return STATE_KEYS[self.state]


def certificate_line(item: str, not_after: datetime, report: ValidityReport) -> ExpiryLine:
    """From the verifier's report (it applied the configured renewal window already)."""
    state = ("renewal_open" if report.in_renewal_window else "valid") if report.valid else report.status
    return ExpiryLine(item, _jst_day(not_after).isoformat(), state, _jst_day(report.renewal_from).isoformat())


def card_line(last_day: date, today: date, *, renewal_months: int) -> ExpiryLine:
    """The card's own expiry (card-face DF29), with the same renewal window counted in calendar months."""
    opens = months_before(datetime(last_day.year, last_day.month, last_day.day, tzinfo=JST), renewal_months)
    renewal_from = _jst_day(opens)
    if today > last_day:
        state = "expired"
    elif today >= renewal_from:
        state = "renewal_open"
    else:
        state = "valid"
    return ExpiryLine(CARD, last_day.isoformat(), state, renewal_from.isoformat())


def _jst_day(moment: datetime) -> date:
    return moment.astimezone(JST).date()


__all__ = ["ALL_KEYS", "AUTH_CERTIFICATE", "CARD", "EXPIRY_TITLE", "FOREIGN_RESIDENT_NOTE", "SIGN_CERTIFICATE",
           "ExpiryLine", "card_line", "certificate_line"]
