"""Clerk sign-in: lockout after five failures, token expiry, sign-out, tokens bound to their kiosk."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
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


def test_five_failures_lock_the_account_for_fifteen_minutes_answered_like_an_unknown_name(server: LiveServer) -> None:
    username, password = server.add_clerk()
    for _ in range(5):
        assert _login(server, username, "wrong password 123")[0] == 401
    locked = _login(server, username, password)  # even the right password
    unknown = _login(server, "nobody-" + username, password)
    assert locked == unknown  # a locked account does not reveal that the user name exists
    assert locked[0] == 401 and "locked" in locked[1]["message"]
    server.clock.advance(timedelta(minutes=14))
    assert _login(server, username, password)[0] == 401
    server.clock.advance(timedelta(minutes=1, seconds=1))
    assert _login(server, username, password)[0] == 201


def _parallel_logins(server: LiveServer, attempts: list[tuple[str, str, str]]) -> list[int]:
    """Each (kiosk, user, password) from its own thread and session, released together by a barrier."""
    sessions = {kiosk: [server.session(kiosk) for _ in attempts] for kiosk in {a[0] for a in attempts}}
    barrier = threading.Barrier(len(attempts))

    def attempt(index: int) -> int:
        kiosk, username, password = attempts[index]
        session = sessions[kiosk][index]
        barrier.wait()
        body = {"username": username, "password": password}
        return session.post(server.url("/v1/clerk/sessions"), json=body).status_code

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return list(pool.map(attempt, range(len(attempts))))


def test_parallel_wrong_passwords_cannot_get_past_the_lockout(server: LiveServer) -> None:
    """38 guesses at once over both kiosks: the account must be locked afterwards, as after 5 in a row."""
    username, password = server.add_clerk()
    guesses = [(f"kiosk-0{1 + i % 2}", username, f"wrong password {i:03d}") for i in range(38)]
    statuses = _parallel_logins(server, guesses)
    assert statuses == [401] * 38
    assert _login(server, username, password)[0] == 401  # locked: the right password is refused too
    server.clock.advance(server.context.settings.lockout_duration + timedelta(seconds=1))
    assert _login(server, username, password)[0] == 201


def test_a_right_password_among_parallel_guesses_is_checked_only_within_the_budget(server: LiveServer) -> None:
    """Guessing in parallel gives no more tries than guessing one by one: with 4 earlier failures only one
    more attempt is checked, so of 12 parallel attempts with the right password at most one succeeds."""
    username, password = server.add_clerk()
    for _ in range(4):
        assert _login(server, username, "wrong password 123")[0] == 401
    statuses = _parallel_logins(server, [(f"kiosk-0{1 + i % 2}", username, password) for i in range(12)])
    assert statuses.count(201) <= 1
    assert set(statuses) <= {201, 401}


def test_failures_across_user_names_are_limited_per_kiosk(server: LiveServer) -> None:
    limit = server.context.settings.kiosk_sign_in_failures
    for i in range(limit):
        assert _login(server, f"nobody-{i}", "one common password")[0] == 401
    response = server.session("kiosk-01").post(
        server.url("/v1/clerk/sessions"), json={"username": "nobody-else", "password": "one common password"}
    )
    assert response.status_code == 429
    assert response.json()["error"] == "sign_in_limited"
    assert int(response.headers["retry-after"]) > 0
    username, password = server.add_clerk()
    assert _login(server, username, password)[0] == 429  # the limit is the kiosk's, whoever signs in
    assert _login(server, username, password, kiosk="kiosk-02")[0] == 201  # another kiosk is not affected
    server.clock.advance(server.context.settings.kiosk_sign_in_window + timedelta(seconds=1))
    assert _login(server, username, password)[0] == 201


def test_successful_sign_ins_do_not_use_up_the_kiosk_budget(server: LiveServer) -> None:
    username, password = server.add_clerk()
    for _ in range(server.context.settings.kiosk_sign_in_failures + 2):
        assert _login(server, username, password)[0] == 201


def test_supervisor_is_a_role(server: LiveServer) -> None:
    username, password = server.add_clerk("supervisor")
    status, body = _login(server, username, password)
    assert (status, body["role"]) == (201, "supervisor")


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
    assert {k["kiosk_id"]: k for k in listing["kiosks"]}["kiosk-02"]["state"] == "silent"  # "stale" before issue 13


def test_password_hashes_are_salted_scrypt() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first != second
    assert first.startswith("scrypt$32768$8$1$")
    assert verify_password("correct horse battery", first)
    assert not verify_password("correct horse batterY", first)
    assert not verify_password("x", "md5$whatever")
