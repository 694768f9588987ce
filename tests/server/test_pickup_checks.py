"""The clerk's view of a pickup (holder sealed at rest, under 15), supervisors' overrides of failed checks, and
the details a handover records.

A handover whose required checks did not all pass is refused unless a supervisor, signed in at the same
kiosk, overrode exactly those checks with a reason; the override is single use and bound to its pickup and
kiosk; the server still compares the card's serial itself.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from contract.age import JST
from server import overrides
from server.app import create_app
from server.errors import ApiError
from server.models import Base, CheckOverride, Pickup
from server.settings import Settings
from tests.server.helpers import LiveServer, application_id, basic4, idempotency_key, notice_number, now_iso
from tests.server.pickup_helpers import checks, handover_body

pytestmark = pytest.mark.server

SERIAL = "5eed0001"
REASON = "顔写真は古いが本人確認書類二点で確認済み"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


_tokens: dict[tuple[str, int, str, str], str] = {}


def _token(server: LiveServer, role: str = "clerk", kiosk: str = "kiosk-01") -> str:
    """One signed-in account per role and kiosk for the whole module (each sign-in costs two scrypt runs);
    a fresh one after the clock moved far enough for the session to expire."""
    key = (server.backend, int(server.clock().timestamp()) // 600, role, kiosk)
    if key not in _tokens:
        _tokens[key] = server.token(role, kiosk=kiosk)
    return _tokens[key]


def _create(server: LiveServer, **basic4_changes: str) -> dict[str, Any]:
    body = {
        "application_id": application_id(),
        "notice_number": notice_number(),
        "card": {"auth_cert_serial": SERIAL, "issuer_key_id": "0d" * 20},
        "basic4": basic4(**basic4_changes),
    }
    response = server.session().post(server.url("/v1/pickups"), json=body, headers=_bearer(_token(server, "operator")))
    assert response.status_code == 201, response.text
    return dict(response.json())


def _lookup(server: LiveServer, notice: str) -> dict[str, Any]:
    response = server.session().get(
        server.url("/v1/pickups"), params={"notice_number": notice}, headers=_bearer(_token(server))
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _grant(server: LiveServer, pickup_id: str, kiosk: str = "kiosk-01") -> str:
    response = server.session(kiosk).post(
        server.url(f"/v1/pickups/{pickup_id}/handover-grants"), headers=_bearer(_token(server, kiosk=kiosk))
    )
    assert response.status_code == 201, response.text
    return str(response.json()["grant"])


def _override(
    server: LiveServer, pickup_id: str, failed: list[str], *, role: str = "supervisor", kiosk: str = "kiosk-01",
    reason: str = REASON,
) -> Any:
    return server.session(kiosk).post(
        server.url(f"/v1/pickups/{pickup_id}/overrides"),
        json={"failed_checks": failed, "reason": reason},
        headers=_bearer(_token(server, role, kiosk)),
    )


def _hand_over(server: LiveServer, pickup_id: str, grant: str, *, kiosk: str = "kiosk-01", key: str | None = None,
               **changes: Any) -> Any:
    return server.session(kiosk).post(
        server.url(f"/v1/pickups/{pickup_id}/handover"),
        json=handover_body(SERIAL, now_iso(), grant, **changes),
        headers={"Idempotency-Key": key or idempotency_key()},
    )


def _pickup_row(server: LiveServer, pickup_id: str) -> Pickup:
    with server.context.sessions() as session:
        row = session.scalar(select(Pickup).where(Pickup.pickup_id == pickup_id))
        assert row is not None
        session.expunge(row)
        return row


def _database_bytes(server: LiveServer) -> bytes:
    dump = bytearray()
    with server.context.sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                for cell in row:
                    dump += cell if isinstance(cell, bytes) else str(cell).encode("utf-8")
                    dump += b"\0"
    if server.backend == "sqlite":
        database = Path(server.db_url.removeprefix("sqlite:///"))
        for path in database.parent.glob(database.name + "*"):
            dump += path.read_bytes()
    return bytes(dump)


# --- the clerk's view ---------------------------------------------------------------------------------------


def test_the_clerk_sees_the_holder_which_the_database_keeps_sealed(server: LiveServer) -> None:
    name = f"受取試験 次郎 {secrets.token_hex(3)}"
    before = len(server.logs.lines)
    created = _create(server, name=name, birth_date="1985/07/09")
    assert created["holder"] is None  # the operator's answer does not carry it
    found = _lookup(server, created["notice_number"])
    assert found["holder"] == {"name": name, "birth_date": "1985-07-09"}
    assert found["under_15"] is False
    assert found["card"] == {"auth_cert_serial": SERIAL, "issuer_key_id": "0d" * 20}
    assert name.encode() not in _database_bytes(server)
    assert name not in "\n".join(server.logs.lines[before:])
    assert _pickup_row(server, created["pickup_id"]).holder_sealed is not None


def _advance_to(server: LiveServer, moment: datetime) -> None:
    server.clock.advance(moment - server.clock())


def test_under_15_is_counted_on_the_day_in_japan(server: LiveServer) -> None:
    # 16:00 UTC is 01:00 the next day in Japan: a resident born on that Japanese date 15 years earlier
    # turned 15 an hour ago there, although it is still the day before in UTC.
    tomorrow = (server.clock() + timedelta(days=1)).date()
    _advance_to(server, datetime(tomorrow.year, tomorrow.month, tomorrow.day, 16, 0, tzinfo=UTC))
    today_in_japan = server.clock().astimezone(JST).date()
    assert today_in_japan == tomorrow + timedelta(days=1)
    fifteen = _birthday_years_before(today_in_japan, 15)
    turned_today = _create(server, birth_date=fifteen.strftime("%Y%m%d"))
    turns_tomorrow = _create(server, birth_date=(fifteen + timedelta(days=1)).strftime("%Y%m%d"))
    assert _lookup(server, turned_today["notice_number"])["under_15"] is False
    assert _lookup(server, turns_tomorrow["notice_number"])["under_15"] is True
    assert turns_tomorrow["under_15"] is True  # every answer says it; only the lookup names the holder


def _birthday_years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February: the day before counts as the birthday completed (28 February)
        return day.replace(year=day.year - years, day=28)


def test_a_pickup_from_before_the_holder_was_kept_has_none(server: LiveServer) -> None:
    created = _create(server)
    with server.context.sessions() as session:
        row = session.scalar(select(Pickup).where(Pickup.pickup_id == created["pickup_id"]))
        assert row is not None
        row.holder_sealed = None  # as migration 0007 leaves older rows
        session.commit()
    found = _lookup(server, created["notice_number"])
    assert (found["holder"], found["under_15"]) == (None, None)


# --- overrides --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["clerk", "operator"])
def test_only_a_supervisor_may_override(server: LiveServer, role: str) -> None:
    pickup = _create(server)
    refused = _override(server, pickup["pickup_id"], ["face_visual"], role=role)
    assert (refused.status_code, refused.json()["error"]) == (403, "supervisor_required")


def test_a_supervisors_override_is_shown_once_and_stored_hashed_with_the_reason_sealed(server: LiveServer) -> None:
    pickup = _create(server)
    response = _override(server, pickup["pickup_id"], ["face_visual", "card_verified"])
    assert response.status_code == 201, response.text
    issued = response.json()
    assert issued["failed_checks"] == ["card_verified", "face_visual"]  # in the contract's order
    assert issued["supervisor"].startswith("supervisor-") and issued["kiosk_id"] == "kiosk-01"
    expires = datetime.fromisoformat(issued["expires_at"].replace("Z", "+00:00"))
    assert abs(expires - (server.clock() + server.context.settings.handover_grant_lifetime)) < timedelta(minutes=1)
    stored = _database_bytes(server)
    assert issued["override"].encode() not in stored
    assert REASON.encode() not in stored
    with server.context.sessions() as session:
        row = session.scalar(
            select(CheckOverride).where(CheckOverride.override_sha256 == overrides.override_digest(issued["override"]))
        )
        assert row is not None and row.used_at is None
        assert overrides.reason_of(row, server.context.keys) == REASON


def test_an_override_needs_known_check_names_and_a_reason(server: LiveServer) -> None:
    pickup_id = _create(server)["pickup_id"]
    for failed, reason in (
        ([], REASON), (["pins_set"], REASON), (["face_visual", "face_visual"], REASON), (["face"], REASON),
        (["face_visual"], "短い"), (["face_visual"], "     \t  "), (["face_visual"], "本人確認\x00済み"),
        (["face_visual"], "x" * 501),
    ):
        response = _override(server, pickup_id, failed, reason=reason)
        assert response.status_code == 422, (failed, reason, response.text)
        assert REASON not in response.text  # the refusal never quotes the reason
    assert _override(server, pickup_id, ["face_visual"], reason="写真と本人が一致").status_code == 201


def test_no_override_for_a_pickup_that_is_closed(server: LiveServer) -> None:
    pickup = _create(server)
    cancel = server.session().post(
        server.url(f"/v1/pickups/{pickup['pickup_id']}/cancel"), headers=_bearer(_token(server, "operator"))
    )
    assert cancel.status_code == 200
    refused = _override(server, pickup["pickup_id"], ["face_visual"])
    assert (refused.status_code, refused.json()["error"]) == (409, "pickup_cancelled")


# --- the handover and its checks --------------------------------------------------------------------------


def test_a_required_check_that_did_not_pass_stops_the_handover(server: LiveServer) -> None:
    pickup_id = _create(server)["pickup_id"]
    grant = _grant(server, pickup_id)
    for check in ("card_verified", "card_identity", "basic4_match", "face_visual"):
        for outcome in ("failed", "not_checked"):
            refused = _hand_over(server, pickup_id, grant, checks=checks(**{check: outcome}))
            assert refused.status_code == 409, refused.text
            assert (refused.json()["error"], refused.json()["failed_checks"]) == ("checks_failed", [check])
    assert _pickup_row(server, pickup_id).status == "ready"
    assert _hand_over(server, pickup_id, grant).status_code == 200  # all passed: the same grant goes through


def test_pins_not_set_do_not_stop_the_handover(server: LiveServer) -> None:
    """A face-only card (顔認証マイナンバーカード) has no PINs: pins_set is reported, never required."""
    pickup = _create(server)
    done = _hand_over(server, pickup["pickup_id"], _grant(server, pickup["pickup_id"]),
                      checks=checks(pins_set="not_checked"), pins_set=[])
    assert done.status_code == 200, done.text
    assert (done.json()["overridden_checks"], done.json()["supervisor"]) == ([], None)


def test_an_override_lets_the_handover_through_and_is_recorded(server: LiveServer) -> None:
    pickup = _create(server)
    pickup_id = pickup["pickup_id"]
    grant = _grant(server, pickup_id)
    failed = checks(face_visual="failed", basic4_match="not_checked")
    assert _hand_over(server, pickup_id, grant, checks=failed).status_code == 409
    issued = _override(server, pickup_id, ["face_visual", "basic4_match"]).json()
    key = idempotency_key()
    collected = {"notification_card": True, "juki_card": True, "old_card": False}
    pins = ["juki", "auth", "card_info"]
    done = _hand_over(server, pickup_id, grant, key=key, checks=failed, override=issued["override"],
                      pins_set=pins, collected=collected)
    assert done.status_code == 200, done.text
    result = done.json()
    assert result["overridden_checks"] == ["basic4_match", "face_visual"]
    assert result["supervisor"] == issued["supervisor"] and result["clerk"].startswith("clerk-")

    row = _pickup_row(server, pickup_id)
    assert row.status == "handed_over"
    assert json.loads(row.handover_details or "") == {
        "checks": failed, "pins_set": ["auth", "card_info", "juki"], "collected": collected,
    }
    with server.context.sessions() as session:
        used = session.scalar(select(CheckOverride).where(CheckOverride.pickup_row_id == row.id))
        assert used is not None and used.used_at is not None
        # single use: the override cannot let anything else through
        locked = session.scalar(select(Pickup).where(Pickup.id == row.id))
        assert locked is not None
        with pytest.raises(ApiError) as again:
            overrides.redeem(session, issued["override"], locked, kiosk_id="kiosk-01", now=server.clock())
        assert again.value.code == "override_used"
    replay = server.session().post(
        server.url(f"/v1/pickups/{pickup_id}/handover"),
        json=handover_body(SERIAL, result["handed_over_at"], grant, checks=failed, override=issued["override"],
                           pins_set=pins, collected=collected),
        headers={"Idempotency-Key": key},
    )
    assert replay.status_code == 200 and replay.json() == {**result, "duplicate": True}


def test_an_override_must_name_exactly_the_checks_that_did_not_pass(server: LiveServer) -> None:
    pickup = _create(server)
    pickup_id = pickup["pickup_id"]
    grant = _grant(server, pickup_id)
    override = _override(server, pickup_id, ["face_visual"]).json()["override"]
    more = _hand_over(server, pickup_id, grant, checks=checks(face_visual="failed", card_verified="failed"),
                      override=override)
    assert (more.status_code, more.json()["error"]) == (409, "override_mismatch")
    assert more.json()["failed_checks"] == ["card_verified", "face_visual"]
    none_failed = _hand_over(server, pickup_id, grant, override=override)
    assert (none_failed.status_code, none_failed.json()["error"]) == (409, "override_mismatch")
    exact = _hand_over(server, pickup_id, grant, checks=checks(face_visual="failed"), override=override)
    assert exact.status_code == 200, exact.text  # the refusals used up neither the grant nor the override


def test_an_override_is_bound_to_its_pickup_and_its_kiosk(server: LiveServer) -> None:
    first, second = _create(server)["pickup_id"], _create(server)["pickup_id"]
    override = _override(server, first, ["face_visual"]).json()["override"]
    failed = checks(face_visual="failed")
    other_pickup = _hand_over(server, second, _grant(server, second), checks=failed, override=override)
    assert (other_pickup.status_code, other_pickup.json()["error"]) == (403, "override_invalid")
    other_kiosk = _hand_over(server, first, _grant(server, first, kiosk="kiosk-02"), kiosk="kiosk-02",
                             checks=failed, override=override)
    assert (other_kiosk.status_code, other_kiosk.json()["error"]) == (403, "override_invalid")
    made_up = _hand_over(server, first, _grant(server, first), checks=failed, override="O" * 43)
    assert (made_up.status_code, made_up.json()["error"]) == (403, "override_invalid")
    assert _hand_over(server, first, _grant(server, first), checks=failed, override=override).status_code == 200


def test_an_override_expires_like_a_grant(server: LiveServer) -> None:
    pickup_id = _create(server)["pickup_id"]
    override = _override(server, pickup_id, ["face_visual"]).json()["override"]
    lifetime = server.context.settings.handover_grant_lifetime
    server.clock.advance(lifetime - timedelta(minutes=1))
    grant = _grant(server, pickup_id)  # a fresh grant: only the override has run out
    server.clock.advance(timedelta(minutes=2))
    expired = _hand_over(server, pickup_id, grant, checks=checks(face_visual="failed"), override=override)
    assert (expired.status_code, expired.json()["error"]) == (403, "override_expired")


def test_no_override_hands_over_another_card(server: LiveServer) -> None:
    pickup_id = _create(server)["pickup_id"]
    grant = _grant(server, pickup_id)
    override = _override(server, pickup_id, ["card_identity"]).json()["override"]
    body = handover_body("FFFF0001", now_iso(), grant, checks=checks(card_identity="failed"), override=override)
    refused = server.session().post(
        server.url(f"/v1/pickups/{pickup_id}/handover"), json=body, headers={"Idempotency-Key": idempotency_key()}
    )
    assert (refused.status_code, refused.json()["error"]) == (409, "card_mismatch")


def test_malformed_details_are_a_422(server: LiveServer) -> None:
    pickup_id = _create(server)["pickup_id"]
    grant = _grant(server, pickup_id)
    for changes in (
        {"checks": {**checks(), "face_visual": "ok"}},
        {"checks": {k: v for k, v in checks().items() if k != "pins_set"}},
        {"checks": {**checks(), "photo_match": "passed"}},
        {"pins_set": ["auth", "auth"]},
        {"pins_set": ["pin"]},
        {"collected": {"notification_card": "yes", "juki_card": False, "old_card": False}},
        {"collected": {"notification_card": True, "juki_card": False}},
        {"override": "short"},
    ):
        response = _hand_over(server, pickup_id, grant, **changes)
        assert response.status_code == 422, (changes, response.text)


def test_the_contract_documents_the_override_and_the_handover_details() -> None:
    schema = create_app(Settings()).openapi()
    override = schema["paths"]["/v1/pickups/{pickup_id}/overrides"]["post"]
    assert override["security"] == [{"kioskCertificate": [], "clerkToken": []}]
    assert "supervisor_required" in override["responses"]["403"]["description"]
    handover = schema["paths"]["/v1/pickups/{pickup_id}/handover"]["post"]
    assert "checks_failed" in handover["responses"]["409"]["description"]
    request = schema["components"]["schemas"]["HandoverRequest"]
    assert set(request["required"]) == {"card_auth_cert_serial", "handed_over_at", "grant", "checks", "pins_set",
                                        "collected"}
    pickup = schema["components"]["schemas"]["PickupOut"]["properties"]
    assert {"holder", "under_15", "card"} <= set(pickup)
