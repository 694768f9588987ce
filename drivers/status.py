"""Status words → typed errors: the one place where SW values get a meaning."""

from __future__ import annotations

from drivers import errors
from drivers.apdu import ResponseApdu

SW_OK = 0x9000

# The one table from status word to error; 63 Cx (wrong PIN, x tries left) is a family, handled below.
STATUS_ERRORS: dict[int, type[errors.StatusWordError]] = {
    0x6700: errors.WrongLength,
    0x6982: errors.SecurityStatusNotSatisfied,
    # 69 84 is what the card answers for a blocked PIN; 69 83 is claimed by some tools (UNCONFIRMED,
    # card-protocol.md §3), so both mean "blocked" here.
    0x6983: errors.AuthenticationBlocked,
    0x6984: errors.AuthenticationBlocked,
    0x6985: errors.ConditionsNotSatisfied,
    0x6986: errors.CommandNotAllowed,
    0x6A80: errors.IncorrectData,
    0x6A82: errors.FileNotFound,
    0x6A86: errors.IncorrectParameters,
    0x6A88: errors.ReferenceNotFound,
    0x6B00: errors.OffsetOutOfRange,
    0x6D00: errors.InsNotSupported,
    0x6E00: errors.ClaNotSupported,
}


def error_for(sw: int) -> errors.StatusWordError:
    """The typed error for a non-success status word."""
    if sw & 0xFFF0 == 0x63C0:
        return errors.WrongPin(sw, sw & 0x0F)
    cls = STATUS_ERRORS.get(sw)
    if cls is None:
        return errors.UnexpectedStatus(sw)
    return cls(sw)


def check(response: ResponseApdu) -> ResponseApdu:
    """Return the response if it is 90 00, raise its typed error otherwise."""
    if response.sw != SW_OK:
        raise error_for(response.sw)
    return response


def retries_from(sw: int) -> int | None:
    """Tries left encoded in a ``63 Cx`` answer, None for any other status word."""
    return sw & 0x0F if sw & 0xFFF0 == 0x63C0 else None
