"""Schema-based fuzzing of the committed OpenAPI contract against the live HTTPS server: never a 5xx.

Every operation gets up to 30 positive and 30 negative examples (bodies, parameters and headers that fit,
and that deliberately do not fit, the schema), sent over real mTLS with an operator token so that every
route is reachable. The only check is "no server error": 4xx answers to nonsense are the point.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from server.cli import OPENAPI_FILE
from tests.server.helpers import LiveServer
from tests.support.fuzzing import examples

pytestmark = pytest.mark.server

schema = schemathesis.openapi.from_path(str(OPENAPI_FILE))
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=examples(30))

_operators: dict[str, str] = {}


def _token(server: LiveServer, *, fresh: bool) -> str:
    """An operator token; sign-out cases get a fresh one each so they do not end the shared one."""
    if server.db_url not in _operators:
        _operators[server.db_url] = server.add_clerk("operator")[0]
        _operators[server.db_url + ":token"] = server.quick_token(_operators[server.db_url])
    if fresh:
        return server.quick_token(_operators[server.db_url])
    return _operators[server.db_url + ":token"]


@schema.parametrize()
@settings(
    max_examples=examples(30),
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_server_errors(case: Any, server: LiveServer) -> None:
    signs_out = case.operation.label == "DELETE /v1/clerk/sessions/current"
    headers = {"Authorization": f"Bearer {_token(server, fresh=signs_out)}"}
    if "Authorization" in (case.headers or {}) or case.operation.label.startswith("POST /v1/clerk/sessions"):
        headers = {}
    credentials = server.pki.kiosks["kiosk-01"]
    case.call_and_validate(
        base_url=server.base_url,
        session=server.session("kiosk-01"),
        headers=headers,
        checks=[not_a_server_error],
        verify=str(server.pki.ca_cert),  # schemathesis passes its own verify=, which would win over the session's
        cert=(str(credentials.cert), str(credentials.key)),
        timeout=30,
    )
