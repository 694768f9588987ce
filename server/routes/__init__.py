"""One router per resource; ``all_routers`` is what the app factory mounts."""

from __future__ import annotations

from fastapi import APIRouter

from server.routes import (
    applications,
    audit,
    certificate_status,
    clerk_sessions,
    health,
    kiosks,
    pickups,
    renewals,
    staff_calls,
)


def all_routers() -> list[APIRouter]:
    return [
        health.router,
        applications.router,
        renewals.router,
        pickups.router,
        certificate_status.router,
        kiosks.router,
        clerk_sessions.router,
        staff_calls.router,
        audit.router,
    ]
