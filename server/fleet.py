"""The fleet as operators see it: is each kiosk online, is it healthy, and taking one out of service.

One place decides, for ``GET /v1/kiosks`` and ``kiosk server kiosks`` alike:

* **state** — ``disabled`` (an operator took it out of service: every request of its certificate is refused,
  ``server/deps.py``), ``never_seen`` (registered, no heartbeat yet), ``online`` (a heartbeat within
  ``heartbeat_stale_after``) or ``silent`` (none for longer: switched off, network down, app crashed). Before
  issue 13 ``silent`` was called ``stale``; the API now says ``silent`` only.
* **health** of what the kiosk last reported — ``unknown`` before its first heartbeat, else ``unhealthy``
  with its **problems** (codes, in this order) or ``ok``:

  - ``reader_error`` / ``no_reader``: the card reader failed, or none is connected (``reader_state``);
  - ``outbox_backlog``: the oldest application waiting in its outbox is older than
    ``kiosk_outbox_age_limit`` — the age it reported plus the time since that heartbeat;
  - ``outbox_dead_items``: its outbox gave up on items (refused by the server): staff must look at them;
  - ``recent_error``: it reported an error (``last_error_code``) less than ``kiosk_error_window`` ago. After
    an outage of this server every kiosk reports ``server_unreachable``, so the whole fleet shows this for
    one window afterwards — true (they could not deliver) and short.

  A version that differs from the rest of the fleet is *not* a problem: a staged roll-out keeps kiosks on
  two versions for days, and "unhealthy" must mean "someone has to go and look". The version is shown.
* **needs attention** — an enabled kiosk that is silent or unhealthy: what ``--problems`` lists and what
  makes ``kiosk server kiosks`` exit 1 for a monitoring job. A never-seen kiosk does not (one registered
  ahead of its installation would alarm every night); a disabled one does not (someone decided).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from contract.payloads import check_override_reason
from server.audit import KioskAction, record_kiosk_action
from server.keys import ServerKeys
from server.models import Kiosk
from server.settings import Settings

STATES = ("online", "silent", "never_seen", "disabled")
HEALTH = ("ok", "unhealthy", "unknown")
PROBLEMS = ("reader_error", "no_reader", "outbox_backlog", "outbox_dead_items", "recent_error")
READER_PROBLEMS = ("reader_error", "no_reader")  # reader_state values that are problems themselves


@dataclass(frozen=True)
class HealthRules:
    """The three thresholds, from the server's settings (``[server]`` in server.example.toml)."""

    silent_after: timedelta
    outbox_age_limit: timedelta
    error_window: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> HealthRules:
        return cls(settings.heartbeat_stale_after, settings.kiosk_outbox_age_limit, settings.kiosk_error_window)


@dataclass(frozen=True)
class KioskHealth:
    """One kiosk judged at ``now``: its registration, what it last reported, and the verdict."""

    kiosk_id: str
    enabled: bool
    state: str
    health: str
    problems: tuple[str, ...]
    registered_at: datetime
    office: str | None
    last_heartbeat_at: datetime | None
    heartbeat_age_seconds: float | None
    version: str | None
    reader_state: str | None
    outbox_depth: int | None
    outbox_oldest_age_seconds: float | None
    outbox_dead: int | None
    last_error_code: str | None
    last_error_at: datetime | None
    enabled_changed_at: datetime | None
    enabled_changed_by: str | None

    @property
    def needs_attention(self) -> bool:
        return self.enabled and (self.state == "silent" or self.health == "unhealthy")

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "problems": list(self.problems), "needs_attention": self.needs_attention}


def judge(kiosk: Kiosk, *, now: datetime, rules: HealthRules) -> KioskHealth:
    """The state and health of ``kiosk`` at ``now`` (see the module docstring for the rules)."""
    seen = kiosk.last_heartbeat_at
    age = None if seen is None else max(0.0, (now - seen).total_seconds())
    if not kiosk.enabled:
        state = "disabled"
    elif age is None:
        state = "never_seen"
    else:
        state = "online" if age <= rules.silent_after.total_seconds() else "silent"
    problems = () if age is None else _problems(kiosk, age, now=now, rules=rules)
    health = "unknown" if age is None else "unhealthy" if problems else "ok"
    return KioskHealth(
        kiosk_id=kiosk.kiosk_id, enabled=kiosk.enabled, state=state, health=health, problems=problems,
        registered_at=kiosk.registered_at, office=kiosk.office, last_heartbeat_at=seen, heartbeat_age_seconds=age,
        version=kiosk.version, reader_state=kiosk.reader_state, outbox_depth=kiosk.outbox_depth,
        outbox_oldest_age_seconds=kiosk.outbox_oldest_age_seconds, outbox_dead=kiosk.outbox_dead,
        last_error_code=kiosk.last_error_code, last_error_at=kiosk.last_error_at,
        enabled_changed_at=kiosk.enabled_changed_at, enabled_changed_by=kiosk.enabled_changed_by,
    )


def _problems(kiosk: Kiosk, since_heartbeat: float, *, now: datetime, rules: HealthRules) -> tuple[str, ...]:
    found: list[str] = []
    if kiosk.reader_state in READER_PROBLEMS:
        found.append(kiosk.reader_state)
    oldest = kiosk.outbox_oldest_age_seconds
    if kiosk.outbox_depth and oldest is not None and \
            oldest + since_heartbeat > rules.outbox_age_limit.total_seconds():
        found.append("outbox_backlog")
    if kiosk.outbox_dead:
        found.append("outbox_dead_items")
    if kiosk.last_error_at is not None and now - kiosk.last_error_at <= rules.error_window:
        found.append("recent_error")
    return tuple(found)


class UnknownKiosk(LookupError):
    """No kiosk is registered under this id."""

    def __init__(self, kiosk_id: str) -> None:
        super().__init__(f"no kiosk {kiosk_id!r} is registered (see `kiosk server kiosks`)")
        self.kiosk_id = kiosk_id


def check_reason(reason: str | None, *, required: bool) -> str | None:
    """Why a kiosk is disabled (required) or enabled (optional): 5-500 characters, as a supervisor's
    override reason; ``ValueError`` with a sentence otherwise."""
    if reason is None:
        if required:
            raise ValueError("say why the kiosk is taken out of service (a reason of 5-500 characters)")
        return None
    return check_override_reason(reason)


def set_enabled(session: Any, kiosk_id: str, *, enabled: bool, actor: str, role: str, via_kiosk_id: str | None,
                reason: str | None, keys: ServerKeys, now: datetime) -> tuple[Kiosk, bool]:
    """Disable or enable ``kiosk_id`` in the caller's transaction and record who, from where and why
    (``server/audit.py``); returns the row and whether it changed. Doing what is already so changes nothing
    and records nothing. ``UnknownKiosk`` for an id that is not registered; ``ValueError`` for a reason that
    breaks ``check_reason``. The kiosk's next request after the commit is refused (403 ``kiosk_disabled``)."""
    reason = check_reason(reason, required=not enabled)
    kiosk = session.get(Kiosk, kiosk_id, with_for_update=True)
    if kiosk is None:
        raise UnknownKiosk(kiosk_id)
    if kiosk.enabled == enabled:
        return kiosk, False
    kiosk.enabled = enabled
    kiosk.enabled_changed_at = now
    kiosk.enabled_changed_by = actor
    action = KioskAction(at=now, kiosk_id=kiosk_id, action="enabled" if enabled else "disabled", actor=actor,
                         role=role, via_kiosk_id=via_kiosk_id, reason=reason)
    record_kiosk_action(session, action, keys)
    return kiosk, True
