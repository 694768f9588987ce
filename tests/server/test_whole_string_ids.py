"""An id is the whole string: "<23 digits>\\n", surrounding whitespace or full-width digits are never taken for
an application id, in a JSON body, a path parameter, a query parameter — or after the path itself.

Why this needs a test: Python's ``re`` lets ``$`` match before a final newline, so ``re.match("^[0-9]{23}$",
"<23 digits>\\n")`` succeeds; Starlette routes with such patterns, so a newline after a path used to reach the
route without it. pydantic-core's (Rust) regex does not have the quirk; both are checked here over real HTTPS.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import Field, TypeAdapter, ValidationError

from contract.application_id import APPLICATION_ID_PATTERN
from server.cli import OPENAPI_FILE
from server.middleware import path_is_clean
from server.schemas import ApplicationCreate
from server.settings import Settings, check_kiosk_id
from tests.server.helpers import LiveServer, application_body, application_id, noise_jpeg

pytestmark = pytest.mark.server

PHOTO = noise_jpeg(600, 800, seed=21)
DIGITS = "98760000000000000000042"
NOT_AN_ID = {
    "trailing-newline": DIGITS + "\n",
    "trailing-crlf": DIGITS + "\r\n",
    "leading-newline": "\n" + DIGITS,
    "trailing-space": DIGITS + " ",
    "leading-space": " " + DIGITS,
    "tab": "\t" + DIGITS,
    "ideographic-space": DIGITS + "\u3000",
    "nbsp": "\u00a0" + DIGITS,
    "full-width": "".join(chr(ord(c) + 0xFEE0) for c in DIGITS),
    "one-full-width": DIGITS[:-1] + "２",
    "nul": DIGITS + "\x00",
}


@pytest.mark.parametrize("value", NOT_AN_ID.values(), ids=NOT_AN_ID.keys())
def test_the_body_refuses_anything_but_the_23_digits(server: LiveServer, value: str) -> None:
    body = application_body(PHOTO, application_id=value)
    response = server.submit(body)
    assert response.status_code == 422, response.text
    assert response.json()["fields"][0]["field"] == "body.application_id"
    # …and nothing was stored under the digits it contains.
    lookup = server.session().get(server.url(f"/v1/applications/{DIGITS}/status"))
    assert lookup.status_code == 404


@pytest.mark.parametrize("value", NOT_AN_ID.values(), ids=NOT_AN_ID.keys())
@pytest.mark.parametrize("suffix", ["/status", ""], ids=["status", "state"])
def test_a_path_parameter_is_the_whole_segment(server: LiveServer, value: str, suffix: str) -> None:
    assert server.submit(application_body(PHOTO, application_id=DIGITS)).status_code in (201, 409)
    ok = server.session().get(server.url(f"/v1/applications/{DIGITS}{suffix}"))
    assert ok.status_code == 200
    response = server.session().get(server.url(f"/v1/applications/{quote(value, safe='')}{suffix}"))
    assert response.status_code in (400, 422), (response.status_code, response.text)
    assert response.json()["error"] in ("invalid_path", "validation_error")
    assert DIGITS not in response.text


@pytest.mark.parametrize("value", NOT_AN_ID.values(), ids=NOT_AN_ID.keys())
def test_a_query_parameter_is_the_whole_value(server: LiveServer, value: str) -> None:
    token = server.token()
    response = server.session().get(
        server.url("/v1/pickups"), params={"application_id": value}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/applications%0A"),
        ("POST", "/v1/applications%0D%0A"),
        ("GET", f"/v1/applications/{DIGITS}/status%0A"),
        ("GET", f"/v1/applications/{DIGITS}%0A"),
        ("GET", "/healthz%0A"),
        ("POST", "/v1/applications%20"),
    ],
)
def test_a_newline_after_the_path_does_not_reach_the_route(server: LiveServer, method: str, path: str) -> None:
    """Starlette's route patterns end in ``$``: before the guard, ``POST /v1/applications%0A`` stored an
    application (201) and ``…/status%0A`` answered the lookup."""
    body = application_body(PHOTO)
    response = server.session().request(
        method, server.base_url + path, json=body if method == "POST" else None, headers={"Idempotency-Key": "k" * 20}
    )
    assert response.status_code == 400, (response.status_code, response.text)
    assert response.json()["error"] == "invalid_path"
    lookup = server.session().get(server.url(f"/v1/applications/{body['application_id']}/status"))
    assert lookup.status_code == 404


def test_the_path_guard_refuses_only_whitespace_and_controls() -> None:
    assert path_is_clean("/v1/applications/12345678901234567890123/status")
    assert path_is_clean("/v1/applications/１２３")  # not an id, but that is the route's 422 to give
    for bad in ("\n", "\r", " ", "\t", "\x00", "\x7f", "\u3000", "\u00a0", "\u2028", "\u200b", "\ufeff"):
        assert not path_is_clean(f"/v1/applications{bad}"), repr(bad)


# --- the patterns themselves ------------------------------------------------------------------------------------


def _patterns() -> list[str]:
    """Every ``pattern`` the published contract gives (path, query, header and body fields)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("pattern"), str):
                found.add(node["pattern"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(OPENAPI_FILE.read_text(encoding="utf-8")))
    return sorted(found)


def test_the_contract_publishes_patterns() -> None:
    assert APPLICATION_ID_PATTERN in _patterns() and len(_patterns()) >= 8


@pytest.mark.parametrize("pattern", _patterns())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_published_pattern_lets_a_trailing_newline_through_pydantic(pattern: str, data: st.DataObject) -> None:
    """pydantic-core (Rust regex) is what the server validates with: ``$`` is the end of the text there."""
    valid = data.draw(st.from_regex(pattern, fullmatch=True).filter(lambda v: "\n" not in v))
    adapter: TypeAdapter[str] = TypeAdapter(Annotated[str, Field(pattern=pattern)])
    assert adapter.validate_python(valid) == valid
    for bad in (valid + "\n", "\n" + valid):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)
        assert re.fullmatch(pattern, bad) is None  # how the contract package applies them (fullmatch)


def _python_json_schema_accepts(schema: dict[str, Any], value: str) -> bool:
    """What a Python JSON Schema validator checks of a string (``jsonschema`` applies patterns with
    ``re.search``, so ``$`` also matches before a final newline)."""
    return (
        re.search(schema["pattern"], value) is not None
        and schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value))
    )


def test_the_published_application_id_schema_refuses_a_newline_even_under_python_re() -> None:
    """Under Python's ``re`` the *pattern* alone lets a final newline through; the published minLength and
    maxLength of 23 still refuse it, so they must stay in the contract."""
    schema = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    operation = schema["paths"]["/v1/applications/{application_id}/status"]["get"]
    parameter = next(p for p in operation["parameters"] if p["name"] == "application_id")["schema"]
    body = schema["components"]["schemas"]["ApplicationCreate"]["properties"]["application_id"]
    for published in (parameter, body):
        assert (published["minLength"], published["maxLength"]) == (23, 23)
        assert re.search(published["pattern"], DIGITS + "\n")  # the trap this test documents
        assert _python_json_schema_accepts(published, DIGITS)
        for value in NOT_AN_ID.values():
            assert not _python_json_schema_accepts(published, value), repr(value)


@pytest.mark.parametrize("value", NOT_AN_ID.values(), ids=NOT_AN_ID.keys())
def test_the_model_refuses_them_too(value: str) -> None:
    body = {**application_body(PHOTO), "application_id": value}
    with pytest.raises(ValidationError) as caught:
        ApplicationCreate.model_validate(body)
    assert DIGITS not in str(caught.value)  # the error never repeats the value


def test_a_kiosk_id_is_the_whole_string_too() -> None:
    assert check_kiosk_id("kiosk-01") == "kiosk-01"
    for bad in ("kiosk-01\n", "kiosk-01 ", "kiosk-01\r\n"):
        with pytest.raises(ValueError, match="kiosk id"):
            check_kiosk_id(bad)
        with pytest.raises(ValueError, match="kiosk id"):
            Settings(kiosks={bad: "ab" * 32})


def test_a_fresh_id_with_a_newline_is_not_a_new_application(server: LiveServer) -> None:
    """The same digits once with and once without a newline: one application, and the second is refused."""
    digits = application_id()
    assert server.submit(application_body(PHOTO, application_id=digits)).status_code == 201
    again = server.submit(application_body(PHOTO, application_id=digits + "\n"))
    assert again.status_code == 422
    assert server.session().get(server.url(f"/v1/applications/{digits}/status")).json()["status"] == "received"
