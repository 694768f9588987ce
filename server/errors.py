"""One error shape for every refusal: ``{"error": code, "message": human text}`` (plus a few extra keys).

Validation messages name the field and the rule but never echo the submitted value: a rejected body may
hold a photo, contact data or an application id, and error bodies end up in kiosk logs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class ApiError(Exception):
    """A refusal with a stable machine code; raised anywhere below a route, rendered here."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.extra}


def error_response(
    status: int, code: str, message: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    sent = dict(headers or {})
    if status == 401:
        sent["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"error": code, "message": message, **extra}, status_code=status, headers=sent or None)


def _location(loc: Sequence[Any]) -> str:
    return ".".join(str(part) for part in loc)


_TYPE_TEXT = {
    "missing": "is required",
    "string_too_short": "is too short",
    "string_too_long": "is too long",
    "string_pattern_mismatch": "has the wrong format",
    "json_invalid": "is not valid JSON",
    "extra_forbidden": "is not an accepted field",
    "timezone_aware": "must carry a time zone (ISO 8601, e.g. 2026-01-31T09:00:00Z)",
}


def _field_message(error: Mapping[str, Any]) -> str:
    """Pydantic's message (it names rules, not values — the value sits in ``input``, which is dropped)."""
    kind = str(error.get("type", ""))
    if kind in _TYPE_TEXT:
        return _TYPE_TEXT[kind]
    message = str(error.get("msg", "is invalid"))
    if kind == "value_error":
        return message.removeprefix("Value error, ")
    return message


def validation_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    return [{"field": _location(e.get("loc", ())), "message": _field_message(e)} for e in errors]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def on_api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, headers=exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = validation_errors(exc.errors())
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
        return error_response(422, "validation_error", f"The request is invalid — {summary}", fields=fields)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
        code = codes.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        return error_response(exc.status_code, code, message)
