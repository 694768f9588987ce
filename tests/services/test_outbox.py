"""Outbox bookkeeping with a fake clock and plain delivery functions (no network here: see the scenario
tests for the real HTTPS ones). Backoff timing is checked exactly, without sleeping."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from contract.payloads import PayloadInvalid
from kiosk.services.at_rest import PayloadCipher
from kiosk.services.errors import Conflict, GrantRefused, Rejected, ServerError, ServerUnreachable, TlsError
from kiosk.services.outbox import Backoff, Delivered, Flusher, Outbox, OutboxError, OutboxItem, central_delivery
from tests.services import synthetic
from tests.services.conftest import TEST_KEY
from tests.services.outbox_file import payload_of, row, set_payload, write


class FakeClock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_enqueue_is_on_disk_before_it_returns(make_outbox, tmp_path: Path) -> None:
    outbox = make_outbox()
    receipt = outbox.enqueue("application", synthetic.application(1))
    assert receipt.state == "queued" and receipt.local_number == "000001"
    # Another connection (as another process would) sees the committed row at once.
    other = sqlite3.connect(tmp_path / "outbox.sqlite3")
    row = other.execute("SELECT kind, state, attempts, length(idempotency_key) FROM items").fetchone()
    other.close()
    assert row == ("application", "queued", 0, 32)


def test_the_database_is_durable_and_private(make_outbox, tmp_path: Path) -> None:
    outbox = make_outbox()
    outbox.enqueue("application", synthetic.application(1))
    # synchronous and secure_delete belong to the outbox's own connection: nothing outside can read them
    pragma = outbox._conn.execute
    assert pragma("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert pragma("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert pragma("PRAGMA secure_delete").fetchone()[0] == 1
    for suffix in ("", "-wal", "-shm"):
        assert (tmp_path / f"outbox.sqlite3{suffix}").stat().st_mode & 0o077 == 0


def test_unknown_kind_and_non_json_payloads_fail_at_once(make_outbox) -> None:
    outbox = make_outbox()
    with pytest.raises(ValueError):
        outbox.enqueue("photo", {})
    with pytest.raises(TypeError):
        outbox.enqueue("application", {"photo": b"bytes"})
    assert outbox.status().depth == 0


def test_each_item_has_its_own_idempotency_key_kept_across_attempts(make_outbox) -> None:
    clock = FakeClock()
    outbox = make_outbox(clock=clock, rng=lambda: 0.0)
    ids = [outbox.enqueue("application", synthetic.application(n)).item_id for n in range(3)]
    keys = set()
    for item_id in ids:
        first = outbox.claim(item_id)
        outbox.mark_retry(item_id, "unreachable")
        second = outbox.claim(item_id)
        assert first and second and first.idempotency_key == second.idempotency_key
        assert (first.attempts, second.attempts) == (1, 2)
        keys.add(first.idempotency_key)
    assert len(keys) == 3


def test_backoff_is_exponential_full_jitter_and_capped(make_outbox) -> None:
    clock = FakeClock()
    draws = iter([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0])
    outbox = make_outbox(clock=clock, backoff=Backoff(2.0, 20.0), rng=lambda: next(draws))
    item_id = outbox.enqueue("application", synthetic.application(1)).item_id
    waits = []
    for _ in range(8):
        assert outbox.claim(item_id) is not None
        when = outbox.mark_retry(item_id, "timeout_read")
        waits.append(when - clock.now)
        clock.now = when - 0.001
        assert outbox.claim(item_id) is None  # not before its time
        clock.now = when
    assert waits == [2.0, 4.0, 8.0, 16.0, 20.0, 20.0, 10.0, 0.0]
    assert Backoff(2.0, 20.0).cap(1000) == 20.0


def test_a_lease_hides_an_item_in_flight_and_expires_after_a_crash(make_outbox) -> None:
    clock = FakeClock()
    outbox = make_outbox(clock=clock, lease_seconds=30.0)
    item_id = outbox.enqueue("application", synthetic.application(1)).item_id
    first = outbox.claim(item_id)
    assert first is not None
    assert outbox.due_ids() == [] and outbox.claim(item_id) is None
    assert outbox.flush_now() == 0 and outbox.due_ids() == []  # flush_now respects leases
    clock.now += 30.0  # the sender died without a word
    again = outbox.claim(item_id)
    assert again is not None and again.idempotency_key == first.idempotency_key and again.attempts == 2


def test_two_outboxes_on_one_file_never_claim_the_same_item(make_outbox) -> None:
    a, b = make_outbox(), make_outbox()
    for n in range(40):
        a.enqueue("application", synthetic.application(n, photo_size=64))
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(outbox: Outbox) -> None:
        for item_id in outbox.due_ids():
            item = outbox.claim(item_id)
            if item is not None:
                with lock:
                    claimed.append(item.item_id)

    threads = [threading.Thread(target=worker, args=(o,)) for o in (a, b, a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == len(set(claimed)) == 40


def test_concurrent_enqueues_from_threads(make_outbox) -> None:
    outbox = make_outbox()
    numbers: list[str] = []

    def worker(base: int) -> None:
        for n in range(25):
            numbers.append(outbox.enqueue("application", synthetic.application(base + n, photo_size=64)).local_number)

    threads = [threading.Thread(target=worker, args=(k * 100,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(numbers)) == 100 and outbox.status().depth == 100


def deliver_with(outcome):
    def deliver(item: OutboxItem) -> Delivered:
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return deliver


@pytest.mark.parametrize(
    ("outcome", "state", "error"),
    [
        (Delivered("R1"), "delivered", None),
        (Delivered("R1", "duplicate"), "delivered", "duplicate"),
        (Conflict(409, "already_submitted", "already"), "delivered", "already_submitted"),
        (Conflict(409, "idempotency_key_reused", "other body"), "dead", "idempotency_key_reused"),
        (Rejected(422, "validation_error", "photo"), "dead", "validation_error"),
        (Rejected(404, "unknown_pickup", "no such pickup"), "dead", "unknown_pickup"),
        (Rejected(401, "unknown_kiosk", "certificate not registered"), "queued", "unknown_kiosk"),
        (Rejected(403, "forbidden", "no"), "queued", "forbidden"),
        (ServerError(503, "down"), "queued", "http_503"),
        (ServerUnreachable("down"), "queued", "unreachable"),
        (TlsError("bad cert"), "queued", "tls"),
        (KeyError("pickup_id"), "dead", "malformed_payload"),
        (RuntimeError("bug"), "queued", "internal_error"),
    ],
)
def test_outcomes_are_sorted_in_one_place(make_outbox, outcome, state, error) -> None:
    outbox = make_outbox()
    item_id = outbox.enqueue("application", synthetic.application(1)).item_id
    item = outbox.claim(item_id)
    assert item is not None
    event = outbox.deliver(item, deliver_with(outcome))
    found = row(outbox.path, "SELECT state, last_error FROM items")
    assert found == (state, error)
    assert (payload_of(outbox.path, item_id) is None) == (state == "delivered")  # wiped exactly when delivered
    assert event.outcome == {"queued": "retry"}.get(state, state)


@pytest.mark.parametrize(
    ("outcome", "state", "error"),
    [
        (Delivered("R1"), "delivered", None),
        (GrantRefused(403, "grant_expired", "expired"), "dead", "grant_expired"),
        (GrantRefused(403, "grant_used", "used"), "dead", "grant_used"),
        (GrantRefused(403, "grant_invalid", "unknown"), "dead", "grant_refused"),
        # The same refusals from a deliver function that did not type them (not CentralClient):
        (Rejected(403, "grant_expired", "expired"), "dead", "grant_expired"),
        (Rejected(401, "token_expired", "a clerk token from before grants"), "dead", "grant_refused"),
        # About the kiosk, not the grant: wait for the certificate to be fixed.
        (Rejected(403, "kiosk_disabled", "disabled"), "queued", "kiosk_disabled"),
        (Rejected(403, "kiosk_certificate_untrusted", "untrusted"), "queued", "kiosk_certificate_untrusted"),
        (Conflict(409, "card_mismatch", "wrong card"), "dead", "card_mismatch"),
        (ServerError(503, "down"), "queued", "http_503"),
    ],
)
def test_handover_outcomes_are_sorted_with_the_grant_in_mind(make_outbox, outcome, state, error) -> None:
    outbox = make_outbox()
    item_id = outbox.enqueue("handover", synthetic.handover(1)).item_id
    event = outbox.deliver(outbox.claim(item_id), deliver_with(outcome))
    assert row(outbox.path, "SELECT state, last_error FROM items") == (state, error)
    assert event.outcome == {"queued": "retry"}.get(state, state)
    if state == "dead":
        assert outbox.flush_now() == 0 and outbox.due_ids() == []  # never tried again by itself
        assert [d.last_error for d in outbox.status().dead] == [error]


def test_a_handover_is_checked_before_it_is_queued(make_outbox) -> None:
    outbox = make_outbox()
    for broken in (synthetic.handover(1, pickup_id="P-42"), synthetic.handover(2, grant="short"),
                   {**synthetic.handover(3), "clerk_token": "tok"},
                   {k: v for k, v in synthetic.handover(4).items() if k != "grant"},
                   {k: v for k, v in synthetic.handover(5).items() if k != "checks"},
                   synthetic.handover(6, pins_set=["sign", "sign"]), synthetic.handover(7, override="short")):
        with pytest.raises(PayloadInvalid):
            outbox.enqueue("handover", broken)
    assert outbox.status().depth == 0


def test_a_handover_queued_with_a_clerk_token_before_grants_goes_dead_as_grant_missing(make_outbox) -> None:
    """An outbox written by the previous version: the item has a clerk token and no grant."""
    outbox = make_outbox()
    old = {"pickup_id": "P-0000000000000001", "card_auth_cert_serial": "0A1B",
           "handed_over_at": "2026-11-26T10:00:00Z", "clerk_token": "an-expired-clerk-token"}
    blob = PayloadCipher(TEST_KEY).seal_json("old-item", "handover", old)  # sealed as the old version did
    write(outbox.path, "INSERT INTO items (id, kind, idempotency_key, payload, created_at, next_attempt_at)"
          " VALUES ('old-item', 'handover', 'old-item-key-0000', ?, 0, 0)", (blob,))
    event = outbox.deliver(outbox.claim("old-item"), central_delivery(NeverSends()))
    assert (event.outcome, event.error) == ("dead", "grant_missing")
    assert [d.last_error for d in outbox.status().dead] == ["grant_missing"]


class NeverSends:
    def record_handover(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("an item without a grant or without its checks must not be sent")


def test_a_handover_queued_before_handovers_carried_their_checks_goes_dead_and_is_never_sent(make_outbox) -> None:
    """An outbox written by the version before issue 10: a grant, but no checks, PINs or documents. Made-up
    outcomes would record checks nobody made, so the item is dead-lettered for staff to record by hand."""
    outbox = make_outbox()
    old = {k: v for k, v in synthetic.handover(1).items() if k not in ("checks", "pins_set", "collected")}
    blob = PayloadCipher(TEST_KEY).seal_json("old-item", "handover", old)
    write(outbox.path, "INSERT INTO items (id, kind, idempotency_key, payload, created_at, next_attempt_at)"
          " VALUES ('old-item', 'handover', 'old-item-key-0000', ?, 0, 0)", (blob,))
    event = outbox.deliver(outbox.claim("old-item"), central_delivery(NeverSends()))
    assert (event.outcome, event.error) == ("dead", "handover_details_missing")
    assert [d.last_error for d in outbox.status().dead] == ["handover_details_missing"]
    assert outbox.flush_now() == 0 and outbox.due_ids() == []


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    def record_handover(self, pickup_id: str, **kwargs: object) -> object:
        self.calls.append({"pickup_id": pickup_id, **kwargs})
        return SimpleNamespace(receipt_id=None, duplicate=False)


def test_a_handover_is_delivered_with_its_checks_and_its_override(make_outbox) -> None:
    outbox = make_outbox()
    item = synthetic.handover(1, override="TEST-OVERRIDE-" + "0" * 32,
                              checks={**synthetic.handover_details()["checks"], "face_visual": "failed"})
    outbox.enqueue("handover", item)
    outbox.enqueue("handover", synthetic.handover(2))
    recorder = Recorder()
    assert outbox.drain(central_delivery(recorder)).delivered == 2
    first, second = recorder.calls
    assert first["override"] == item["override"] and first["checks"] == item["checks"]
    assert (first["pins_set"], first["collected"]) == (item["pins_set"], item["collected"])
    assert second["override"] is None


def test_status_shows_depth_age_dead_items_and_last_error(make_outbox) -> None:
    clock = FakeClock()
    outbox = make_outbox(clock=clock)
    outbox.enqueue("application", synthetic.application(1))
    clock.now += 60
    dead = outbox.enqueue("application", synthetic.application(2))
    outbox.enqueue("handover", synthetic.handover(1))
    clock.now += 40
    outbox.deliver(outbox.claim(dead.item_id), deliver_with(Rejected(422, "invalid_photo", "bad")))
    status = outbox.status()
    assert status.depth == 2 and status.oldest_age_seconds == 100.0
    assert [(d.local_number, d.kind, d.last_error, d.attempts) for d in status.dead] == [
        ("000002", "application", "invalid_photo", 1)]
    assert status.last_error == "invalid_photo" and status.last_error_at == clock.now
    assert status.as_dict()["dead"][0]["local_number"] == "000002"


def test_dead_items_are_never_retried_automatically(make_outbox) -> None:
    outbox = make_outbox()
    item_id = outbox.enqueue("application", synthetic.application(1)).item_id
    outbox.deliver(outbox.claim(item_id), deliver_with(Rejected(422, "invalid_photo", "bad")))
    assert outbox.flush_now() == 0 and outbox.due_ids() == [] and outbox.claim(item_id) is None


def test_purge_removes_old_dead_items_and_delivery_records_only(make_outbox) -> None:
    """Purge is housekeeping: an application not yet delivered survives it however old it is."""
    clock = FakeClock()
    outbox = make_outbox(clock=clock, rng=lambda: 0.0)
    old_dead = outbox.enqueue("application", synthetic.application(1)).item_id
    old_done = outbox.enqueue("application", synthetic.application(2)).item_id
    old_queued = outbox.enqueue("application", synthetic.application(3)).item_id
    old_retrying = outbox.enqueue("application", synthetic.application(4)).item_id
    old_in_flight = outbox.enqueue("application", synthetic.application(5)).item_id
    outbox.deliver(outbox.claim(old_dead), deliver_with(Rejected(422, "x", "x")))
    outbox.deliver(outbox.claim(old_done), deliver_with(Delivered("R2")))
    outbox.deliver(outbox.claim(old_retrying), deliver_with(ServerError(503, "busy")))
    clock.now += 10 * 86400
    new_queued = outbox.enqueue("application", synthetic.application(6)).item_id
    new_dead = outbox.enqueue("application", synthetic.application(7)).item_id
    outbox.deliver(outbox.claim(new_dead), deliver_with(Rejected(422, "x", "x")))
    in_flight = outbox.claim(old_in_flight)  # a sender holds it right now
    assert in_flight is not None

    assert outbox.purge(7 * 86400) == (1, 1)

    status = outbox.status()
    assert status.depth == 4 and [d.item_id for d in status.dead] == [new_dead] and status.delivered == 0
    assert sorted(outbox.due_ids()) == sorted([old_queued, old_retrying, new_queued])
    # the sender that held the lease still completes, and the queued ones are still deliverable
    assert outbox.deliver(in_flight, deliver_with(Delivered("R5"))).outcome == "delivered"
    for item_id in outbox.due_ids():
        assert outbox.deliver(outbox.claim(item_id), deliver_with(Delivered("R"))).outcome == "delivered"
    assert outbox.status().depth == 0 and outbox.status().delivered == 4


def test_a_different_key_is_refused_instead_of_orphaning_items(make_outbox, tmp_path: Path) -> None:
    make_outbox().enqueue("application", synthetic.application(1))
    with pytest.raises(OutboxError, match="different key"):
        Outbox(tmp_path / "outbox.sqlite3", bytes(32))
    assert Outbox(tmp_path / "outbox.sqlite3", TEST_KEY).status().depth == 1


def test_a_payload_that_no_longer_opens_goes_dead_not_out(make_outbox) -> None:
    outbox = make_outbox()
    a = outbox.enqueue("application", synthetic.application(1)).item_id
    b = outbox.enqueue("application", synthetic.application(2)).item_id
    # Swap the two ciphertexts (an attacker or a bad restore): neither may be delivered as the other.
    set_payload(outbox.path, a, payload_of(outbox.path, b))
    assert outbox.claim(a) is None
    assert [d.last_error for d in outbox.status().dead] == ["payload_unreadable"]


def test_flusher_backs_off_exponentially_while_the_server_is_down(make_outbox) -> None:
    """Driven by a fake clock: the flusher's waits are recorded instead of slept."""
    clock = FakeClock()
    outbox = make_outbox(clock=clock, backoff=Backoff(1.0, 8.0), rng=lambda: 1.0)
    for n in range(3):
        outbox.enqueue("application", synthetic.application(n, photo_size=64))
    attempts: list[str] = []
    waits: list[float] = []
    up = threading.Event()

    def deliver(item: OutboxItem) -> Delivered:
        attempts.append(item.local_number)
        if not up.is_set():
            raise ServerUnreachable("down")
        return Delivered(f"R-{item.local_number}")

    flusher = Flusher(outbox, deliver, poll_seconds=1000.0)

    def fake_wait(seconds: float) -> None:
        waits.append(seconds)
        clock.now += seconds
        if len(waits) == 6:
            up.set()
        if len(waits) >= 7:
            flusher.stop()

    flusher._wait = fake_wait
    flusher.start()
    assert flusher.join(10)
    assert waits[:6] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]  # one probe per wait, not one per queued item
    assert len(attempts) == 6 + 3  # six failed probes, then the three items
    assert outbox.status().depth == 0


def test_flusher_stop_is_prompt_and_leaves_no_thread(make_outbox) -> None:
    outbox = make_outbox()
    flusher = Flusher(outbox, deliver_with(Delivered("R")), poll_seconds=3600).start()
    outbox.enqueue("application", synthetic.application(1))
    flusher.stop()
    assert flusher.join(5) and not flusher.alive


def test_an_item_never_shows_its_payload_in_a_repr(make_outbox) -> None:
    outbox = make_outbox()
    application = synthetic.application(3)
    item = outbox.claim(outbox.enqueue("application", application).item_id)
    text = repr(item) + str(item)
    assert "000001" in text
    for needle in synthetic.personal_needles(application).values():
        assert needle.decode("utf-8", "ignore") not in text


def test_a_full_disk_is_a_clear_error_and_the_outbox_recovers(make_outbox) -> None:
    outbox = make_outbox()
    outbox.enqueue("application", synthetic.application(1, photo_size=64))
    # fault injection: only the outbox's own connection can be given a full disk
    pages = outbox._conn.execute("PRAGMA page_count").fetchone()[0]
    outbox._conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is now "full"
    with pytest.raises(OutboxError, match="database or disk is full"):
        outbox.enqueue("application", synthetic.application(2, photo_size=200_000))
    assert outbox.status().depth == 1  # nothing half-written, no transaction left open
    outbox._conn.execute("PRAGMA max_page_count = 1073741823")
    assert outbox.enqueue("application", synthetic.application(3)).local_number in ("000002", "000003")
    assert outbox.status().depth == 2


def test_an_outbox_written_by_schema_1_is_still_delivered(make_outbox, tmp_path: Path) -> None:
    """Schema 1 kept the sealed payload in items.payload; such rows are read and wiped like new ones."""
    outbox = make_outbox()
    ids = [outbox.enqueue("application", synthetic.application(n)).item_id for n in range(2)]
    outbox.close()
    for item_id in ids:  # what a schema-1 file looks like: the payload inline, no row in payloads
        blob = payload_of(tmp_path / "outbox.sqlite3", item_id)
        write(tmp_path / "outbox.sqlite3", "UPDATE items SET payload = ? WHERE id = ?", (blob, item_id))
    write(tmp_path / "outbox.sqlite3", "DELETE FROM payloads")
    write(tmp_path / "outbox.sqlite3", "UPDATE meta SET value = '1' WHERE name = 'schema_version'")
    reopened = make_outbox()
    assert row(reopened.path, "SELECT value FROM meta WHERE name = 'schema_version'") == ("2",)
    sent: list[str] = []

    def deliver(item: OutboxItem) -> Delivered:
        sent.append(item.payload["application_id"])
        return Delivered("R")

    assert reopened.drain(deliver).delivered == 2
    assert sent == [synthetic.application_id(0), synthetic.application_id(1)]
    assert row(reopened.path, "SELECT COUNT(*) FROM items WHERE payload IS NOT NULL") == (0,)


def test_a_claim_rewrites_the_bookkeeping_not_the_photo(make_outbox) -> None:
    """The payload lives in its own table: leasing an item must not copy its photo into the WAL again."""
    outbox = make_outbox()
    item_id = outbox.enqueue("application", synthetic.application(1, photo_size=1_000_000)).item_id
    outbox.checkpoint()
    wal = outbox.path.with_name(outbox.path.name + "-wal")
    outbox.claim(item_id)
    outbox.mark_retry(item_id, "unreachable")
    assert wal.stat().st_size < 64 * 1024  # a few pages, not the 1.3 MB payload (2.7 MB with it inline)
