"""``GET /healthz``: the process is up and the database answers (no kiosk certificate needed by the app)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from server.deps import ReadSessionDep
from server.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(session: ReadSessionDep) -> Health:
    session.execute(text("SELECT 1"))
    session.close()
    return Health(status="ok", database="ok")
