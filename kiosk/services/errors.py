"""Typed failures of the central server conversation, each with a message a clerk or operator can act on.

Why a hierarchy of our own: the flows and the outbox must decide "try again later" versus "this item can
never succeed" without knowing about ``requests`` or ``ssl``. ``requests``' exceptions stop at
``kiosk/services/central.py``; everything above sees only these::

    CentralError                      base; ``str()`` is a human sentence, ``code`` a short token
    ├── ServerUnreachable             no connection, or the connection broke (outcome unknown)
    ├── ServerTimeout                 connect or read timeout (``phase``); outcome unknown
    ├── TlsError                      certificate problem on either side (CA bundle, client cert/key)
    ├── ServerError(status)           5xx, 408, 429 or an unreadable answer: the server may do better later
    └── Rejected(status, code, msg)   4xx: the server understood and refused this request
        ├── Conflict                  409: clashes with something the server already has
        └── GrantRefused              401/403 for a handover: its grant is unknown, used or expired

Messages never contain request or response bodies: they may carry personal data. The server's own
``message`` is kept on ``Rejected`` for the screen, but the outbox stores only ``code``.
"""

from __future__ import annotations

import re

_CODE_SHAPE = re.compile(r"[A-Za-z][A-Za-z0-9_.\- ]{0,63}")
_CODE_SAFE = re.compile(r"[^a-z0-9_.-]+")


def safe_code(text: str, fallback: str) -> str:
    """A short machine token from server text: lower-case, ``[a-z0-9_.-]``, at most 48 characters.

    Why: error codes end up in the outbox (``last_error``) and in logs; squeezing them through this
    filter keeps free text (names in kana/kanji, e-mail addresses, long digit runs) out of both:
    anything that does not look like a code is replaced by ``fallback``.
    """
    if not _CODE_SHAPE.fullmatch(text.strip()) or re.search(r"\d{4,}", text):
        return fallback  # free text, an address, a run of digits (a person's number?): not a code
    return _CODE_SAFE.sub("_", text.strip().lower())[:48]


class CentralError(Exception):
    """Base of every central-server failure. ``retryable`` says whether trying again later can help."""

    code = "central_error"
    retryable = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ServerUnreachable(CentralError):
    """No connection to the server, or it broke before an answer arrived (the request may have landed)."""

    code = "unreachable"


class ServerTimeout(CentralError):
    """The server did not connect (``phase="connect"``) or answer (``phase="read"``) in time."""

    code = "timeout"

    def __init__(self, message: str, phase: str) -> None:
        super().__init__(message)
        self.phase = phase
        self.code = f"timeout_{phase}"


class TlsError(CentralError):
    """A certificate problem: the server is not trusted, or our client certificate/key is unusable/refused.

    Retryable because it is a property of the kiosk or server setup, never of one application: items wait
    until staff fix the certificates instead of being given up.
    """

    code = "tls"


class ServerError(CentralError):
    """The server failed or is overloaded (5xx, 408, 429, or an answer that is not the contract's JSON)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = f"http_{status}"


class Rejected(CentralError):
    """The server refused this request (4xx). Sending the same request again will not change that."""

    retryable = False

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.server_code = safe_code(code, f"http_{status}")
        self.code = self.server_code

    def __str__(self) -> str:
        return f"the central server refused the request (HTTP {self.status}, {self.server_code}): {self.message}"


class Conflict(Rejected):
    """409: the server already holds something that clashes (e.g. this application under another key)."""


GRANT_REASONS = frozenset({"grant_expired", "grant_used", "grant_refused"})


def is_kiosk_level(status: int, server_code: str) -> bool:
    """A 401/403 about the kiosk itself (``kiosk_certificate_required``, ``kiosk_certificate_untrusted``,
    ``kiosk_unknown``, ``kiosk_disabled``), not about the request: fixing the kiosk's setup makes the same
    request succeed, so an item refused this way waits instead of dying."""
    return status in (401, 403) and server_code.startswith("kiosk_")


class GrantRefused(Rejected):
    """The server refused a handover's grant (401/403): unknown, for another pickup or kiosk, used, expired.

    Why a type of its own: a handover waits in the outbox with the grant a clerk obtained at the counter;
    no retry can revive a refused one, so the item must go to staff (dead) with a reason they can act on,
    ``code`` — "grant_expired", "grant_used" or "grant_refused" — instead of being retried forever.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, code, message)
        if self.server_code in ("grant_expired", "grant_used"):
            self.code = self.server_code
        else:
            self.code = "grant_refused"
