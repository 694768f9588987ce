"""``GET /healthz`` and ``GET /readyz``: is the process alive, and may it be sent traffic.

``/healthz``: the process is up and the database answers (a service manager restarts a server that fails it).
``/readyz``: everything a request needs is there — the database answers, its schema is the revision this code
was written for (a database restored from an older backup, or migrated ahead by a newer server during a
rolling upgrade, is refused with the command that fixes it), and the photo folder takes a new file (the
filesystem photo store). A load balancer sends kiosks only to a ready server; a server that is alive but not
ready is left running, not restarted. 503 with ``{"error": "not_ready", "message", "failed", "checks"}``
otherwise. Neither needs a kiosk certificate from the app (``[tls] client_cert = "optional"`` lets a probe
connect without one) and neither says anything about residents.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from functools import cache
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from server.db import current_revision, head_revision
from server.deps import ContextDep, ReadSessionDep, ServerContext
from server.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz(session: ReadSessionDep) -> Health:
    session.execute(text("SELECT 1"))
    session.close()
    return Health(status="ok", database="ok")


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "message": self.message}


@cache
def _head() -> str:
    return head_revision()  # parses the migration scripts: once per process


def _database(context: ServerContext) -> Check:
    try:
        with context.reads() as session:
            session.execute(text("SELECT 1"))
            session.close()
    except SQLAlchemyError as exc:  # the type only: a driver's message can name hosts and users
        return Check("database", False, f"the database does not answer ({type(exc).__name__})")
    return Check("database", True, "answers")


def _schema(context: ServerContext) -> Check:
    needed = _head()
    try:
        reached = current_revision(context.engine)
    except SQLAlchemyError as exc:
        return Check("schema", False, f"the schema revision cannot be read ({type(exc).__name__})")
    if reached == needed:
        return Check("schema", True, f"at {needed}")
    where = "none (never migrated)" if reached is None else reached
    return Check("schema", False, f"database schema at {where}, expected {needed}: run `kiosk server migrate`")


def _photo_folder(context: ServerContext) -> Check:
    settings = context.settings
    if settings.photo_store != "filesystem":
        return Check("photo_store", True, "photos are kept in the database")
    folder = settings.photo_folder
    # The store makes its folder at the first photo: until then, the folder it will be made in must take it.
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        descriptor, probe = tempfile.mkstemp(prefix=".readyz-", dir=existing)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as exc:
        return Check("photo_store", False, f"the photo folder {folder} takes no new file ({exc.strerror or exc})")
    return Check("photo_store", True, "the photo folder is writable")


def readiness(context: ServerContext) -> list[Check]:
    """Every check, in order; the schema is only asked of a database that answers."""
    database = _database(context)
    schema = _schema(context) if database.ok else Check("schema", False, "not checked: the database does not answer")
    return [database, schema, _photo_folder(context)]


@router.get("/readyz", include_in_schema=False)
def readyz(context: ContextDep) -> JSONResponse:
    checks = readiness(context)
    failed = [check for check in checks if not check.ok]
    body: dict[str, Any] = {"checks": {check.name: check.as_dict() for check in checks}}
    if not failed:
        return JSONResponse({"status": "ready", **body})
    return JSONResponse(
        {
            "error": "not_ready",
            "message": "; ".join(check.message for check in failed),
            "failed": [check.name for check in failed],
            **body,
        },
        status_code=503,
    )
