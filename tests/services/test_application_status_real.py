"""``CentralClient.application_status`` against the reference server (real mTLS, its lifecycle, its limit),
and a second application for the same 申請書ID through the outbox: delivered with a note, not dead.

Skipped only while the reference server cannot be imported.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.application_id import InvalidApplicationId
from kiosk.services.central import ApplicationStatus
from kiosk.services.errors import Conflict, RateLimited
from kiosk.services.outbox import Backoff, Flusher, central_delivery
from tests.services import synthetic
from tests.services.fake_central import wait_until
from tests.services.outbox_file import row
from tests.services.real_central import RealCentral, unavailable_reason

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))

QUALITY = 30  # a real JPEG of ~65 KB


@pytest.fixture
def real(tmp_path: Path) -> Iterator[RealCentral]:
    server = RealCentral(tmp_path / "server").start()
    try:
        yield server
    finally:
        server.stop()


def test_the_status_of_an_application_as_it_moves(real: RealCentral, make_client) -> None:
    from server.application_admin import set_application_status

    client = make_client(real.url, **real.client_options())
    application = synthetic.application(1, jpeg_quality=QUALITY)
    app_id = application["application_id"]
    client.submit_application(application, "first-key-0000000001")

    received = client.application_status(app_id)
    assert isinstance(received, ApplicationStatus) and received.known
    assert (received.status, received.next_step) == ("received", "wait_for_notice")
    assert received.application_id_masked == "*" * 19 + app_id[-4:]
    assert received.updated_at and received.updated_at.endswith("Z")

    set_application_status(real._context(), app_id, "in_production")
    assert client.application_status(app_id).status == "in_production"
    set_application_status(real._context(), app_id, "refused")
    refused = client.application_status(app_id)
    assert (refused.status, refused.next_step) == ("refused", "contact_counter")
    assert app_id not in repr(refused)


def test_an_unknown_id_is_an_answer_and_too_many_are_rate_limited(real: RealCentral, make_client) -> None:
    client = make_client(real.url, **real.client_options())
    burst = real.settings.status_lookup_burst
    answers = [client.application_status(synthetic.application_id(100 + n)) for n in range(burst)]
    assert {(a.status, a.known, a.next_step) for a in answers} == {("unknown", False, None)}
    assert answers[0].application_id_masked == "*" * 19 + synthetic.application_id(100)[-4:]
    with pytest.raises(RateLimited) as limited:
        client.application_status(synthetic.application_id(999))
    assert limited.value.status == 429 and limited.value.retryable
    assert limited.value.retry_after is not None and 1 <= limited.value.retry_after <= 12
    assert "try again in" in str(limited.value)


@pytest.mark.parametrize("bad", ["9876" + "0" * 19 + "\n", " " + "9" * 23, "９" * 23, "1" * 22, "1" * 24])
def test_a_malformed_id_is_refused_before_anything_is_sent(real: RealCentral, make_client, bad: str) -> None:
    client = make_client(real.url, **real.client_options())
    with pytest.raises(InvalidApplicationId) as refused:
        client.application_status(bad)
    assert bad.strip() not in str(refused.value)
    # Nothing reached the server: its budget of unknown ids is untouched.
    burst = real.settings.status_lookup_burst
    assert [client.application_status(synthetic.application_id(n)).status for n in range(burst)] == ["unknown"] * burst


def test_no_log_line_holds_the_application_id(real: RealCentral, make_client, caplog) -> None:
    client = make_client(real.url, **real.client_options())
    app_id = synthetic.application_id(4242)
    with caplog.at_level(logging.DEBUG):  # urllib3 logs request lines at DEBUG
        client.application_status(app_id)
    assert "/v1/applications/{id}/status" in caplog.text
    # urllib3 did log the request line — with the id replaced before any handler saw it.
    assert any(r.name == "urllib3.connectionpool" and "/v1/applications/{application_id}/status" in r.getMessage()
               for r in caplog.records)
    assert app_id not in caplog.text and app_id not in "".join(r.getMessage() for r in caplog.records)


def test_a_second_application_for_the_same_id_is_delivered_with_a_note_and_the_first_receipt(
    real: RealCentral, make_outbox, make_client
) -> None:
    """A resident applies twice (another photo), and another kiosk sends the same id: the server keeps the first;
    both later items are delivered-with-note, carry the first receipt, and none is dead."""
    client = make_client(real.url, **real.client_options())
    first = synthetic.application(7, jpeg_quality=QUALITY)
    again = synthetic.application(7, jpeg_quality=QUALITY + 10)  # the same 申請書ID, another photo
    kiosk_a, kiosk_b = make_outbox("a.sqlite3", backoff=Backoff(0.05, 0.2)), make_outbox("b.sqlite3")
    original = kiosk_a.enqueue("application", first).item_id
    twice = kiosk_a.enqueue("application", again).item_id
    other_kiosk = kiosk_b.enqueue("application", first).item_id
    for outbox in (kiosk_a, kiosk_b):
        with Flusher(outbox, central_delivery(client), poll_seconds=0.1):
            assert wait_until(lambda outbox=outbox: outbox.status().depth == 0, timeout=60)
        assert outbox.status().dead == ()
    receipt = row(kiosk_a.path, "SELECT receipt_id FROM items WHERE id = ?", (original,))[0]
    assert receipt and receipt.startswith("R-")
    query = "SELECT state, receipt_id, last_error FROM items WHERE id = ?"
    assert row(kiosk_a.path, query, (twice,)) == ("delivered", receipt, "already_submitted")
    assert row(kiosk_b.path, query, (other_kiosk,)) == ("delivered", receipt, "already_submitted")
    assert real.count("applications") == 1

    with pytest.raises(Conflict) as conflict:  # what the outbox read: the first receipt, nothing personal
        client.submit_application(again, "third-key-000000000001")
    assert (conflict.value.code, conflict.value.receipt_id) == ("already_submitted", receipt)
    assert first["application_id"] not in str(conflict.value)
