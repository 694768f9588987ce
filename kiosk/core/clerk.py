"""The clerk signed in at a counter kiosk: who, with which role, until when — and the one place roles are
checked.

A ``ClerkDesk`` outlives the residents' sessions (a clerk hands over many cards in one sign-in) but not the
clerk's inactivity: ``expired(now)`` is true after ``sign_out_after`` seconds without a clerk action, or once
the server's token has run out, and the pickup flow then signs the clerk out. The token is held in memory
only (never in a file or a log) and dropped at sign-out.

Roles (``server/security.py``): ``clerk`` does pickups; ``supervisor`` also overrides a failed check with a
reason; ``operator`` seeds pickups and does not serve at the counter. ``allowed(action)`` is the only
role rule on the kiosk side; the server checks every call again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

COUNTER_ROLES = ("clerk", "supervisor")
ACTIONS: dict[str, tuple[str, ...]] = {
    "lookup": COUNTER_ROLES,
    "read_card": COUNTER_ROLES,
    "hand_over": COUNTER_ROLES,
    "acknowledge_call": COUNTER_ROLES,
    "override": ("supervisor",),
}


def role_allows(role: str | None, action: str) -> bool:
    """May a clerk with ``role`` do ``action`` at the counter? Unknown actions are refused."""
    return role is not None and role in ACTIONS.get(action, ())


@dataclass(slots=True, repr=False)
class SignedIn:
    """A server session: the bearer token (secret), the clerk's name and role, and when it ends
    (``expires_at`` on the kiosk's monotonic clock, converted when the answer arrived)."""

    token: str = field(repr=False)
    username: str
    role: str
    expires_at: float

    def __repr__(self) -> str:
        return f"SignedIn({self.username!r}, role={self.role!r})"


class ClerkDesk:
    """The counter's signed-in clerk, if any."""

    def __init__(self, sign_out_after: float) -> None:
        self.sign_out_after = sign_out_after
        self._signed_in: SignedIn | None = None
        self._last_action = 0.0

    @property
    def signed_in(self) -> SignedIn | None:
        return self._signed_in

    @property
    def role(self) -> str | None:
        return self._signed_in.role if self._signed_in is not None else None

    def sign_in(self, session: SignedIn, now: float) -> None:
        self._signed_in = session
        self._last_action = now

    def sign_out(self) -> SignedIn | None:
        """Forget the session; returns it so the caller can end it on the server too."""
        session, self._signed_in = self._signed_in, None
        return session

    def touch(self, now: float) -> None:
        self._last_action = now

    def expired(self, now: float) -> bool:
        session = self._signed_in
        if session is None:
            return False
        return now - self._last_action >= self.sign_out_after or now >= session.expires_at

    def allows(self, action: str) -> bool:
        return self._signed_in is not None and role_allows(self._signed_in.role, action)


__all__ = ["ACTIONS", "COUNTER_ROLES", "ClerkDesk", "SignedIn", "role_allows"]
