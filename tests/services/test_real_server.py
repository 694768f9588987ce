"""The same outbox scenarios against the reference server (``server/``): real mTLS, real JPEG checks, the
server's own idempotency store. Skipped only while the reference server cannot be imported."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.services.at_rest import load_key_file
from kiosk.services.errors import Conflict
from kiosk.services.outbox import Backoff, Flusher, Outbox, central_delivery
from tests.services import synthetic
from tests.services.fake_central import wait_until
from tests.services.kiosk_process import LEASE, KioskProcess
from tests.services.outbox_file import row, rows
from tests.services.real_central import RealCentral, unavailable_reason

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))

KEY_A = "aaaaaaaa-1111-2222-3333-444444444444"
KEY_B = "bbbbbbbb-1111-2222-3333-444444444444"
QUALITY = 30  # a real JPEG of ~65 KB: above the server's 20 KB minimum, quick to send


@pytest.fixture
def real(tmp_path: Path) -> Iterator[RealCentral]:
    server = RealCentral(tmp_path / "server").start()
    try:
        yield server
    finally:
        server.stop()


def test_contract_agreement(real: RealCentral, make_client) -> None:
    client = make_client(real.url, **real.client_options())
    application = synthetic.application(1, jpeg_quality=QUALITY)
    first = client.submit_application(application, KEY_A)
    again = client.submit_application(application, KEY_A)
    assert (first.duplicate, again.duplicate, first.receipt_id) == (False, True, again.receipt_id)
    assert first.application_id_masked.endswith(application["application_id"][-4:])
    with pytest.raises(Conflict) as other_key:
        client.submit_application(application, KEY_B)
    assert other_key.value.code == "already_submitted"
    with pytest.raises(Conflict) as other_body:
        client.submit_application(synthetic.application(2, jpeg_quality=QUALITY), KEY_A)
    assert other_body.value.code == "idempotency_key_reused"
    assert client.health() is True
    assert real.count("applications") == 1


def test_kill_9_between_the_servers_commit_and_ours(real: RealCentral, tmp_path: Path, kiosk_processes,
                                                   make_client) -> None:
    key_file, db = tmp_path / "outbox.key", tmp_path / "outbox.sqlite3"
    outbox = Outbox(db, load_key_file(key_file), backoff=Backoff(0.05, 0.2), lease_seconds=LEASE)
    receipts = [outbox.enqueue("application", synthetic.application(n, jpeg_quality=QUALITY)) for n in range(12)]
    real.switch.hold_at = 5  # the fifth answer waits after the server's commit
    options = real.client_options()
    kiosk = KioskProcess(db, key_file, real.url, ca=real.ca_cert, cert=real.client_cert, key=real.client_key)
    kiosk_processes.append(kiosk)
    assert real.switch.holding.wait(30)
    assert wait_until(lambda: real.count("applications") == 5)
    kiosk.kill9()
    real.switch.released.set()

    client = make_client(real.url, **options)
    with Flusher(outbox, central_delivery(client), poll_seconds=0.1):
        assert wait_until(lambda: outbox.status().depth == 0, timeout=60)
    assert real.count("applications") == 12
    assert real.count("idempotency_records") == 12  # one key per application: the re-send reused its key
    notes = [found[0] for found in rows(outbox.path, "SELECT last_error FROM items")]
    assert "already_submitted" not in notes
    attempts = row(outbox.path, "SELECT attempts FROM items WHERE id = ?", (receipts[4].item_id,))
    assert attempts[0] == 2
    outbox.close()


def test_server_stopped_restarted_and_a_refused_photo(real: RealCentral, make_outbox, make_client) -> None:
    real.stop()
    outbox = make_outbox(backoff=Backoff(0.05, 0.2))
    applications = [synthetic.application(n, jpeg_quality=QUALITY) for n in range(6)]
    for application in applications:
        outbox.enqueue("application", application)
    bad = synthetic.application(99, jpeg_quality=QUALITY)
    bad["photo_jpeg_base64"] = base64.b64encode(b"\xff\xd8\xff" + b"\x00" * 100).decode()  # too small
    outbox.enqueue("application", bad)
    client = make_client(real.url, connect_timeout=0.5, **real.client_options())
    with Flusher(outbox, central_delivery(client), poll_seconds=0.1):
        assert wait_until(lambda: outbox.status().last_error == "unreachable")
        real.start()
        outbox.flush_now()
        assert wait_until(lambda: outbox.status().depth == 0, timeout=60)
    status = outbox.status()
    assert [d.last_error for d in status.dead] == ["photo_too_small"]
    assert status.delivered == 6 and real.count("applications") == 6

