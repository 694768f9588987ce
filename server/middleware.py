"""Pure ASGI middleware: the request log, the body-size limit, the path guard, and a last-resort 500.

The path guard exists because Starlette matches routes with Python's ``re`` and a pattern ending in ``$``,
which also matches before a final newline: ``POST /v1/applications%0A`` would be routed as
``POST /v1/applications``, and ``/v1/applications/<id>/status%0A`` as the status lookup. No route of ours
has whitespace or control characters in its path, so a path holding any is refused before routing.

The request log is the only access log (uvicorn's is switched off, because it prints the path and the query
string — which can carry an application id or a notice number). One line per request: request id, method,
route *template* (``/v1/applications/{application_id}``, never the filled-in path), status, kiosk id and
duration. Bodies, headers, photos and contact data are never logged; an unexpected exception is logged by
type and frame locations only, with the request id, because exception messages can quote data.
"""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
import unicodedata
import uuid
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException

from server.tls import ASGIApp, Receive, Scope, Send

access_log = logging.getLogger("server.access")
error_log = logging.getLogger("server.error")
_REQUEST_ID = re.compile(rb"^[A-Za-z0-9-]{8,64}$")


class _BodyTooLarge(HTTPException):
    """An HTTPException so that FastAPI, reading the body, passes it on instead of calling it a parse error."""

    def __init__(self) -> None:
        super().__init__(413, "The request body is too large.")


def _where(exc: BaseException) -> str:
    """Where an exception was raised — file, line and function of the last frames, never its message."""
    frames = traceback.extract_tb(exc.__traceback__)[-3:]
    return " <- ".join(f"{Path(f.filename).name}:{f.lineno}:{f.name}" for f in reversed(frames)) or "?"


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class RequestLogMiddleware:
    """Request id in and out (``X-Request-ID``), one log line per request, and a JSON 500 for the unexpected."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = given.decode() if given and _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        state: MutableMapping[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: MutableMapping[str, Any]) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_started = True
                message["headers"] = [*message.get("headers", []), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except _BodyTooLarge:
            status = 413
            if not response_started:
                await _send_json(
                    send,
                    413,
                    {"error": "payload_too_large", "message": "The request body is too large."},
                    [id_header, (b"connection", b"close")],
                )
        except Exception as exc:  # the last line of defence: never a traceback with data in it
            status = 500
            error_log.error("request_id=%s unhandled %s at %s", request_id, type(exc).__name__, _where(exc))
            if not response_started:
                await _send_json(
                    send,
                    500,
                    {"error": "internal_error", "message": f"Internal error; quote request id {request_id}."},
                    [id_header],
                )
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", None) or "<unmatched>"
            access_log.info(
                "request_id=%s method=%s route=%s status=%d kiosk=%s duration_ms=%.1f",
                request_id,
                scope.get("method", "-"),
                template,
                status,
                state.get("kiosk_id", "-"),
                (time.perf_counter() - started) * 1000,
            )


class BodyLimitMiddleware:
    """Refuse bodies over ``limit`` bytes: by Content-Length up front, or while streaming when chunked."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            raise _BodyTooLarge
        seen = 0

        async def limited_receive() -> MutableMapping[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge
            return message

        await self.app(scope, limited_receive, send)


_PATH_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})  # controls, format, every kind of space


def path_is_clean(path: str) -> bool:
    """No whitespace, control or format character anywhere in the (percent-decoded) path."""
    return not any(unicodedata.category(ch) in _PATH_REFUSED_CATEGORIES for ch in path)


class PathGuardMiddleware:
    """400 ``invalid_path`` for a path with whitespace or control characters (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not path_is_clean(str(scope.get("path", ""))):
            await _send_json(
                send,
                400,
                {
                    "error": "invalid_path",
                    "message": "The request path holds whitespace or control characters; no route accepts them.",
                },
                [],
            )
            return
        await self.app(scope, receive, send)
