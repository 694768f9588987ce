"""Clerk sign-in: lockout after five failures, token expiry, sign-out, tokens bound to their kiosk."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from server.models import ClerkSession
from server.security import hash_password, token_digest, verify_password
from tests.server.helpers import LiveServer

pytestmark = pytest.mark.server


def _login(server: LiveServer, username: str, password: str, kiosk: str = "kiosk-01") -> tuple[int, dict]:
    response = server.session(kiosk).post(
        server.url("/v1/clerk/sessions"), json={"username": username, "password": password}
    )
    return response.status_code, response.json()


def _kiosks(server: LiveServer, token: str, kiosk: str = "kiosk-01") -> int:
    return server.session(kiosk).get(server.url("/v1/kiosks"), headers={"Authorization": f"Bearer {token}"}).status_code


def test_sign_in_gives_a_token_that_works_and_is_stored_hashed(server: LiveServer) -> None:
    username, password = server.add_clerk()
    status, body = _login(server, username, password)
    assert status == 201
    assert body["token_type"] == "Bearer"
    assert body["role"] == "clerk"
    assert body["expires_at"].endswith("Z")
    assert _kiosks(server, body["token"]) == 200
    with server.context.sessions() as session:
        stored = session.scalars(select(ClerkSession.token_sha256)).all()
    assert token_digest(body["token"]) in stored
    assert body["token"] not in stored


def test_wrong_password_and_unknown_user_look_the_same(server: LiveServer) -> None:
    username, _ = server.add_clerk()
    wrong = _login(server, username, "wrong password 123")
    unknown = _login(server, "nobody-" + username, "wrong password 123")
    assert wrong == unknown == (401, {"error": "invalid_credentials", "message": wrong[1]["message"]})


def test_five_failures_lock_the_account_for_fifteen_minutes(server: LiveServer) -> None:
    username, password = server.add_clerk()
    for _ in range(5):
        assert _login(server, username, "wrong password 123")[0] == 401
    status, body = _login(server, username, password)  # even the right password
    assert status == 423
    assert body["error"] == "account_locked"
    assert body["locked_until"].endswith("Z")
    server.clock.advance(timedelta(minutes=14))
    assert _login(server, username, password)[0] == 423
    server.clock.advance(timedelta(minutes=1, seconds=1))
    assert _login(server, username, password)[0] == 201


def test_a_success_resets_the_failure_count(server: LiveServer) -> None:
    username, password = server.add_clerk()
    for _ in range(4):
        assert _login(server, username, "wrong password 123")[0] == 401
    assert _login(server, username, password)[0] == 201
    for _ in range(4):
        assert _login(server, username, "wrong password 123")[0] == 401
    assert _login(server, username, password)[0] == 201


def test_tokens_expire(server: LiveServer) -> None:
    token = server.token()
    assert _kiosks(server, token) == 200
    server.clock.advance(server.context.settings.clerk_token_lifetime + timedelta(seconds=1))
    response = server.session().get(server.url("/v1/kiosks"), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json()["error"] == "token_expired"
    assert response.headers["www-authenticate"] == "Bearer"


def test_sign_out_ends_the_token(server: LiveServer) -> None:
    token = server.token()
    headers = {"Authorization": f"Bearer {token}"}
    assert server.session().delete(server.url("/v1/clerk/sessions/current"), headers=headers).status_code == 204
    response = server.session().get(server.url("/v1/kiosks"), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "token_invalid"


def test_a_token_only_works_at_the_kiosk_it_was_issued_at(server: LiveServer) -> None:
    token = server.token(kiosk="kiosk-01")
    assert _kiosks(server, token, kiosk="kiosk-01") == 200
    assert _kiosks(server, token, kiosk="kiosk-02") == 401


def test_missing_or_malformed_tokens(server: LiveServer) -> None:
    session = server.session()
    assert session.get(server.url("/v1/kiosks")).json()["error"] == "token_required"
    assert session.get(server.url("/v1/kiosks"), headers={"Authorization": "Bearer nope"}).status_code == 401
    assert session.get(server.url("/v1/kiosks"), headers={"Authorization": "Basic Zm9vOmJhcg=="}).status_code == 401


def test_kiosk_list_shows_heartbeats(server: LiveServer) -> None:
    heartbeat = {
        "version": "1.2.3",
        "reader_state": "card_present",
        "outbox_depth": 3,
        "outbox_oldest_age_seconds": 12.5,
    }
    assert server.session("kiosk-02").post(server.url("/v1/kiosks/heartbeat"), json=heartbeat).status_code == 200
    token = server.token()
    listing = server.session().get(server.url("/v1/kiosks"), headers={"Authorization": f"Bearer {token}"}).json()
    by_id = {k["kiosk_id"]: k for k in listing["kiosks"]}
    assert listing["count"] == len(listing["kiosks"])
    assert by_id["kiosk-02"]["state"] == "online"
    assert by_id["kiosk-02"]["outbox_depth"] == 3
    assert by_id["kiosk-02"]["reader_state"] == "card_present"
    server.clock.advance(timedelta(minutes=10))
    token = server.token()
    listing = server.session().get(server.url("/v1/kiosks"), headers={"Authorization": f"Bearer {token}"}).json()
    assert {k["kiosk_id"]: k for k in listing["kiosks"]}["kiosk-02"]["state"] == "stale"


def test_password_hashes_are_salted_scrypt() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first != second
    assert first.startswith("scrypt$32768$8$1$")
    assert verify_password("correct horse battery", first)
    assert not verify_password("correct horse batterY", first)
    assert not verify_password("x", "md5$whatever")
