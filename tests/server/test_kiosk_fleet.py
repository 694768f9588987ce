"""The fleet for operators (``/v1/kiosks``): heartbeats with health, state and health verdicts, and taking a
kiosk out of service and back — on the live server, over HTTPS, on both database backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from server.audit import kiosk_actions
from server.fleet import set_enabled
from server.models import KioskEvent
from tests.server.helpers import LiveServer, application_body, noise_jpeg

pytestmark = pytest.mark.server

HEALTHY = {"version": "1.4.0", "reader_state": "ok", "outbox_depth": 0, "outbox_dead": 0}
REASON = "Printer jammed, technician on Monday"


def beat(server: LiveServer, kiosk: str = "kiosk-02", **changes: Any) -> Any:
    return server.session(kiosk).post(server.url("/v1/kiosks/heartbeat"), json={**HEALTHY, **changes})


def listing(server: LiveServer, token: str) -> dict[str, dict[str, Any]]:
    answer = server.session().get(server.url("/v1/kiosks"), headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return {k["kiosk_id"]: k for k in answer.json()["kiosks"]}


@pytest.fixture
def clerk_token(server: LiveServer) -> str:
    return server.token()


@pytest.fixture
def operator(server: LiveServer) -> Iterator[dict[str, str]]:
    """An operator's bearer header at kiosk-01; kiosk-02 is enabled again afterwards (the server is shared)."""
    yield {"Authorization": f"Bearer {server.token('operator')}"}
    with server.context.sessions() as session, session.begin():
        set_enabled(session, "kiosk-02", enabled=True, actor="test-cleanup", role="operator", via_kiosk_id=None,
                    reason=None, keys=server.context.keys, now=server.clock())


def test_a_healthy_heartbeat_is_online_and_ok(server: LiveServer, clerk_token: str) -> None:
    assert beat(server).status_code == 200
    kiosk = listing(server, clerk_token)["kiosk-02"]
    assert (kiosk["state"], kiosk["health"], kiosk["problems"], kiosk["needs_attention"]) == ("online", "ok", [],
                                                                                            False)
    assert kiosk["version"] == "1.4.0" and kiosk["outbox_dead"] == 0 and kiosk["last_error_code"] is None
    assert 0 <= kiosk["heartbeat_age_seconds"] < 30


@pytest.mark.parametrize(("changes", "problems"), [
    ({"reader_state": "reader_error"}, ["reader_error"]),
    ({"reader_state": "no_reader"}, ["no_reader"]),
    ({"outbox_depth": 2, "outbox_oldest_age_seconds": 1801.0}, ["outbox_backlog"]),
    ({"outbox_dead": 1}, ["outbox_dead_items"]),
    ({"last_error_code": "server_unreachable", "last_error_age_seconds": 60.0}, ["recent_error"]),
    ({"reader_state": "reader_error", "outbox_dead": 3}, ["reader_error", "outbox_dead_items"]),
    ({"reader_state": "card_present", "outbox_depth": 3, "outbox_oldest_age_seconds": 12.5}, []),
    ({"last_error_code": "reader_error", "last_error_age_seconds": 901.0}, []),  # older than the 15-minute window
])
def test_what_makes_a_kiosk_unhealthy(server: LiveServer, clerk_token: str, changes: dict[str, Any],
                                      problems: list[str]) -> None:
    assert beat(server, **changes).status_code == 200
    kiosk = listing(server, clerk_token)["kiosk-02"]
    assert kiosk["problems"] == problems
    assert kiosk["health"] == ("unhealthy" if problems else "ok")
    assert kiosk["needs_attention"] is bool(problems)
    assert kiosk["state"] == "online"


def test_the_error_time_is_the_servers_and_the_outbox_ages_between_heartbeats(server: LiveServer,
                                                                              clerk_token: str) -> None:
    assert beat(server, outbox_depth=1, outbox_oldest_age_seconds=1700.0, last_error_code="tls_error",
                last_error_age_seconds=120.0).status_code == 200
    kiosk = listing(server, clerk_token)["kiosk-02"]
    error_at = datetime.fromisoformat(kiosk["last_error_at"])
    assert abs((server.clock() - timedelta(seconds=120) - error_at).total_seconds()) < 30
    assert kiosk["problems"] == ["recent_error"]
    server.clock.advance(timedelta(seconds=150))  # still online (180 s), but 1700 + 150 s is past 30 minutes
    kiosk = listing(server, server.token())["kiosk-02"]
    assert kiosk["state"] == "online" and kiosk["problems"] == ["outbox_backlog", "recent_error"]


def test_silence_and_never_seen(server: LiveServer, clerk_token: str) -> None:
    assert beat(server).status_code == 200
    server.clock.advance(timedelta(minutes=4))
    kiosk = listing(server, server.token())["kiosk-02"]
    assert (kiosk["state"], kiosk["health"], kiosk["needs_attention"]) == ("silent", "ok", True)
    assert kiosk["heartbeat_age_seconds"] >= 240


@pytest.mark.parametrize("changes", [
    {"last_error_code": "Tanaka Taro could not pay", "last_error_age_seconds": 1.0},  # free text
    {"last_error_code": "card_123456789012", "last_error_age_seconds": 1.0},  # a number inside a code
    {"last_error_code": "試験", "last_error_age_seconds": 1.0},
    {"last_error_code": "reader_error"},  # no age
    {"last_error_age_seconds": 5.0},  # no code
    {"outbox_dead": -1},
    {"message": "anything"},  # unknown field
])
def test_a_heartbeat_carries_codes_and_counts_only(server: LiveServer, changes: dict[str, Any]) -> None:
    answer = beat(server, **changes)
    assert answer.status_code == 422
    assert answer.json()["error"] == "validation_error"
    for value in changes.values():
        if isinstance(value, str) and value != "anything":
            assert value not in answer.text  # the refusal names the field, never the value


@pytest.mark.parametrize("role", ["clerk", "supervisor"])
def test_only_an_operator_disables_a_kiosk(server: LiveServer, role: str) -> None:
    headers = {"Authorization": f"Bearer {server.token(role)}"}
    answer = server.session().post(server.url("/v1/kiosks/kiosk-02/disable"), json={"reason": REASON},
                                   headers=headers)
    assert (answer.status_code, answer.json()["error"]) == (403, "operator_role_required")
    answer = server.session().post(server.url("/v1/kiosks/kiosk-02/disable"), json={"reason": REASON})
    assert answer.status_code == 401
    assert beat(server).status_code == 200  # nothing changed


def test_disable_refuses_the_kiosk_and_enable_lets_it_back(server: LiveServer, operator: dict[str, str]) -> None:
    session = server.session()
    answer = session.post(server.url("/v1/kiosks/kiosk-02/disable"), json={"reason": REASON}, headers=operator)
    assert answer.status_code == 200, answer.text
    change = answer.json()
    assert change["changed"] is True and change["kiosk"]["state"] == "disabled"
    assert change["kiosk"]["enabled_changed_by"].startswith("operator-")

    refused = beat(server)
    assert (refused.status_code, refused.json()["error"]) == (403, "kiosk_disabled")
    application = server.submit(application_body(noise_jpeg(600, 800)), kiosk="kiosk-02")
    assert (application.status_code, application.json()["error"]) == (403, "kiosk_disabled")
    kiosk = listing(server, server.token())["kiosk-02"]
    assert (kiosk["state"], kiosk["enabled"], kiosk["needs_attention"]) == ("disabled", False, False)

    again = session.post(server.url("/v1/kiosks/kiosk-02/disable"), json={"reason": REASON}, headers=operator)
    assert again.status_code == 200 and again.json()["changed"] is False  # nothing recorded either
    enabled = session.post(server.url("/v1/kiosks/kiosk-02/enable"), headers=operator)
    assert enabled.status_code == 200 and enabled.json()["changed"] is True
    assert beat(server).status_code == 200
    assert listing(server, server.token())["kiosk-02"]["state"] == "online"

    actions = [a for a in kiosk_actions(server.context.sessions, server.context.keys, kiosk_id="kiosk-02")
               if a.actor != "test-cleanup"][-2:]
    assert [(a.action, a.via_kiosk_id, a.role) for a in actions] == [("disabled", "kiosk-01", "operator"),
                                                                     ("enabled", "kiosk-01", "operator")]
    assert actions[0].reason == REASON and actions[1].reason is None
    with server.context.sessions() as db:
        sealed = db.scalars(select(KioskEvent.reason_sealed).where(KioskEvent.reason_sealed.is_not(None))).all()
    assert sealed and all(REASON.encode() not in blob for blob in sealed)  # the reason is kept sealed


@pytest.mark.parametrize(("path", "body", "status", "code"), [
    ("/v1/kiosks/kiosk-99/disable", {"reason": REASON}, 404, "kiosk_not_found"),
    ("/v1/kiosks/kiosk-02/disable", {}, 422, "validation_error"),
    ("/v1/kiosks/kiosk-02/disable", {"reason": "no"}, 422, "validation_error"),
    ("/v1/kiosks/kiosk-02/disable", {"reason": REASON, "extra": 1}, 422, "validation_error"),
    ("/v1/kiosks/-bad/disable", {"reason": REASON}, 422, "validation_error"),
    ("/v1/kiosks/kiosk-99/enable", None, 404, "kiosk_not_found"),
])
def test_disable_and_enable_refusals(server: LiveServer, operator: dict[str, str], path: str,
                                     body: dict[str, Any] | None, status: int, code: str) -> None:
    answer = server.session().post(server.url(path), json=body, headers=operator)
    assert (answer.status_code, answer.json()["error"]) == (status, code)
    assert beat(server).status_code == 200


def test_the_contract_documents_the_fleet_routes() -> None:
    from server.app import create_app
    from server.settings import Settings

    paths = create_app(Settings()).openapi()["paths"]
    for action in ("disable", "enable"):
        route = paths[f"/v1/kiosks/{{kiosk_id}}/{action}"]["post"]
        assert route["security"] == [{"kioskCertificate": [], "clerkToken": []}]
        assert {"200", "403", "404", "422"} <= set(route["responses"])
    assert paths["/v1/kiosks/heartbeat"]["post"]["security"] == [{"kioskCertificate": []}]


def test_the_thresholds_are_settings() -> None:
    from server.settings import Settings

    settings = Settings.from_mapping({"server": {"heartbeat_stale_seconds": 60, "kiosk_outbox_age_limit_seconds": 120,
                                                 "kiosk_error_window_seconds": 30}})
    assert (settings.heartbeat_stale_after, settings.kiosk_outbox_age_limit, settings.kiosk_error_window) == (
        timedelta(seconds=60), timedelta(seconds=120), timedelta(seconds=30))
    assert (Settings().kiosk_outbox_age_limit, Settings().kiosk_error_window) == (timedelta(minutes=30),
                                                                                  timedelta(minutes=15))
    for key in ("kiosk_outbox_age_limit_seconds", "kiosk_error_window_seconds", "heartbeat_stale_seconds"):
        with pytest.raises(ValueError, match="positive"):
            Settings.from_mapping({"server": {key: 0}})


def test_judging_follows_the_configured_thresholds() -> None:
    from datetime import UTC

    from server.fleet import HealthRules, judge
    from server.models import Kiosk

    now = datetime(2027, 2, 2, 9, 0, tzinfo=UTC)
    kiosk = Kiosk(kiosk_id="k1", cert_sha256="0" * 64, enabled=True, registered_at=now - timedelta(days=1),
                  last_heartbeat_at=now - timedelta(seconds=50), version="1.4.0", reader_state="ok", outbox_depth=1,
                  outbox_oldest_age_seconds=60.0, outbox_dead=0, last_error_code="tls_error",
                  last_error_at=now - timedelta(seconds=100))
    relaxed = HealthRules(timedelta(minutes=3), timedelta(minutes=30), timedelta(minutes=15))
    strict = HealthRules(timedelta(seconds=30), timedelta(seconds=100), timedelta(seconds=200))
    assert (judge(kiosk, now=now, rules=relaxed).state, judge(kiosk, now=now, rules=relaxed).problems) == (
        "online", ("recent_error",))
    tight = judge(kiosk, now=now, rules=strict)
    assert (tight.state, tight.problems, tight.needs_attention) == ("silent", ("outbox_backlog", "recent_error"),
                                                                   True)
    kiosk.enabled = False
    assert (judge(kiosk, now=now, rules=strict).state, judge(kiosk, now=now, rules=strict).needs_attention) == (
        "disabled", False)
    never = Kiosk(kiosk_id="k2", cert_sha256="1" * 64, enabled=True, registered_at=now)
    verdict = judge(never, now=now, rules=relaxed)
    assert (verdict.state, verdict.health, verdict.problems, verdict.needs_attention) == ("never_seen", "unknown",
                                                                                         (), False)
