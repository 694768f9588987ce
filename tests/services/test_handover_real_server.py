"""Handovers through the outbox against the reference server: the clerk's grant, not the clerk's token.

The counter scene played by the kiosk's own client: a clerk signs in at the kiosk, authorises the handover
of one pickup (a single-use grant), signs out; the handover waits in the outbox through an outage longer
than any clerk session, and still lands. A grant that has expired or was used goes to staff (dead, with its
reason) and is never sent again.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from kiosk.services.errors import Rejected
from kiosk.services.outbox import Backoff, Flusher, FlushEvent, central_delivery
from tests.services import synthetic
from tests.services.fake_central import wait_until
from tests.services.real_central import RealCentral, unavailable_reason

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))

SERIAL = "0a1b2c3d"


@pytest.fixture
def real(tmp_path: Path) -> Iterator[RealCentral]:
    server = RealCentral(tmp_path / "server").start()
    try:
        yield server
    finally:
        server.stop()


def _authorise(real: RealCentral, client, pickup_id: str) -> str:
    """At the counter: the clerk signs in, authorises this pickup's handover, signs out."""
    username, password = real.add_clerk()
    clerk = client.sign_in_clerk(username, password)
    grant = client.authorise_handover(pickup_id, clerk_token=clerk.token)
    assert grant.pickup_id == pickup_id and grant.expires_at
    client.sign_out_clerk(clerk.token)
    with pytest.raises(Rejected) as signed_out:
        client.authorise_handover(pickup_id, clerk_token=clerk.token)
    assert (signed_out.value.status, signed_out.value.code) == (401, "token_invalid")
    return grant.grant


def _handover(pickup_id: str, grant: str) -> dict[str, str]:
    return {"pickup_id": pickup_id, "card_auth_cert_serial": SERIAL.upper(),
            "handed_over_at": "2026-12-03T10:00:00+09:00", "grant": grant, **synthetic.handover_details()}


def test_a_handover_queued_longer_than_a_clerk_session_still_lands(real: RealCentral, make_outbox,
                                                                   make_client) -> None:
    client = make_client(real.url, connect_timeout=0.5, **real.client_options())
    pickup_id = real.seed_pickup(SERIAL)
    grant = _authorise(real, client, pickup_id)
    outbox = make_outbox(backoff=Backoff(0.05, 0.2))
    outbox.enqueue("handover", _handover(pickup_id, grant))

    real.stop()  # the network goes; the item waits
    events: list[FlushEvent] = []
    with Flusher(outbox, central_delivery(client), poll_seconds=0.1, listener=events.append):
        assert wait_until(lambda: outbox.status().last_error == "unreachable")
        # Two days pass (a clerk session lasts 30 minutes); then the server comes back.
        real.clock.advance(real.settings.clerk_token_lifetime * 96)
        real.start()
        outbox.flush_now()
        assert wait_until(lambda: outbox.status().depth == 0, timeout=30)
    status = outbox.status()
    assert status.dead == () and status.delivered == 1
    assert events[-1].outcome == "delivered"
    assert real.pickup_status(pickup_id) == "handed_over"


def test_an_expired_grant_is_dead_with_its_reason_and_never_retried(real: RealCentral, make_outbox,
                                                                   make_client) -> None:
    client = make_client(real.url, **real.client_options())
    pickup_id = real.seed_pickup(SERIAL)
    grant = _authorise(real, client, pickup_id)
    outbox = make_outbox(backoff=Backoff(0.05, 0.2))
    outbox.enqueue("handover", _handover(pickup_id, grant))
    real.clock.advance(real.settings.handover_grant_lifetime + timedelta(minutes=1))
    events: list[FlushEvent] = []
    with Flusher(outbox, central_delivery(client), poll_seconds=0.1, listener=events.append):
        assert wait_until(lambda: outbox.status().depth == 0)
        outbox.flush_now()
        assert not wait_until(lambda: len(events) > 1, timeout=0.5)
    [dead] = outbox.status().dead
    assert (dead.kind, dead.last_error, dead.attempts) == ("handover", "grant_expired", 1)
    assert [(e.outcome, e.error) for e in events] == [("dead", "grant_expired")]
    assert real.pickup_status(pickup_id) == "ready"


def test_a_grant_used_once_refuses_a_second_handover_item(real: RealCentral, make_outbox, make_client) -> None:
    """The same grant queued twice (a double tap): the first lands, the second is dead as grant_used."""
    client = make_client(real.url, **real.client_options())
    pickup_id = real.seed_pickup(SERIAL)
    grant = _authorise(real, client, pickup_id)
    outbox = make_outbox(backoff=Backoff(0.05, 0.2))
    outbox.enqueue("handover", _handover(pickup_id, grant))
    outbox.enqueue("handover", _handover(pickup_id, grant))
    report = outbox.drain(central_delivery(client))
    assert (report.delivered, report.dead, report.retried) == (1, 1, 0)
    assert [(d.local_number, d.last_error) for d in outbox.status().dead] == [("000002", "grant_used")]
    assert real.count("handover_grants") == 1
