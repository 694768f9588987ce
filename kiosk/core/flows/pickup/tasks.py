"""The disk and network work of the counter (``kiosk.core.ports.Task``): clerk sign-in and sign-out, the
pickup lookup, the server's basic-4 match, a supervisor's override, the staff calls, the handover through
the outbox, and the audit trail.

Every clerk action leaves one audit entry (``services.audit``, a local hash chain the flusher ships to the
server), written by the task that did the action, after it, with its outcome — so the trail cannot say
"done" for something that failed. Entries carry the clerk's staff ID, the pickup id or the masked
application ID, check names and reason codes: never a name, a birth date, a number or a photo.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from drivers.mynumber.basic4 import Basic4
from drivers.mynumber.session import zero
from kiosk.core.ports import ServiceContext

LOG = logging.getLogger(__name__)


def audit(services: ServiceContext, *, actor: str, role: str, action: str, outcome: str,
          subject: str | None = None, details: Mapping[str, Any] | None = None) -> None:
    """Append one entry to the kiosk's audit chain (a kiosk without one logs that it has none)."""
    trail = getattr(services, "audit", None)
    if trail is None:
        LOG.warning("no audit trail configured: %s %s not recorded", action, outcome)
        return
    trail.append(actor=actor, role=role, action=action, outcome=outcome, subject=subject,
                 details=dict(details or {}))


def _outcome(error: BaseException) -> str:
    """``refused`` when the server said no (a 4xx), ``failed`` when it could not be asked."""
    status = getattr(error, "status", None)
    return "refused" if isinstance(status, int) and 400 <= status < 500 and status != 429 else "failed"


def _code(error: BaseException) -> str:
    """The error as a trail code: the server's or driver's code, else its type in snake case (no digits,
    no message text — a message could quote what the resident typed)."""
    code = getattr(error, "code", None)
    text = code if isinstance(code, str) and code else re.sub(r"(?<!^)(?=[A-Z])", "_", type(error).__name__)
    return re.sub(r"[^a-z_.-]", "", text.lower())[:64] or "error"


@dataclass(frozen=True, slots=True, repr=False)
class ClerkSignedIn:
    token: str = field(repr=False)
    username: str
    role: str
    seconds_left: float  # until the server's token expires


@dataclass(slots=True, repr=False)
class SignInClerk:
    """POST /v1/clerk/sessions with the staff ID and password typed at the counter."""

    username: str
    password: bytearray = field(repr=False)

    def run(self, services: ServiceContext) -> ClerkSignedIn:
        try:
            # The HTTP client needs a str; it lives only for this call.
            session = services.central().sign_in_clerk(self.username, self.password.decode("utf-8"))
        except Exception as exc:
            # Who tried is not recorded: what was typed as a staff ID may be a password typed in the wrong box.
            audit(services, actor="system", role="system", action="clerk.sign_in_failed", outcome=_outcome(exc),
                  details={"code": _code(exc)})
            raise
        finally:
            self.wipe()
        audit(services, actor=session.username, role=session.role, action="clerk.sign_in", outcome="ok")
        return ClerkSignedIn(session.token, session.username, session.role, _seconds_until(session.expires_at))

    def wipe(self) -> None:
        zero(self.password)


def _seconds_until(expires_at: str) -> float:
    try:
        end = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        return 30 * 60.0  # the server's default lifetime; the server still checks every call
    return max(0.0, (end - datetime.now(UTC)).total_seconds())


@dataclass(slots=True, repr=False)
class SignOutClerk:
    """End the clerk's token on the server; ``why``: sign_out (asked) or timeout (inactivity)."""

    token: str = field(repr=False)
    username: str
    role: str
    why: str = "sign_out"

    def run(self, services: ServiceContext) -> bool:
        action = "clerk.timeout" if self.why == "timeout" else "clerk.sign_out"
        try:
            services.central().sign_out_clerk(self.token)
        except Exception as exc:
            # The kiosk has forgotten the token already; the server lets it run out.
            audit(services, actor=self.username, role=self.role, action=action, outcome="failed",
                  details={"code": _code(exc)})
            return False
        audit(services, actor=self.username, role=self.role, action=action, outcome="ok")
        return True

    def wipe(self) -> None:
        """The token is dropped with the task."""


@dataclass(slots=True, repr=False)
class PickupFound:
    """The pickup as the clerk sees it, with the single-use handover grant asked for at once (while the
    server is reachable: the handover may have to wait in the outbox). Personal data: ``wipe()``."""

    pickup_id: str
    application_id_masked: str
    notice_number: str
    expected_serial: str
    holder_name: str | None = field(default=None, repr=False)
    birth_date: str | None = field(default=None, repr=False)
    under_15: bool = False
    photo_jpeg: bytes | None = field(default=None, repr=False)
    grant: str | None = field(default=None, repr=False)

    def wipe(self) -> None:
        self.holder_name = None
        self.birth_date = None
        self.photo_jpeg = None
        self.grant = None


@dataclass(slots=True, repr=False)
class FindPickup:
    """GET /v1/pickups by notice number or application ID, then POST …/handover-grants."""

    query: str = field(repr=False)
    by: str  # notice_number | application_id
    token: str = field(repr=False)
    actor: str
    role: str

    def run(self, services: ServiceContext) -> PickupFound:
        central = services.central()
        try:
            record = central.find_pickup(**{self.by: self.query}, clerk_token=self.token)
            grant = central.authorise_handover(record.pickup_id, clerk_token=self.token)
        except Exception as exc:
            audit(services, actor=self.actor, role=self.role, action="pickup.lookup", outcome=_outcome(exc),
                  details={"by": self.by, "code": _code(exc)})
            raise
        finally:
            self.query = ""
        found = PickupFound(
            pickup_id=record.pickup_id,
            application_id_masked=record.application_id_masked,
            notice_number=record.notice_number,
            expected_serial=record.card_serial,
            holder_name=record.holder_name,
            birth_date=record.birth_date,
            under_15=bool(record.under_15),
            photo_jpeg=record.photo_jpeg,
            grant=grant.grant,
        )
        _wipe(record)
        audit(services, actor=self.actor, role=self.role, action="pickup.lookup", outcome="ok",
              subject=found.pickup_id, details={"by": self.by})
        return found

    def wipe(self) -> None:
        self.query = ""


def _wipe(value: object) -> None:
    wipe = getattr(value, "wipe", None)
    if callable(wipe):
        wipe()


@dataclass(slots=True, repr=False)
class CheckBasic4:
    """POST /v1/pickups/{id}/basic4-check: the server compares by keyed hash; nothing is stored."""

    pickup_id: str
    basic4: Basic4 | None = field(repr=False)
    token: str = field(repr=False)

    def run(self, services: ServiceContext) -> bool:
        basic4, self.basic4 = self.basic4, None
        if basic4 is None:
            raise ValueError("the basic-4 check was wiped before it ran")
        return bool(services.central().check_basic4(self.pickup_id, basic4, clerk_token=self.token))

    def wipe(self) -> None:
        self.basic4 = None


@dataclass(frozen=True, slots=True)
class OverrideGranted:
    override_id: str = field(repr=False)
    supervisor: str
    reason: str


@dataclass(slots=True, repr=False)
class RequestOverride:
    """A supervisor, signed in for this one request at this kiosk, overrides the failed checks with a
    reason code; the supervisor's token is ended at once."""

    pickup_id: str
    failed_checks: tuple[str, ...]
    reason: str
    username: str
    password: bytearray = field(repr=False)

    def run(self, services: ServiceContext) -> OverrideGranted:
        central = services.central()
        details = {"checks": list(self.failed_checks), "reason": self.reason}
        try:
            session = central.sign_in_clerk(self.username, self.password.decode("utf-8"))
        except Exception as exc:
            audit(services, actor="system", role="system", action="pickup.override", outcome=_outcome(exc),
                  subject=self.pickup_id, details={**details, "code": _code(exc)})
            raise
        finally:
            self.wipe()
        try:
            if session.role != "supervisor":
                raise OverrideRefused("supervisor_required")
            override_id = central.request_override(self.pickup_id, list(self.failed_checks), self.reason,
                                                   supervisor_token=session.token)
        except Exception as exc:
            audit(services, actor=session.username, role=session.role, action="pickup.override",
                  outcome=_outcome(exc) if not isinstance(exc, OverrideRefused) else "refused",
                  subject=self.pickup_id, details={**details, "code": _code(exc)})
            raise
        finally:
            _quietly_sign_out(central, session.token)
        audit(services, actor=session.username, role=session.role, action="pickup.override", outcome="ok",
              subject=self.pickup_id, details=details)
        return OverrideGranted(str(override_id), session.username, self.reason)

    def wipe(self) -> None:
        zero(self.password)


class OverrideRefused(Exception):
    """Who signed in for the override is not a supervisor."""

    status = 403

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _quietly_sign_out(central: Any, token: str) -> None:
    try:
        central.sign_out_clerk(token)
    except Exception as exc:
        LOG.info("the supervisor's token could not be ended (it runs out): %s", type(exc).__name__)


@dataclass(frozen=True, slots=True)
class QueuedHandover:
    item_id: str
    state: str = "queued"


@dataclass(slots=True, repr=False)
class QueueHandover:
    """Commit the handover to the outbox with the grant obtained at lookup; delivered by the flusher,
    however long the server is away (the grant outlives the clerk's session)."""

    payload: dict[str, Any] = field(repr=False)
    actor: str
    role: str

    def run(self, services: ServiceContext) -> QueuedHandover:
        pickup_id = str(self.payload.get("pickup_id", ""))
        facts = {"checks": dict(self.payload.get("checks", {})), "collected": dict(self.payload.get("collected", {})),
                 "pins_set": list(self.payload.get("pins_set", [])), "override": bool(self.payload.get("override"))}
        try:
            receipt = services.outbox.enqueue("handover", self.payload)
        except Exception as exc:
            audit(services, actor=self.actor, role=self.role, action="pickup.handover", outcome="failed",
                  subject=pickup_id, details={**facts, "code": _code(exc)})
            raise
        finally:
            self.wipe()
        audit(services, actor=self.actor, role=self.role, action="pickup.handover", outcome="ok",
              subject=pickup_id, details={**facts, "state": "queued"})
        return QueuedHandover(str(receipt.item_id))

    def wipe(self) -> None:
        self.payload.clear()


@dataclass(slots=True, repr=False)
class ListStaffCalls:
    """The open "call staff" requests of the kiosks of the clerk's office."""

    token: str = field(repr=False)

    def run(self, services: ServiceContext) -> tuple[Any, ...]:
        return tuple(services.central().staff_calls(clerk_token=self.token))

    def wipe(self) -> None:
        """Carries only the token."""


@dataclass(slots=True, repr=False)
class AcknowledgeCall:
    """"On my way": the resident's kiosk shows that someone is coming."""

    call_id: str
    token: str = field(repr=False)
    actor: str
    role: str

    def run(self, services: ServiceContext) -> str:
        try:
            services.central().acknowledge_staff_call(self.call_id, clerk_token=self.token)
        except Exception as exc:
            audit(services, actor=self.actor, role=self.role, action="staff_call.acknowledge",
                  outcome=_outcome(exc), subject=self.call_id, details={"code": _code(exc)})
            raise
        audit(services, actor=self.actor, role=self.role, action="staff_call.acknowledge", outcome="ok",
              subject=self.call_id)
        return self.call_id

    def wipe(self) -> None:
        """Carries no personal data."""


@dataclass(slots=True)
class RecordAudit:
    """An entry for what happened at the card or the clerk's decision (no network step of its own)."""

    actor: str
    role: str
    action: str
    outcome: str
    subject: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def run(self, services: ServiceContext) -> None:
        audit(services, actor=self.actor, role=self.role, action=self.action, outcome=self.outcome,
              subject=self.subject, details=self.details)

    def wipe(self) -> None:
        """Holds no personal data (the audit contract refuses it anyway)."""


__all__ = ["AcknowledgeCall", "CheckBasic4", "ClerkSignedIn", "FindPickup", "ListStaffCalls", "OverrideGranted",
           "OverrideRefused", "PickupFound", "QueueHandover", "QueuedHandover", "RecordAudit", "RequestOverride",
           "SignInClerk", "SignOutClerk", "audit"]
