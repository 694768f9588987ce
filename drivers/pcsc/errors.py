"""Translate PC/SC failures into the typed errors of ``drivers.errors``, by hresult.

Why by hresult and never by message text: pyscard builds its messages from ``SCardGetErrorMessage``, whose
wording differs between pcsc-lite versions, Windows and macOS, and pyscard itself picks different exception
classes for the same event depending on *when* it happens (a removed card is a ``NoCardException`` in
``connect()`` but a ``CardConnectionException`` in ``transmit()``). The hresult is the one stable fact.

The messages are written for the person who gets the phone call — a city IT operator at the counter — so
each says what is wrong, what to check, and ends with the PC/SC code for the support ticket. They never
contain APDU data.
"""

from __future__ import annotations

from typing import cast

from smartcard import Exceptions as sc_exc
from smartcard import scard
from smartcard.pcsc import PCSCExceptions as pcsc_exc

from drivers import errors

_START_PCSCD = (
    "start it (`systemctl start pcscd.socket` on systemd systems, `pcscd` as root otherwise, or "
    "`kiosk doctor` to check the setup)"
)

# hresult -> (error class, what happened, what to do). One table so that the wording lives in one place.
_TABLE: dict[int, tuple[type[errors.TransportError], str, str]] = {
    scard.SCARD_E_NO_SERVICE: (
        errors.ServiceUnavailable,
        "the PC/SC service (pcscd) is not running",
        _START_PCSCD,
    ),
    scard.SCARD_E_SERVICE_STOPPED: (
        errors.ServiceUnavailable,
        "the PC/SC service (pcscd) has stopped",
        _START_PCSCD,
    ),
    scard.SCARD_F_COMM_ERROR: (
        # pcsc-lite's client library returns this when the daemon's socket closes under a pending call:
        # in practice pcscd was stopped or restarted.
        errors.ServiceUnavailable,
        "the connection to the PC/SC service (pcscd) was lost; it was probably stopped or restarted",
        "check that pcscd is running again; the kiosk reconnects by itself",
    ),
    scard.SCARD_E_NO_READERS_AVAILABLE: (
        errors.NoReader,
        "no card reader is connected",
        "plug the reader in (try another USB port) and check that its driver is installed",
    ),
    scard.SCARD_E_UNKNOWN_READER: (
        errors.NoReader,
        "the card reader is not known to the PC/SC service (unplugged or renamed)",
        "check the reader's USB cable and the reader name in the kiosk configuration",
    ),
    scard.SCARD_E_READER_UNAVAILABLE: (
        errors.NoReader,
        "the card reader is not available",
        "unplug the reader, wait five seconds and plug it back in",
    ),
    scard.SCARD_E_NO_SMARTCARD: (
        errors.NoCard,
        "there is no card in the reader",
        "insert the card (chip side as shown on the reader)",
    ),
    scard.SCARD_W_REMOVED_CARD: (
        errors.CardRemoved,
        "the card was removed",
        "insert the card again and keep it in place until the kiosk says it is done",
    ),
    scard.SCARD_W_RESET_CARD: (
        errors.CardRemoved,
        "the card was reset by another program or by the reader",
        "insert the card again; if it keeps happening, close other programs that use the reader",
    ),
    scard.SCARD_W_UNPOWERED_CARD: (
        errors.CardRemoved,
        "the card lost power (it was probably just removed or re-inserted)",
        "insert the card again and keep it in place",
    ),
    scard.SCARD_E_NOT_TRANSACTED: (
        errors.CardRemoved,
        "the command did not reach the card (the card was probably removed)",
        "insert the card again and keep it in place until the kiosk says it is done",
    ),
    scard.SCARD_E_TIMEOUT: (
        errors.ReaderTimeout,
        "the reader or the card did not answer in time",
        "remove the card and insert it again; if it keeps happening, replug the reader",
    ),
    scard.SCARD_W_UNRESPONSIVE_CARD: (
        errors.ReaderError,
        "the card does not answer (it may be inserted the wrong way round or damaged)",
        "check the card's orientation; try another card to rule out the reader",
    ),
    scard.SCARD_W_UNSUPPORTED_CARD: (
        errors.ReaderError,
        "the reader cannot talk to this card (unsupported ATR or protocol)",
        "check that this is a My Number card",
    ),
    scard.SCARD_E_PROTO_MISMATCH: (
        errors.ReaderError,
        "the card does not support the requested transmission protocol (T=0/T=1)",
        "check that this is a My Number card",
    ),
    scard.SCARD_E_SHARING_VIOLATION: (
        errors.ReaderError,
        "another program holds the card exclusively",
        "close other smart-card programs (for example a JPKI client or a browser plug-in)",
    ),
    scard.SCARD_E_CANCELLED: (
        errors.ReaderError,
        "the PC/SC call was cancelled",
        "retry; this happens when the kiosk is shutting down",
    ),
    scard.SCARD_E_INVALID_HANDLE: (
        errors.ReaderError,
        "the connection handle is no longer valid (pcscd may have been restarted)",
        "retry; the kiosk opens a new connection",
    ),
}


def hresult_of(exc: BaseException | int) -> int | None:
    """The PC/SC return code carried by ``exc`` (unsigned 32-bit), or None when there is none.

    pyscard stores -1 for "no code"; some builds hand back negative values (0x8010001D as -0x7FEFFFE3).
    """
    raw = exc if isinstance(exc, int) else getattr(exc, "hresult", None)
    if not isinstance(raw, int) or raw == -1:
        return None
    return raw & 0xFFFFFFFF


def _message(context: str, what: str, todo: str, code: int | None) -> str:
    suffix = f" (PC/SC 0x{code:08X})" if code is not None else ""
    return f"{context}: {what} — {todo}{suffix}"


def _build(
    cls: type[errors.TransportError], context: str, what: str, todo: str, code: int | None
) -> errors.TransportError:
    err = cls(_message(context, what, todo, code))
    err.hresult = code  # type: ignore[attr-defined]  # kept for diagnostics (kiosk doctor, logs)
    return err


def classify(exc: BaseException | int, *, context: str) -> errors.TransportError:
    """Map a pyscard exception, a raw ``smartcard.scard`` return code or any exception to a typed error.

    ``context`` says what we were doing ("connecting to 'Reader X'"); it starts the message. Use as
    ``raise classify(exc, context=...) from exc`` so that the original stays attached for debugging.
    """
    if isinstance(exc, errors.TransportError):
        return exc
    code = hresult_of(exc)
    if code is not None and code in _TABLE:
        cls, what, todo = _TABLE[code]
        # pyscard raises NoCardException for SCARD_W_REMOVED_CARD in connect(): no card was there to lose.
        if isinstance(exc, sc_exc.NoCardException):
            cls, what, todo = _TABLE[scard.SCARD_E_NO_SMARTCARD]
        return _build(cls, context, what, todo, code)
    if isinstance(exc, sc_exc.NoCardException):
        return _build(errors.NoCard, context, *_TABLE[scard.SCARD_E_NO_SMARTCARD][1:], code)
    if isinstance(exc, sc_exc.NoReadersException | sc_exc.InvalidReaderException):
        return _build(errors.NoReader, context, *_TABLE[scard.SCARD_E_NO_READERS_AVAILABLE][1:], code)
    if isinstance(exc, sc_exc.CardRequestTimeoutException):
        return _build(errors.ReaderTimeout, context, *_TABLE[scard.SCARD_E_TIMEOUT][1:], code)
    if code is not None:
        if code == scard.SCARD_S_SUCCESS:
            what = "the PC/SC call succeeded but its result was unusable"
        else:
            what = f"the PC/SC service reported an unexpected error ({_describe(code)})"
        return _build(
            errors.ReaderError,
            context,
            what,
            "replug the reader; if it persists, restart pcscd and report the code",
            code,
        )
    if isinstance(exc, sc_exc.SmartcardException | pcsc_exc.BaseSCardException):
        kind = "PC/SC"
    else:
        kind = "unexpected"
    return _build(
        errors.ReaderError,
        context,
        f"{kind} failure without an error code ({type(exc).__name__})",
        "replug the reader; if it persists, restart pcscd and report this message",
        None,
    )


def service_restarted(exc: BaseException | int, *, context: str) -> errors.ServiceUnavailable:
    """For a connection made before pcscd restarted: the service is back, but this handle died with it.

    libpcsclite keeps answering SCARD_E_NO_SERVICE on such a handle even when the new pcscd is running,
    so the plain "pcscd is not running" wording would send the operator looking for a problem that is
    already gone.
    """
    error = _build(
        errors.ServiceUnavailable,
        context,
        "the PC/SC service (pcscd) was restarted while the card was in use, which ended this connection",
        "connect to the card again (the kiosk does this by itself)",
        hresult_of(exc),
    )
    return cast(errors.ServiceUnavailable, error)


# What a handle from before a pcscd restart answers (checked against service availability by the caller).
SERVICE_GONE_CODES = frozenset(
    {
        scard.SCARD_E_NO_SERVICE,
        scard.SCARD_E_SERVICE_STOPPED,
        scard.SCARD_F_COMM_ERROR,
        scard.SCARD_E_INVALID_HANDLE,
    }
)


def _describe(code: int) -> str:
    """pcsc-lite's own short text for a code, when it has one (for the log line, not for matching)."""
    try:
        text = scard.SCardGetErrorMessage(code)
    except Exception:  # the text is a nicety; never let it mask the real error
        return "unknown code"
    return str(text).strip().rstrip(".") or "unknown code"
