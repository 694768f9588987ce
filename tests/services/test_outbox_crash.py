"""``kill -9`` of the process running the flusher, mid-flush: nothing lost, nothing twice.

The sharpest case is held on purpose: the server has committed an application and is about to answer
when the kiosk process dies. The kiosk never learned of the receipt, so after restart it must send the
same item again with the same idempotency key, and the server must answer from its first record.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import time

from kiosk.services.at_rest import load_key_file
from kiosk.services.outbox import Backoff, Flusher, Outbox, central_delivery
from tests.services import synthetic
from tests.services.fake_central import FakeCentral, wait_until
from tests.services.kiosk_process import LEASE, KioskProcess, tls_files
from tests.services.outbox_file import row


def finish_in_process(outbox: Outbox, central: FakeCentral, make_client) -> None:
    client = make_client(central.url)
    with Flusher(outbox, central_delivery(client), poll_seconds=0.1):
        assert wait_until(lambda: outbox.status().depth == 0, timeout=30)


def test_kill_9_between_the_servers_commit_and_ours(central, pki, tmp_path, kiosk_processes,
                                                   make_client) -> None:
    key_file = tmp_path / "outbox.key"
    db = tmp_path / "outbox.sqlite3"
    outbox = Outbox(db, load_key_file(key_file), backoff=Backoff(0.05, 0.2), lease_seconds=LEASE)
    applications = [synthetic.application(n) for n in range(12)]
    receipts = [outbox.enqueue("application", a) for a in applications]
    central.script.extend(["ok"] * 4 + ["hold"])  # the fifth is stored, then its answer waits

    kiosk = KioskProcess(db, key_file, central.url, **tls_files(pki))
    kiosk_processes.append(kiosk)
    assert central.wait_stored(5)
    held = receipts[4]
    state = row(outbox.path, "SELECT state, attempts, lease_until IS NOT NULL FROM items WHERE id = ?",
                (held.item_id,))
    assert state == ("queued", 1, 1)  # on the server, but not acknowledged here: in flight
    kiosk.kill9()
    central.release()

    assert outbox.status().depth == 8  # four acknowledged before the crash
    finish_in_process(outbox, central, make_client)
    assert set(central.ledger.applications) == {a["application_id"] for a in applications}
    assert central.ledger.stats["duplicates"] == 1  # the held one, re-sent with its key
    assert central.ledger.stats["already_submitted"] == 0
    attempts = row(outbox.path, "SELECT attempts FROM items WHERE id = ?", (held.item_id,))[0]
    assert attempts == 2
    outbox.close()


def test_repeated_kill_9_at_random_moments(central, pki, tmp_path, kiosk_processes, make_client) -> None:
    key_file = tmp_path / "outbox.key"
    db = tmp_path / "outbox.sqlite3"
    outbox = Outbox(db, load_key_file(key_file), backoff=Backoff(0.05, 0.2), lease_seconds=LEASE)
    applications = [synthetic.application(n, photo_size=20_000) for n in range(40)]
    for application in applications:
        outbox.enqueue("application", application)
    central.mode, central.slow_seconds = "slow", 0.01
    chance = random.Random(4)  # noqa: S311 - test timing, not security
    for _ in range(4):
        before = central.stored_count()
        kiosk = KioskProcess(db, key_file, central.url, **tls_files(pki))
        kiosk_processes.append(kiosk)
        wait_until(lambda before=before: central.stored_count() > before, timeout=10)
        time.sleep(chance.uniform(0.0, 0.15))  # a random moment inside the flush
        kiosk.kill9()
    finish_in_process(outbox, central, make_client)
    assert set(central.ledger.applications) == {a["application_id"] for a in applications}
    assert central.ledger.stats["already_submitted"] == 0
    check = sqlite3.connect(db)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()
    outbox.close()


def test_sigterm_stops_the_flusher_cleanly(central, pki, tmp_path, kiosk_processes) -> None:
    key_file = tmp_path / "outbox.key"
    db = tmp_path / "outbox.sqlite3"
    with Outbox(db, load_key_file(key_file)) as outbox:
        outbox.enqueue("application", synthetic.application(1))
        kiosk = KioskProcess(db, key_file, central.url, **tls_files(pki))
        kiosk_processes.append(kiosk)
        assert wait_until(lambda: outbox.status().depth == 0)
        kiosk.proc.send_signal(signal.SIGTERM)
        assert kiosk.proc.wait(10) == 0
