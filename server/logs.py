"""How the server's log lines look: text for a person at a terminal, one JSON object per line for machines.

``[server] log_format``: ``"text"``, ``"json"`` or ``"auto"`` (the default): JSON when standard error is the
systemd journal, text otherwise. systemd tells a service so through ``JOURNAL_STREAM`` (``device:inode`` of
the stream it connected); the variable is inherited by anything the service starts, so the stream itself is
compared, as systemd's documentation asks, not just the variable's presence.

A JSON line has ``time`` (UTC, ISO 8601, milliseconds), ``level``, ``logger``, ``message`` and ``process``
(the worker, with ``--workers N``). The server's own lines use ``key=value`` tokens (the request log:
``request_id=… method=… route=… status=… kiosk=… duration_ms=…``); the known keys among them become fields
of their own (``status`` a number, ``duration_ms`` a number, ``kiosk`` absent when ``-``). Any line written
while a request is handled (a photo that could not be read, a database retry) also carries that request's
``request_id`` and ``route`` *template* (``RequestContextMiddleware`` keeps the request at hand; never the
filled-in path, which can hold an application id).

Nothing personal is added here: the fields are taken from what the text line already says, and the text
lines are written to hold none (``server/middleware.py``). An exception is reported by type and the file,
line and function of its last frames only: its message and a traceback's source lines can quote data.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from server.settings import LogFormat
from server.tls import ASGIApp, Receive, Scope, Send

TEXT_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s %(message)s"
# The tokens of the server's own lines that become JSON fields, and how each is read.
_FIELDS: dict[str, type] = {"request_id": str, "method": str, "route": str, "status": int, "kiosk": str,
                            "duration_ms": float}
_TOKEN = re.compile(r"(?<!\S)(" + "|".join(_FIELDS) + r")=(\S+)")
_current_request: ContextVar[Scope | None] = ContextVar("kiosk_server_request", default=None)


def journal_attached(stream: IO[str] | None = None) -> bool:
    """True when ``stream`` (default: standard error) is the journal stream systemd gave this service."""
    stream = sys.stderr if stream is None else stream
    device, _, inode = os.environ.get("JOURNAL_STREAM", "").partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        found = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # no file descriptor (a test's StringIO), or closed
        return False
    return found.st_dev == int(device) and found.st_ino == int(inode)


def resolve(log_format: LogFormat, stream: IO[str] | None = None) -> LogFormat:
    """``auto`` made concrete for ``stream``: ``json`` under the journal, else ``text``."""
    if log_format != "auto":
        return log_format
    return "json" if journal_attached(stream) else "text"


def exception_summary(exc_info: Any) -> dict[str, str]:
    """An exception as its type and where it was raised — never its message (it can quote data)."""
    kind, value, tb = exc_info
    frames = traceback.extract_tb(tb)[-3:] if tb is not None else []
    where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}:{f.name}" for f in reversed(frames)) or "?"
    name = kind.__name__ if kind is not None else type(value).__name__
    return {"type": name, "where": where}


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring for the fields)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
            "process": record.process,
        }
        scope = _current_request.get()
        if scope is not None:
            request_id = scope.get("state", {}).get("request_id")
            if request_id:
                line["request_id"] = request_id
            template = route_template(scope)
            if template is not None:
                line["route"] = template
        for key, raw in _TOKEN.findall(message):
            if key == "kiosk" and raw == "-":
                continue
            try:
                line[key] = _FIELDS[key](raw)
            except ValueError:
                line[key] = raw
        if record.exc_info:
            line["exception"] = exception_summary(record.exc_info)
        return json.dumps(line, ensure_ascii=False, separators=(",", ":"))


def route_template(scope: Scope) -> str | None:
    """The matched route's template (``/v1/applications/{application_id}``), None before routing or unmatched."""
    route = scope.get("route")
    return getattr(route, "path_format", None) or getattr(route, "path", None)


def formatter(log_format: LogFormat, stream: IO[str] | None = None) -> logging.Formatter:
    return JsonFormatter() if resolve(log_format, stream) == "json" else logging.Formatter(TEXT_FORMAT)


def configure(log_format: LogFormat = "text", level: int = logging.INFO) -> None:
    """The process's log output: one handler on standard error with the chosen format (replacing others).

    uvicorn's access logger is switched off: its lines hold full paths and query strings (see tls.py)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format, sys.stderr))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("uvicorn.access").disabled = True


class RequestContextMiddleware:
    """Keeps the request being handled at hand for ``JsonFormatter`` (a context variable: each request, and
    the worker thread a sync route runs in, sees its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _current_request.set(scope)
        try:
            await self.app(scope, receive, send)
        finally:
            _current_request.reset(token)


__all__ = [
    "TEXT_FORMAT",
    "JsonFormatter",
    "RequestContextMiddleware",
    "configure",
    "exception_summary",
    "formatter",
    "journal_attached",
    "resolve",
    "route_template",
]
