"""Error mapping of the central client, with a mocked ``requests.Session`` (the only mocked tier).

Each ``requests``/``ssl`` failure and each HTTP status must come out as exactly one typed error with a
sentence for people, and nothing a request or answer carried may reach a message or a log line.
"""

from __future__ import annotations

import json
import logging
import ssl
from pathlib import Path

import pytest
import requests
import urllib3.exceptions

from kiosk.config import ConfigError, parse_config
from kiosk.services.central import CentralClient
from kiosk.services.errors import (
    Conflict,
    GrantRefused,
    RateLimited,
    Rejected,
    ServerError,
    ServerTimeout,
    ServerUnreachable,
    TlsError,
    safe_code,
)
from tests.services import synthetic

KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def session(mocker):
    return mocker.Mock(spec=requests.Session)


@pytest.fixture
def client(session) -> CentralClient:
    return CentralClient("https://central.test:8443", ca_bundle="/etc/test/ca.pem",
                         client_cert="/etc/test/kiosk.pem", client_key="/etc/test/kiosk.key",
                         connect_timeout=3.0, read_timeout=7.0, session=session)


def answer(status: int, body: object = None, raw: bytes | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = raw if raw is not None else json.dumps(body).encode()
    response.url = "https://central.test:8443/v1/applications"
    return response


def ssl_error(cls: type[ssl.SSLError], reason: str, verify_message: str | None = None) -> ssl.SSLError:
    error = cls(1, f"[SSL: {reason}] {reason.lower()}")
    error.reason = reason
    if verify_message is not None:
        error.verify_message = verify_message
    return error


def test_request_is_verified_mutual_tls_with_timeouts_and_no_redirects(client, session) -> None:
    session.request.return_value = answer(201, {"receipt_id": "R1", "duplicate": False})
    result = client.submit_application(synthetic.application(1), KEY)
    assert result.receipt_id == "R1" and result.duplicate is False
    kwargs = session.request.call_args.kwargs
    assert kwargs["verify"] == "/etc/test/ca.pem"
    assert kwargs["cert"] == ("/etc/test/kiosk.pem", "/etc/test/kiosk.key")
    assert kwargs["timeout"] == (3.0, 7.0)
    assert kwargs["allow_redirects"] is False
    assert kwargs["headers"]["Idempotency-Key"] == KEY
    assert session.request.call_args.args == ("POST", "https://central.test:8443/v1/applications")


@pytest.mark.parametrize(
    ("raised", "expected", "code", "words"),
    [
        (requests.exceptions.ConnectTimeout("x"), ServerTimeout, "timeout_connect", "did not accept a connection"),
        (requests.exceptions.ReadTimeout("x"), ServerTimeout, "timeout_read", "did not answer in time"),
        (requests.exceptions.ConnectionError(urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out")),
         ServerTimeout, "timeout_read", "did not answer in time"),
        (requests.exceptions.ConnectionError("Connection refused"), ServerUnreachable, "unreachable",
         "cannot be reached"),
        (requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError(
            "Connection aborted.", ConnectionResetError(104, "reset"))), ServerUnreachable, "unreachable",
         "cannot be reached"),
        (requests.exceptions.SSLError(ssl_error(ssl.SSLCertVerificationError, "CERTIFICATE_VERIFY_FAILED",
                                                "unable to get local issuer certificate")),
         TlsError, "tls", "does not vouch for (unable to get local issuer certificate)"),
        (requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError(
            "Connection aborted.", ssl_error(ssl.SSLError, "TLSV13_ALERT_CERTIFICATE_REQUIRED"))),
         TlsError, "tls", "refused this kiosk's client certificate"),
        (requests.exceptions.SSLError(ssl_error(ssl.SSLError, "KEY_VALUES_MISMATCH")), TlsError, "tls",
         "check server.client_key"),
        (requests.exceptions.SSLError(urllib3.exceptions.SSLError(ssl.SSLEOFError(8, "EOF occurred"))),
         TlsError, "tls", "may have refused this kiosk's client certificate"),
        (OSError(2, "Could not find the TLS certificate file"), TlsError, "tls", "missing or unreadable"),
        (requests.exceptions.TooManyRedirects("x"), ServerUnreachable, "unreachable", "TooManyRedirects"),
    ],
    ids=["connect-timeout", "read-timeout", "timeout-reading-body", "refused", "reset", "untrusted-server",
         "client-cert-refused", "key-mismatch", "tls-eof", "missing-file", "other"],
)
def test_transport_failures_become_typed_errors(client, session, raised, expected, code, words) -> None:
    session.request.side_effect = raised
    with pytest.raises(expected) as info:
        client.submit_application(synthetic.application(1), KEY)
    assert type(info.value) is expected
    assert info.value.code == code
    assert info.value.retryable is True
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("status", "body", "expected", "code"),
    [
        (500, {"error": "internal", "message": "boom"}, ServerError, "http_500"),
        (503, None, ServerError, "http_503"),
        (429, {"error": "slow_down", "message": "later"}, RateLimited, "http_429"),
        (408, None, ServerError, "http_408"),
        (302, None, ServerError, "http_302"),
        (422, {"error": "validation_error", "message": "photo is invalid"}, Rejected, "validation_error"),
        (400, None, Rejected, "http_400"),
        (401, {"error": "unknown_kiosk", "message": "certificate not registered"}, Rejected, "unknown_kiosk"),
        (409, {"error": "already_submitted", "message": "already submitted"}, Conflict, "already_submitted"),
        (409, {"error": "idempotency_key_reused", "message": "other body"}, Conflict, "idempotency_key_reused"),
    ],
)
def test_statuses_become_typed_errors(client, session, status, body, expected, code) -> None:
    session.request.return_value = answer(status, body) if body is not None else answer(status, raw=b"<html>")
    with pytest.raises(expected) as info:
        client.submit_application(synthetic.application(1), KEY)
    assert type(info.value) is expected
    assert info.value.code == code
    assert info.value.retryable is issubclass(expected, ServerError)
    if isinstance(info.value, Rejected):
        assert info.value.status == status
        assert f"HTTP {status}" in str(info.value)


@pytest.mark.parametrize("raw", [b"<html>proxy</html>", b"[1, 2]", b'{"status": "received"}'],
                         ids=["not-json", "not-an-object", "no-receipt"])
def test_unusable_success_answers_are_server_errors(client, session, raw) -> None:
    session.request.return_value = answer(201, raw=raw)
    with pytest.raises(ServerError):
        client.submit_application(synthetic.application(1), KEY)


def test_duplicate_answer_is_reported(client, session) -> None:
    session.request.return_value = answer(200, {"receipt_id": "R9", "duplicate": True})
    assert client.submit_application(synthetic.application(1), KEY).duplicate is True


@pytest.mark.parametrize("key", ["short", "x" * 65, "has space in it 1234", "under_score_12345678"])
def test_malformed_idempotency_keys_never_leave(client, session, key) -> None:
    with pytest.raises(ValueError):
        client.submit_application(synthetic.application(1), key)
    session.request.assert_not_called()


def test_nothing_personal_in_logs_or_messages(client, session, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    application = synthetic.application(7)
    texts = []
    for outcome in (answer(201, {"receipt_id": "R1"}), answer(422, {"error": "x", "message": "bad"}),
                    requests.exceptions.ConnectionError("refused")):
        if isinstance(outcome, Exception):
            session.request.side_effect = outcome
        else:
            session.request.side_effect = None
            session.request.return_value = outcome
        try:
            client.submit_application(application, KEY)
        except Exception as exc:
            texts.append(str(exc))
    texts.append(caplog.text)
    for needle in synthetic.personal_needles(application).values():
        for text in texts:
            assert needle.decode("utf-8", "ignore") not in text
    assert "POST /v1/applications -> 201" in caplog.text


GRANT = synthetic.grant(1)


def test_handover_route_and_grant(client, session) -> None:
    session.request.return_value = answer(201, {"handover_id": "H1"})
    ack = client.record_handover("P-1", card_auth_cert_serial="0A1B", handed_over_at="2026-11-26T10:00:00Z",
                                 grant=GRANT, idempotency_key=KEY, **synthetic.handover_details())
    assert (ack.receipt_id, ack.duplicate, ack.http_status) == ("H1", False, 201)
    call = session.request.call_args
    assert call.args[1].endswith("/v1/pickups/P-1/handover")
    assert "Authorization" not in call.kwargs["headers"]  # no clerk token: the grant in the body authorises
    assert call.kwargs["json"]["grant"] == GRANT and call.kwargs["headers"]["Idempotency-Key"] == KEY


@pytest.mark.parametrize(("status", "server_code", "error", "code"), [
    (403, "grant_expired", GrantRefused, "grant_expired"),
    (403, "grant_used", GrantRefused, "grant_used"),
    (403, "grant_invalid", GrantRefused, "grant_refused"),
    (403, "override_expired", GrantRefused, "override_expired"),  # the supervisor's override ran out
    (403, "override_used", GrantRefused, "override_used"),
    (403, "override_invalid", GrantRefused, "override_invalid"),
    (409, "checks_failed", Conflict, "checks_failed"),
    (409, "override_mismatch", Conflict, "override_mismatch"),
    (401, "token_required", GrantRefused, "grant_refused"),  # an old server that still wants a clerk token
    (403, "kiosk_disabled", Rejected, "kiosk_disabled"),  # about the kiosk: not the grant's fault
    (403, "kiosk_unknown", Rejected, "kiosk_unknown"),
    (409, "card_mismatch", Conflict, "card_mismatch"),
])
def test_handover_refusals_say_whether_the_grant_is_to_blame(client, session, status, server_code, error,
                                                             code) -> None:
    session.request.return_value = answer(status, {"error": server_code, "message": "refused"})
    with pytest.raises(Rejected) as caught:
        client.record_handover("P-1", card_auth_cert_serial="0A1B", handed_over_at="2026-11-26T10:00:00Z",
                               grant=GRANT, idempotency_key=KEY, **synthetic.handover_details())
    assert type(caught.value) is error and caught.value.code == code and caught.value.retryable is False
    assert GRANT not in str(caught.value)


def test_a_clerk_authorises_a_handover_with_a_bearer_token(client, session) -> None:
    session.request.return_value = answer(201, {"grant": GRANT, "pickup_id": "P-0123456789ABCDEF",
                                                "kiosk_id": "k-1", "expires_at": "2026-12-03T10:00:00Z"})
    issued = client.authorise_handover("P-0123456789ABCDEF", clerk_token="tok")
    assert (issued.grant, issued.pickup_id, issued.expires_at) == (GRANT, "P-0123456789ABCDEF",
                                                                   "2026-12-03T10:00:00Z")
    assert GRANT not in repr(issued)
    call = session.request.call_args
    assert call.args[:2] == ("POST", "https://central.test:8443/v1/pickups/P-0123456789ABCDEF/handover-grants")
    assert call.kwargs["headers"]["Authorization"] == "Bearer tok"
    session.request.return_value = answer(201, {"pickup_id": "P-0123456789ABCDEF"})
    with pytest.raises(ServerError):
        client.authorise_handover("P-0123456789ABCDEF", clerk_token="tok")
    with pytest.raises(ValueError, match="pickup id"):
        client.authorise_handover("../clerk/sessions", clerk_token="tok")


def test_clerk_sign_in_and_out(client, session) -> None:
    session.request.return_value = answer(201, {"token": "secret-token", "expires_at": "2026-12-03T10:30:00Z",
                                                "username": "sato", "role": "clerk"})
    signed_in = client.sign_in_clerk("sato", "a password")
    assert (signed_in.token, signed_in.role) == ("secret-token", "clerk") and "secret-token" not in repr(signed_in)
    no_content = requests.Response()
    no_content.status_code = 204
    no_content._content = b""
    session.request.return_value = no_content
    client.sign_out_clerk("secret-token")
    call = session.request.call_args
    assert call.args[0] == "DELETE" and call.args[1].endswith("/v1/clerk/sessions/current")
    assert call.kwargs["headers"]["Authorization"] == "Bearer secret-token"
    session.request.return_value = answer(423, {"error": "account_locked", "message": "locked"})
    with pytest.raises(Rejected) as locked:
        client.sign_in_clerk("sato", "a password")
    assert locked.value.code == "account_locked"


CALL_ID = "6f1c2b8e-1d2a-4b6c-9e0f-123456789abc"


def test_staff_calls_report_and_cancel(client, session) -> None:
    session.request.return_value = answer(201, {"call_id": CALL_ID, "status": "open", "duplicate": False})
    state = client.report_staff_call(CALL_ID, called_at="2026-12-03T10:00:00Z")
    assert (state.call_id, state.status, state.duplicate) == (CALL_ID, "open", False)
    call = session.request.call_args
    assert call.args[:2] == ("POST", "https://central.test:8443/v1/staff-calls")
    assert call.kwargs["json"] == {"call_id": CALL_ID, "called_at": "2026-12-03T10:00:00Z"}
    assert "Idempotency-Key" not in call.kwargs["headers"]  # the call id itself makes a retry idempotent
    session.request.return_value = answer(200, {"call_id": CALL_ID, "status": "cancelled"})
    assert client.cancel_staff_call(CALL_ID).status == "cancelled"
    assert session.request.call_args.args[:2] == ("DELETE", f"https://central.test:8443/v1/staff-calls/{CALL_ID}")
    session.request.return_value = answer(404, {"error": "staff_call_not_found", "message": "no"})
    with pytest.raises(Rejected) as missing:
        client.cancel_staff_call(CALL_ID)
    assert missing.value.code == "staff_call_not_found"
    session.request.return_value = answer(200, {"call_id": CALL_ID, "status": "maybe"})
    with pytest.raises(ServerError):
        client.report_staff_call(CALL_ID, called_at="2026-12-03T10:00:00Z")


def test_a_malformed_staff_call_is_not_sent(client, session) -> None:
    with pytest.raises(ValueError, match="call_id"):
        client.report_staff_call("not-a-uuid", called_at="2026-12-03T10:00:00Z")
    with pytest.raises(ValueError, match="called_at"):
        client.report_staff_call(CALL_ID, called_at="10:00")
    with pytest.raises(ValueError, match="UUID"):
        client.cancel_staff_call("../../v1/pickups")
    session.request.assert_not_called()


def test_certificate_status_must_be_one_of_three(client, session) -> None:
    session.request.return_value = answer(200, {"status": "revoked", "reason": "keyCompromise"})
    assert client.certificate_status("ab", "01").status == "revoked"
    session.request.return_value = answer(200, {"status": "maybe"})
    with pytest.raises(ServerError):
        client.certificate_status("ab", "01")


@pytest.mark.parametrize("url", ["http://central.test", "central.test:8443", "https://"])
def test_only_https_urls(url) -> None:
    with pytest.raises(ValueError, match="https"):
        CentralClient(url, ca_bundle="/ca.pem", client_cert="/c.pem", client_key="/c.key")


def test_a_ca_bundle_is_mandatory() -> None:
    with pytest.raises(ValueError, match="CA bundle"):
        CentralClient("https://central.test", ca_bundle="", client_cert="/c.pem", client_key="/c.key")


def test_from_config_names_the_missing_keys(tmp_path: Path) -> None:
    config = parse_config({"server": {"url": "https://central.test"}}, tmp_path / "kiosk.toml")
    with pytest.raises(ConfigError, match=r"server\.ca_bundle, server\.client_cert, server\.client_key"):
        CentralClient.from_config(config)


def test_from_config_resolves_paths_relative_to_the_file(tmp_path: Path) -> None:
    config = parse_config({"server": {"url": "https://central.test", "ca_bundle": "pki/ca.pem",
                                      "client_cert": "pki/k.pem", "client_key": "/abs/k.key"},
                           "timeouts": {"http_connect_seconds": 1, "http_read_seconds": 2}},
                          tmp_path / "kiosk.toml")
    client = CentralClient.from_config(config)
    assert client.ca_bundle == str(tmp_path / "pki/ca.pem")
    assert client.client_cert == (str(tmp_path / "pki/k.pem"), "/abs/k.key")
    assert client.timeout == (1.0, 2.0)
    client.close()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("already_submitted", "already_submitted"), ("Invalid Photo", "invalid_photo"),
     ("hanako@example.invalid", "http_400"), ("試験山田", "http_400"),
     ("123456789012", "http_400"), ("id_98760000000000000000001", "http_400"), ("", "http_400")],
)
def test_error_codes_are_squeezed_into_safe_tokens(text, expected) -> None:
    assert safe_code(text, "http_400") == expected


APP_ID = "98760000000000000000123"


def test_application_status_route_and_answer(client, session) -> None:
    session.request.return_value = answer(200, {"application_id_masked": "*" * 19 + "0123", "status": "picked_up",
                                                "updated_at": "2026-12-01T09:00:00Z", "next_step": None})
    status = client.application_status(APP_ID)
    assert (status.status, status.next_step, status.known) == ("picked_up", None, True)
    assert session.request.call_args.args == ("GET", f"https://central.test:8443/v1/applications/{APP_ID}/status")
    assert session.request.call_args.kwargs["json"] is None


def test_application_status_unknown_and_refusals(client, session) -> None:
    session.request.return_value = answer(404, {"error": "application_not_found", "message": "no"})
    unknown = client.application_status(APP_ID)
    assert (unknown.status, unknown.known, unknown.application_id_masked) == ("unknown", False, "*" * 19 + "0123")
    session.request.return_value = answer(404, {"error": "not_found", "message": "Not Found"})  # a wrong URL
    with pytest.raises(Rejected) as misrouted:
        client.application_status(APP_ID)
    assert misrouted.value.code == "not_found"
    response = answer(429, {"error": "too_many_lookups", "message": "later", "retry_after_seconds": 9})
    response.headers["Retry-After"] = "7"
    session.request.return_value = response
    with pytest.raises(RateLimited) as limited:
        client.application_status(APP_ID)
    assert limited.value.retry_after == 7.0 and "try again in 7 s" in str(limited.value)
    response.headers["Retry-After"] = "Wed, 21 Oct 2026 07:28:00 GMT"  # a date: the kiosk clock may drift
    with pytest.raises(RateLimited) as dated:
        client.application_status(APP_ID)
    assert dated.value.retry_after == 9.0


@pytest.mark.parametrize(
    "body",
    [
        {"application_id_masked": "x", "status": "lost", "updated_at": "2026-12-01T09:00:00Z", "next_step": None},
        {"application_id_masked": "x", "status": "received", "updated_at": "x", "next_step": "dance"},
        [1, 2],
    ],
    ids=["unknown-status", "unknown-step", "not-an-object"],
)
def test_application_status_unusable_answers_are_server_errors(client, session, body) -> None:
    session.request.return_value = answer(200, body)
    with pytest.raises(ServerError):
        client.application_status(APP_ID)


def test_application_status_never_shows_an_unmasked_id(client, session) -> None:
    """A faulty server echoing the whole id: the kiosk shows its own masked form instead."""
    session.request.return_value = answer(200, {"application_id_masked": APP_ID, "status": "received",
                                                "updated_at": "2026-12-01T09:00:00Z", "next_step": "wait_for_notice"})
    assert client.application_status(APP_ID).application_id_masked == "*" * 19 + "0123"


@pytest.mark.parametrize("bad", [APP_ID + "\n", "\n" + APP_ID, APP_ID + " ", "１" * 23, APP_ID[:-1], 23])
def test_application_status_checks_the_whole_id_before_sending(client, session, bad) -> None:
    with pytest.raises(ValueError, match="23 ASCII digits"):
        client.application_status(bad)  # type: ignore[arg-type]
    session.request.assert_not_called()


def test_already_submitted_carries_the_first_receipt_but_never_free_text(client, session) -> None:
    first = {"receipt_id": "R-0123456789ABCDEF", "application_id_masked": "*" * 19 + "0123", "status": "received"}
    session.request.return_value = answer(409, {"error": "already_submitted", "message": "m", "receipt": first})
    with pytest.raises(Conflict) as conflict:
        client.submit_application(synthetic.application(1), KEY)
    assert conflict.value.receipt_id == "R-0123456789ABCDEF"
    session.request.return_value = answer(409, {"error": "already_submitted", "message": "m",
                                                "receipt": {"receipt_id": "試験 花子 hanako@example.invalid"}})
    with pytest.raises(Conflict) as odd:
        client.submit_application(synthetic.application(1), KEY)
    assert odd.value.receipt_id is None
