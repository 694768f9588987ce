"""Typed failures of the central server conversation, each with a message a clerk or operator can act on.

Why a hierarchy of our own: the flows and the outbox must decide "try again later" versus "this item can
never succeed" without knowing about ``requests`` or ``ssl``. ``requests``' exceptions stop at
``kiosk/services/central.py``; everything above sees only these::

    CentralError                      base; ``str()`` is a human sentence, ``code`` a short token
    ├── ServerUnreachable             no connection, or the connection broke (outcome unknown)
    ├── ServerTimeout                 connect or read timeout (``phase``); outcome unknown
    ├── TlsError                      certificate problem on either side (CA bundle, client cert/key)
    ├── ServerError(status)           5xx, 408, 429 or an unreadable answer: the server may do better later
    │   ├── RateLimited               429: too many requests from this kiosk; ``retry_after`` seconds
    │   └── RenewalUnavailable        503 for a renewal: not configured, or revocation not checked (yet)
    └── Rejected(status, code, msg)   4xx: the server understood and refused this request
        ├── Conflict                  409: clashes with something the server already has (``receipt_id``:
        │                             the first application's receipt, for ``already_submitted``)
        │   └── AuditChainBroken      409: an audit batch does not continue the chain the server holds
        ├── GrantRefused              401/403 for a handover: its grant (or override) is unknown, used or expired
        └── RenewalRefused            4xx for a signed renewal: nonce, certificate, signature or payload refused

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
    """The server failed or is overloaded (5xx, 408, 429, or an answer that is not the contract's JSON).

    ``server_code`` is the answer's ``error`` code when it gave one (filtered by ``safe_code``), else "".
    """

    def __init__(self, status: int, message: str, *, server_code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = f"http_{status}"
        self.server_code = safe_code(server_code, "") if server_code else ""


class RateLimited(ServerError):
    """429: the server limits this kiosk (e.g. status lookups of unknown application ids). ``retry_after`` is
    the server's Retry-After in seconds (None when it gave none); the flow can say "try again in a minute"."""

    def __init__(self, status: int, message: str, retry_after: float | None) -> None:
        super().__init__(status, message)
        self.retry_after = retry_after


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


_RECEIPT_SHAPE = re.compile(r"[A-Za-z0-9-]{1,64}")


class Conflict(Rejected):
    """409: the server already holds something that clashes (e.g. this application under another key).

    ``receipt_id`` is the receipt of what the server already has (``already_submitted`` carries the first
    application's), kept only when it looks like a reference — never free text from the server.
    """

    def __init__(self, status: int, code: str, message: str, *, receipt_id: str | None = None) -> None:
        super().__init__(status, code, message)
        self.receipt_id = receipt_id if receipt_id is not None and _RECEIPT_SHAPE.fullmatch(receipt_id) else None


_HASH_SHAPE = re.compile(r"[0-9a-f]{64}")


class AuditChainBroken(Conflict):
    """409 ``audit_chain_broken``: the audit entries sent do not continue this kiosk's chain on the server.

    ``expected_seq`` and ``expected_prev_hash`` are what the server would take next (None when its answer
    did not carry a usable value): the audit log resends from there when its own chain agrees, and
    otherwise waits for staff — a trail that forks is never pushed through.
    """

    def __init__(self, status: int, code: str, message: str, *, expected_seq: object = None,
                 expected_prev_hash: object = None) -> None:
        super().__init__(status, code, message)
        usable = isinstance(expected_seq, int) and not isinstance(expected_seq, bool) and expected_seq >= 1
        self.expected_seq: int | None = expected_seq if usable else None  # type: ignore[assignment]
        self.expected_prev_hash = (expected_prev_hash if isinstance(expected_prev_hash, str)
                                   and _HASH_SHAPE.fullmatch(expected_prev_hash) else None)


GRANT_REASONS = frozenset({"grant_expired", "grant_used", "grant_refused"})
# A supervisor's override travels with the handover like the grant, and is refused the same ways; its codes
# are kept as they are, so staff see which of the two ran out.
OVERRIDE_REASONS = frozenset({"override_invalid", "override_used", "override_expired"})


def is_kiosk_level(status: int, server_code: str) -> bool:
    """A 401/403 about the kiosk itself (``kiosk_certificate_required``, ``kiosk_certificate_untrusted``,
    ``kiosk_unknown``, ``kiosk_disabled``), not about the request: fixing the kiosk's setup makes the same
    request succeed, so an item refused this way waits instead of dying."""
    return status in (401, 403) and server_code.startswith("kiosk_")


DISABLED = "kiosk_disabled"
# What a refusal about the kiosk itself means, for the operator reading the kiosk's log (the heartbeat says
# it once per stretch). The exception stays a ``Rejected`` with the server's code: callers decide by code.
_KIOSK_REFUSALS = {
    DISABLED: "the city's operator has taken this kiosk out of service (kiosk_disabled): the server refuses "
              "its requests, applications wait in the outbox, until an operator enables it again "
              "(kiosk server kiosk-enable)",
    "kiosk_unknown": "the central server does not know this kiosk's certificate (kiosk_unknown): an operator "
                     "registers it (kiosk server add-kiosk ID --cert PEM)",
    "kiosk_certificate_untrusted": "the central server does not accept this kiosk's certificate "
                                   "(kiosk_certificate_untrusted): it expired or another CA issued it; check "
                                   "server.client_cert",
}


def kiosk_refusal(exc: BaseException) -> str | None:
    """The sentence for a refusal about this kiosk itself (``is_kiosk_level``), None for any other error."""
    if not isinstance(exc, Rejected) or not is_kiosk_level(exc.status, exc.server_code):
        return None
    return _KIOSK_REFUSALS.get(exc.server_code, f"the central server refuses this kiosk ({exc.server_code})")


# A signed renewal (POST /v1/renewals) the server refused; sending it again cannot change the answer, because
# the nonce, the certificate and the signature are fixed once the card has signed. The resident must apply
# again (a new nonce, a new signature). ``not_in_renewal_window`` and ``certificate_*`` mean the card itself
# cannot be used for a renewal here; ``payload_invalid`` / ``photo_*`` / ``validation_error`` are kiosk bugs.
RENEWAL_REFUSALS = frozenset({
    "nonce_unknown",
    "nonce_expired",
    "nonce_used",
    "nonce_other_kiosk",
    "certificate_malformed",
    "certificate_untrusted",
    "certificate_expired",
    "certificate_not_yet_valid",
    "certificate_revoked",
    "certificate_not_for_auth",
    "signature_invalid",
    "payload_invalid",
    "not_in_renewal_window",
})
# 503 answers of the renewal routes: the city's side is not ready; the same request may succeed later.
RENEWAL_UNAVAILABLE = frozenset({"renewals_not_configured", "revocation_not_checked"})


class RenewalRefused(Rejected):
    """The server refused a renewal (any 4xx not about the kiosk's own certificate): never retried.

    ``code`` is the server's code (one of ``RENEWAL_REFUSALS``, a ``photo_*`` code, ``validation_error``,
    ``idempotency_key_reused``…), so the outbox's dead item and the staff screen say why.
    """


class RenewalUnavailable(ServerError):
    """503 for a renewal: ``renewals_not_configured`` (no JPKI auth CA on the server) or
    ``revocation_not_checked`` (no current CRL for the card's CA yet). Retryable; ``code`` says which."""

    def __init__(self, status: int, message: str, *, server_code: str) -> None:
        super().__init__(status, message, server_code=server_code)
        self.code = self.server_code or f"http_{status}"


class GrantRefused(Rejected):
    """The server refused a handover's grant or override (401/403): unknown, for another pickup or kiosk,
    used, expired.

    Why a type of its own: a handover waits in the outbox with the grant a clerk obtained at the counter
    (and, after a failed check, a supervisor's override); no retry can revive a refused one, so the item must
    go to staff (dead) with a reason they can act on, ``code`` — "grant_expired", "grant_used",
    "grant_refused", or one of ``OVERRIDE_REASONS`` — instead of being retried forever.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, code, message)
        if self.server_code in ("grant_expired", "grant_used") or self.server_code in OVERRIDE_REASONS:
            self.code = self.server_code
        else:
            self.code = "grant_refused"
