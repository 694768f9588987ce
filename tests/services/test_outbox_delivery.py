"""The outbox and its flusher against a real HTTPS server with client certificates and injected faults.

Every scenario ends with the same check: each queued application is on the server exactly once — one
record per application id, and never a second idempotency key for the same application (the fake server
counts those as ``already_submitted``).
"""

from __future__ import annotations

import logging

import pytest

from contract.payloads import PayloadInvalid
from kiosk.services.outbox import Backoff, Flusher, FlushEvent, Outbox, central_delivery
from tests.services import synthetic
from tests.services.fake_central import FakeCentral, wait_until
from tests.services.outbox_file import row


def assert_exactly_once(central: FakeCentral, applications: list[dict]) -> None:
    assert set(central.ledger.applications) == {a["application_id"] for a in applications}
    assert central.ledger.stats["already_submitted"] == 0
    assert central.ledger.stats["key_reused"] == 0


def queue(outbox: Outbox, count: int, start: int = 0) -> list[dict]:
    applications = [synthetic.application(start + n) for n in range(count)]
    for application in applications:
        outbox.enqueue("application", application)
    return applications


@pytest.fixture
def run_flusher(make_client):
    flushers: list[Flusher] = []

    def run(outbox: Outbox, url: str, *, read_timeout: float = 2.0, events: list | None = None) -> Flusher:
        client = make_client(url, read_timeout=read_timeout, connect_timeout=1.0)
        listener = events.append if events is not None else None
        flusher = Flusher(outbox, central_delivery(client), poll_seconds=0.2, listener=listener).start()
        flushers.append(flusher)
        return flusher

    yield run
    for flusher in flushers:
        flusher.stop()
    for flusher in flushers:
        assert flusher.join(10)


def test_happy_path_and_ui_events(central, make_outbox, run_flusher) -> None:
    outbox = make_outbox()
    events: list[FlushEvent] = []
    run_flusher(outbox, central.url, events=events)
    applications = queue(outbox, 5)
    assert wait_until(lambda: outbox.status().depth == 0)
    assert_exactly_once(central, applications)
    assert sorted(e.local_number for e in events) == [f"{n:06d}" for n in range(1, 6)]
    assert {e.outcome for e in events} == {"delivered"} and all(e.receipt_id for e in events)
    assert outbox.status().delivered == 5


def test_server_stopped_then_restarted(pki, make_outbox, run_flusher) -> None:
    central = FakeCentral(pki).start()
    try:
        url = central.url
        central.stop()  # the server is down before the kiosk even starts
        outbox = make_outbox(backoff=Backoff(0.05, 0.2))
        run_flusher(outbox, url)
        applications = queue(outbox, 8)
        assert wait_until(lambda: outbox.status().last_error == "unreachable")
        assert outbox.status().depth == 8  # nothing lost, nothing given up
        central.start()  # same port
        assert wait_until(lambda: outbox.status().depth == 0)
        assert_exactly_once(central, applications)
        # Down again, mid-stream, then back: the pooled connection to the old server must not matter.
        central.stop()
        more = queue(outbox, 4, start=100)
        assert wait_until(lambda: outbox.status().last_error == "unreachable")
        central.start()
        outbox.flush_now()
        assert wait_until(lambda: outbox.status().depth == 0)
        assert_exactly_once(central, applications + more)
    finally:
        central.stop()


def test_server_answering_500(central, make_outbox, run_flusher) -> None:
    central.script.extend(["error500"] * 5)
    outbox = make_outbox()
    applications = queue(outbox, 3)
    run_flusher(outbox, central.url)
    assert wait_until(lambda: outbox.status().depth == 0)
    assert_exactly_once(central, applications)
    assert outbox.status().last_error == "http_500"


def test_timeouts_resend_with_the_same_key(central, make_outbox, run_flusher) -> None:
    central.script.extend(["slow", "slow"])
    central.slow_seconds = 3.0
    outbox = make_outbox()
    applications = queue(outbox, 3)
    run_flusher(outbox, central.url, read_timeout=0.3)
    assert wait_until(lambda: outbox.status().depth == 0)
    assert_exactly_once(central, applications)
    assert central.ledger.stats["duplicates"] >= 1  # the retry was answered from the first record
    assert outbox.status().last_error == "timeout_read"


def test_lost_response_is_retried_with_the_same_key_and_stays_one_record(central, make_outbox,
                                                                          run_flusher) -> None:
    central.script.extend(["drop", "drop", "drop"])
    outbox = make_outbox()
    applications = queue(outbox, 2)
    run_flusher(outbox, central.url)
    assert wait_until(lambda: outbox.status().depth == 0)
    assert_exactly_once(central, applications)
    assert central.ledger.stats["duplicates"] == 3  # three stored-but-unanswered, three dedupes
    assert outbox.status().delivered == 2


def test_permanent_refusal_goes_dead_is_not_retried_and_is_visible(central, make_outbox, run_flusher) -> None:
    central.script.append("reject")
    outbox = make_outbox()
    events: list[FlushEvent] = []
    applications = queue(outbox, 3)
    run_flusher(outbox, central.url, events=events)
    assert wait_until(lambda: outbox.status().depth == 0)
    status = outbox.status()
    assert [(d.local_number, d.last_error, d.attempts) for d in status.dead] == [("000001", "invalid_photo", 1)]
    assert_exactly_once(central, applications[1:])
    writes = central.ledger.stats["writes"]
    outbox.flush_now()  # even a manual flush does not resurrect a dead item
    assert not wait_until(lambda: central.ledger.stats["writes"] > writes, timeout=0.5)
    assert [e.outcome for e in events if e.local_number == "000001"] == ["dead"]


def test_already_submitted_under_another_key_counts_as_delivered(central, make_client, make_outbox,
                                                                  run_flusher) -> None:
    application = synthetic.application(1)
    first = make_client(central.url).submit_application(application, "restored-backup-key-0001")
    outbox = make_outbox()
    item_id = outbox.enqueue("application", application).item_id
    events: list[FlushEvent] = []
    run_flusher(outbox, central.url, events=events)
    assert wait_until(lambda: outbox.status().depth == 0)
    status = outbox.status()
    assert status.dead == () and status.delivered == 1
    # Delivered with a note, and with the receipt of the application the server already had.
    assert row(outbox.path, "SELECT state, receipt_id, last_error FROM items WHERE id = ?", (item_id,)) == (
        "delivered", first.receipt_id, "already_submitted")
    assert [(e.outcome, e.error, e.receipt_id) for e in events] == [("delivered", "already_submitted",
                                                                     first.receipt_id)]


def test_handover_through_the_outbox(central, make_outbox, run_flusher) -> None:
    outbox = make_outbox()
    outbox.enqueue("handover", synthetic.handover(42))
    with pytest.raises(PayloadInvalid):
        outbox.enqueue("handover", {"pickup_id": "P-0000000000000043"})  # malformed: refused, never queued
    run_flusher(outbox, central.url)
    assert wait_until(lambda: outbox.status().depth == 0)
    assert list(central.ledger.handovers) == [synthetic.handover(42)["pickup_id"]]
    assert outbox.status().dead == ()


def test_a_refused_grant_is_dead_with_its_reason_and_never_retried(central, make_outbox, run_flusher) -> None:
    """Where a clerk token once made a 401 that was retried forever, a refused grant goes to staff at once."""
    outbox = make_outbox()
    expired, used = synthetic.handover(1), synthetic.handover(2)
    central.refused_grants = {expired["grant"]: "grant_expired", used["grant"]: "grant_used"}
    for item in (expired, used, synthetic.handover(3)):
        outbox.enqueue("handover", item)
    events: list[FlushEvent] = []
    run_flusher(outbox, central.url, events=events)
    assert wait_until(lambda: outbox.status().depth == 0)
    status = outbox.status()
    assert [(d.local_number, d.last_error) for d in status.dead] == [("000001", "grant_expired"),
                                                                     ("000002", "grant_used")]
    assert all(d.attempts == 1 for d in status.dead) and status.delivered == 1
    assert [(e.outcome, e.error) for e in events if e.outcome == "dead"] == [("dead", "grant_expired"),
                                                                           ("dead", "grant_used")]
    assert central.ledger.stats["grant_refused"] == 2
    outbox.flush_now()
    assert not wait_until(lambda: len(events) > 3, timeout=0.6)  # no further attempt, even after a flush
    assert [d.attempts for d in outbox.status().dead] == [1, 1]
    assert central.ledger.stats["grant_refused"] == 2


def test_everything_at_once(pki, make_outbox, run_flusher, caplog) -> None:
    """Outage, 500s, slowness and lost answers in one run; plus: nothing personal in the logs."""
    caplog.set_level(logging.DEBUG)
    central = FakeCentral(pki).start()
    try:
        central.slow_seconds = 2.0
        central.script.extend(["error500", "drop", "slow", "ok", "drop", "error500", "slow", "ok", "drop"])
        outbox = make_outbox(backoff=Backoff(0.02, 0.1))
        run_flusher(outbox, central.url, read_timeout=0.3)
        applications = queue(outbox, 10)
        assert wait_until(lambda: central.stored_count() >= 3)
        central.stop()
        applications += queue(outbox, 10, start=50)
        central.start()
        assert wait_until(lambda: outbox.status().depth == 0, timeout=60)
        assert_exactly_once(central, applications)
    finally:
        central.stop()
    for application in applications[:3]:
        for needle in synthetic.personal_needles(application).values():
            assert needle.decode("utf-8", "ignore") not in caplog.text
