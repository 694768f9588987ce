"""The clerk's side of the counter through the kiosk's own client, against the reference server over mTLS:
finding a pickup, the basic 4 check, a supervisor's override, the handover through the outbox with its
checks, and the staff calls of the clerk's office.

Synthetic residents only. Every refusal must come out as the typed error the flow acts on.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from contract.payloads import PayloadInvalid, checks_needing_override
from drivers.mynumber.basic4 import Basic4
from kiosk.services.central import CentralClient, PickupRecord
from kiosk.services.errors import Conflict, Rejected
from kiosk.services.outbox import Backoff, central_delivery
from tests.contract.images import noise_jpeg
from tests.services import synthetic
from tests.services.real_central import SYNTHETIC_BASIC4, RealCentral, unavailable_reason

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))

SERIAL = "0a1b2c3e"
PHOTO = noise_jpeg(600, 800, seed=11)
APPLICATION_ID = "98760000000000000004242"


@pytest.fixture
def real(tmp_path: Path) -> Iterator[RealCentral]:
    server = RealCentral(tmp_path / "server").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(real: RealCentral, make_client: Any) -> CentralClient:
    return make_client(real.url, **real.client_options())  # type: ignore[no-any-return]


def _signed_in(real: RealCentral, client: CentralClient, role: str = "clerk", office: str | None = None) -> str:
    username, password = real.add_clerk(role, office=office)
    return client.sign_in_clerk(username, password).token


def test_the_clerk_finds_the_pickup_by_notice_or_application_id(real: RealCentral, client: CentralClient) -> None:
    pickup_id = real.seed_pickup(SERIAL, notice_number="N-4242", application_id=APPLICATION_ID, photo=PHOTO)
    token = _signed_in(real, client)
    by_notice = client.find_pickup(notice_number="N-4242", clerk_token=token)
    by_id = client.find_pickup(application_id=APPLICATION_ID, clerk_token=token)
    for record in (by_notice, by_id):
        assert isinstance(record, PickupRecord) and record.ready
        assert (record.pickup_id, record.notice_number, record.status) == (pickup_id, "N-4242", "ready")
        assert (record.holder_name, record.birth_date) == (SYNTHETIC_BASIC4["name"], "1980-01-01")
        assert record.under_15 is False and record.photo_jpeg == PHOTO
        assert record.application_id_masked.endswith("4242") and APPLICATION_ID not in record.application_id_masked
        assert record.is_expected_card("000A1B2C3E") and not record.is_expected_card("0A1B2C3F")
        assert record.is_expected_card(SERIAL, "0C" * 20) and not record.is_expected_card(SERIAL, "0d" * 20)
    assert SYNTHETIC_BASIC4["name"] not in repr(by_notice)
    by_notice.wipe()
    assert (by_notice.holder_name, by_notice.birth_date, by_notice.photo_jpeg) == (None, None, None)
    with pytest.raises(Rejected) as missing:
        client.find_pickup(notice_number="N-0000", clerk_token=token)
    assert (missing.value.status, missing.value.code) == (404, "pickup_not_found")


def test_a_child_is_under_15(real: RealCentral, client: CentralClient) -> None:
    today = date.today()
    child = {**SYNTHETIC_BASIC4, "birth_date": f"{today.year - 10}0101"}
    real.seed_pickup(SERIAL, notice_number="N-CHILD", basic4=child)
    record = client.find_pickup(notice_number="N-CHILD", clerk_token=_signed_in(real, client))
    assert record is not None and record.under_15 is True


def test_a_lookup_that_cannot_be_sent_is_refused_before_it_is(client: CentralClient) -> None:
    for kwargs in ({}, {"notice_number": "N-1", "application_id": APPLICATION_ID}, {"notice_number": "N 1"},
                   {"application_id": "1234"}):
        with pytest.raises(ValueError):
            client.find_pickup(clerk_token="not-sent", **kwargs)


def test_a_lookup_without_a_live_clerk_session_is_refused(real: RealCentral, client: CentralClient) -> None:
    with pytest.raises(Rejected) as refused:
        client.find_pickup(notice_number="N-1", clerk_token="a-token-the-server-never-issued")
    assert (refused.value.status, refused.value.code, refused.value.retryable) == (401, "token_invalid", False)


def test_the_basic4_check_takes_the_cards_basic4(real: RealCentral, client: CentralClient) -> None:
    pickup_id = real.seed_pickup(SERIAL)
    token = _signed_in(real, client)
    card = Basic4(name="試験 太郎", address="試験県試験市１−２−３", birth_date=date(1980, 1, 1), sex="1")
    assert client.check_basic4(pickup_id, card, clerk_token=token) is True
    other = Basic4(name="試験 太郎", address="試験県試験市1-2-3", birth_date=date(1980, 1, 2), sex="1")
    assert client.check_basic4(pickup_id, other, clerk_token=token) is False
    assert client.check_basic4(pickup_id, SYNTHETIC_BASIC4, clerk_token=token) is True
    with pytest.raises(PayloadInvalid):  # a sex code the server does not take: not checked, nothing sent
        client.check_basic4(pickup_id, {**SYNTHETIC_BASIC4, "sex": "3"}, clerk_token=token)
    with pytest.raises(Rejected) as unknown:
        client.check_basic4("P-0000000000000000", card, clerk_token=token)
    assert (unknown.value.status, unknown.value.code) == (404, "pickup_not_found")


def _queue_handover(real: RealCentral, client: CentralClient, outbox: Any, pickup_id: str, *,
                    checks: dict[str, str], override: str | None = None) -> None:
    grant = client.authorise_handover(pickup_id, clerk_token=_signed_in(real, client)).grant
    item = {**synthetic.handover(1, pickup_id=pickup_id, card_auth_cert_serial=SERIAL.upper(), grant=grant),
            "checks": checks}
    if override is not None:
        item["override"] = override
    outbox.enqueue("handover", item)


def test_a_supervisor_overrides_a_failed_check_and_the_handover_lands(real: RealCentral, client: CentralClient,
                                                                      make_outbox: Any) -> None:
    pickup_id = real.seed_pickup(SERIAL)
    checks = {**synthetic.handover_details()["checks"], "face_visual": "failed"}
    failed = list(checks_needing_override(checks))
    with pytest.raises(Rejected) as clerk:
        client.request_override(pickup_id, failed, "顔が一致しない", supervisor_token=_signed_in(real, client))
    assert (clerk.value.status, clerk.value.code) == (403, "supervisor_required")
    with pytest.raises(PayloadInvalid):
        client.request_override(pickup_id, failed, "短い", supervisor_token="not-sent")
    override = client.request_override(pickup_id, failed, "本人確認書類二点で確認済み",
                                       supervisor_token=_signed_in(real, client, "supervisor"))
    outbox = make_outbox(backoff=Backoff(0.05, 0.2))
    _queue_handover(real, client, outbox, pickup_id, checks=checks, override=override)
    report = outbox.drain(central_delivery(client))
    assert (report.delivered, report.dead) == (1, 0)
    assert real.pickup_status(pickup_id) == "handed_over"
    assert real.overrides() == [(pickup_id, '["face_visual"]', 1)]


def test_a_failed_check_without_an_override_is_dead_with_its_reason(real: RealCentral, client: CentralClient,
                                                                   make_outbox: Any) -> None:
    pickup_id = real.seed_pickup(SERIAL)
    outbox = make_outbox(backoff=Backoff(0.05, 0.2))
    checks = {**synthetic.handover_details()["checks"], "basic4_match": "not_checked"}
    _queue_handover(real, client, outbox, pickup_id, checks=checks)
    report = outbox.drain(central_delivery(client))
    assert (report.delivered, report.dead, report.retried) == (0, 1, 0)
    assert [d.last_error for d in outbox.status().dead] == ["checks_failed"]
    assert real.pickup_status(pickup_id) == "ready"


def test_an_expired_override_is_dead_as_override_expired(real: RealCentral, client: CentralClient,
                                                        make_outbox: Any) -> None:
    pickup_id = real.seed_pickup(SERIAL)
    override = client.request_override(pickup_id, ["card_verified"], "読取機の不調、窓口で再確認",
                                       supervisor_token=_signed_in(real, client, "supervisor"))
    real.clock.advance(real.settings.handover_grant_lifetime * 2)
    outbox = make_outbox(backoff=Backoff(0.05, 0.2))
    _queue_handover(real, client, outbox, pickup_id, override=override,
                    checks={**synthetic.handover_details()["checks"], "card_verified": "failed"})
    assert outbox.drain(central_delivery(client)).dead == 1
    assert [d.last_error for d in outbox.status().dead] == ["override_expired"]


def test_staff_calls_of_the_clerks_office_are_listed_and_acknowledged(real: RealCentral,
                                                                      client: CentralClient) -> None:
    real.set_kiosk_office("north")
    waiting, taken_back = str(uuid.uuid4()), str(uuid.uuid4())
    client.report_staff_call(waiting, called_at="2026-12-03T10:00:00+09:00")
    client.report_staff_call(taken_back, called_at="2026-12-03T10:01:00+09:00")
    client.cancel_staff_call(taken_back)
    north, everyone = _signed_in(real, client, office="north"), _signed_in(real, client)
    for token in (north, everyone):
        [entry] = client.staff_calls(clerk_token=token)
        assert (entry.call_id, entry.kiosk_id, entry.status) == (waiting, "test-kiosk-01", "open")
        assert entry.age_seconds >= 0
    south = _signed_in(real, client, office="south")
    assert client.staff_calls(clerk_token=south) == []
    with pytest.raises(Rejected) as elsewhere:
        client.acknowledge_staff_call(waiting, clerk_token=south)
    assert (elsewhere.value.status, elsewhere.value.code) == (404, "staff_call_not_found")
    state = client.acknowledge_staff_call(waiting, clerk_token=north)
    assert (state.call_id, state.status) == (waiting, "acknowledged")
    assert client.staff_calls(clerk_token=north) == []
    with pytest.raises(Conflict) as cancelled:
        client.acknowledge_staff_call(taken_back, clerk_token=north)
    assert cancelled.value.code == "staff_call_cancelled"
    with pytest.raises(ValueError):
        client.acknowledge_staff_call("not-a-uuid", clerk_token=north)
