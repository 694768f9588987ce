"""The card application's lifecycle (交付申請 → 製造 → 交付): its states, who moves it, what the resident does next.

Why one module: three writers move an application — the operator (``kiosk server set-application-status``),
the pickup records (``add-pickup`` / ``POST /v1/pickups``: the card is at the counter) and the handover at the
counter — and two readers show it (the status lookup for residents, the fuller state for kiosks). Keeping the
rules here means they cannot disagree.

States (``applications.status``)::

    received ──operator──> in_production ──pickup seeded──> ready_for_pickup ──handover──> picked_up
        │                       │
        └──operator──> refused <┘        (an operator may re-open a refused application: -> received)

The status a resident sees is derived from the application row *and* the pickup records for the same 申請書ID:
a card waiting at the counter is "ready for pickup" even if the application reached the city by post (no
application row) or the pickup was seeded before the application arrived. A cancelled pickup counts for
nothing. ``unknown`` is not a state: it is the 404 of a lookup.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ApplicationState = Literal["received", "in_production", "ready_for_pickup", "picked_up", "refused"]
NextStep = Literal["wait_for_notice", "collect_at_counter", "contact_counter"]

STATES: tuple[ApplicationState, ...] = ("received", "in_production", "ready_for_pickup", "picked_up", "refused")

# What an operator may do by hand. "ready_for_pickup" and "picked_up" are facts of the pickup records (a card
# at the counter, a handover recorded with a clerk's grant), never typed in: the CLI says where they come from.
OPERATOR_MOVES: dict[str, frozenset[str]] = {
    "received": frozenset({"in_production", "refused"}),
    "in_production": frozenset({"received", "refused"}),
    "refused": frozenset({"received"}),
    "ready_for_pickup": frozenset(),
    "picked_up": frozenset(),
}
FROM_PICKUPS = frozenset({"ready_for_pickup", "picked_up"})

# States an application leaves for "ready_for_pickup" when a pickup is seeded for it.
BEFORE_PICKUP = frozenset({"received", "in_production"})

NEXT_STEP: dict[str, NextStep | None] = {
    "received": "wait_for_notice",  # the 交付通知書 (pickup notice) comes by post, ~1 month
    "in_production": "wait_for_notice",
    "ready_for_pickup": "collect_at_counter",  # bring the notice and ID documents to the counter
    "picked_up": None,
    "refused": "contact_counter",  # the city explains why; the kiosk cannot
}

# Older databases (before migration 0003) used these names.
LEGACY_NAMES = {"card_ready": "ready_for_pickup", "handed_over": "picked_up"}


class TransitionRefused(ValueError):
    """An operator move the lifecycle does not allow; the message says what to do instead (no personal data)."""


def check_operator_move(current: str, target: str) -> bool:
    """True when ``target`` is a change, False when it is the current state already (nothing to do).

    Raises ``TransitionRefused`` for an unknown state or a move only the pickup records may make.
    """
    if target not in STATES:
        raise TransitionRefused(f"unknown state {target!r}; one of: {', '.join(STATES)}")
    if target == current:
        return False
    if target in FROM_PICKUPS:
        how = "seed a pickup (kiosk server add-pickup)" if target == "ready_for_pickup" else "record the handover"
        raise TransitionRefused(f"{target} comes from the pickup records, not by hand: {how}")
    if target not in OPERATOR_MOVES.get(current, frozenset()):
        raise TransitionRefused(f"an application that is {current} cannot be set to {target} by hand")
    return True


@dataclass(frozen=True, slots=True)
class PickupFact:
    """What the lifecycle needs of one pickup record: its status and when it last changed."""

    status: str  # ready | handed_over | cancelled
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Lifecycle:
    status: ApplicationState
    updated_at: datetime

    @property
    def next_step(self) -> NextStep | None:
        return NEXT_STEP[self.status]


def resident_next_step(lifecycle: Lifecycle, photo_check: str | None) -> NextStep | None:
    """The next step, with the photo's background check (``server/photo_checks.py``) taken into account:
    while the card is not yet made, a photo that needs a retake sends the resident to the counter (a new
    photo for a received application is taken there; kiosks know no "retake" step yet, and every kiosk
    already shows ``contact_counter``). Once the card is at the counter or handed over, the photo is moot."""
    if photo_check == "retake_needed" and lifecycle.status in BEFORE_PICKUP:
        return "contact_counter"
    return lifecycle.next_step


def derive(
    stored: str | None, stored_updated_at: datetime | None, pickups: Iterable[PickupFact]
) -> Lifecycle | None:
    """The status a resident sees; None when nothing is known (no application row, no live pickup).

    Precedence: a handed-over card (picked_up) over a card waiting (ready_for_pickup) over the application's own
    state. ``updated_at`` is when the deciding record last changed.
    """
    live = [p for p in pickups if p.status in ("ready", "handed_over")]
    for pickup_status, state in (("handed_over", "picked_up"), ("ready", "ready_for_pickup")):
        matching = [p.updated_at for p in live if p.status == pickup_status]
        if matching:
            return Lifecycle(state, max(matching))  # type: ignore[arg-type]
    if stored is None or stored_updated_at is None:
        return None
    status = LEGACY_NAMES.get(stored, stored)
    if status not in STATES:
        status = "received"  # an unknown stored value must not break the lookup; it is at least received
    if status == "ready_for_pickup":
        status = "in_production"  # its pickup was cancelled (a card to be made again): nothing waits
    return Lifecycle(status, stored_updated_at)  # type: ignore[arg-type]
