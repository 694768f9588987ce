"""The kiosk's audit log (kiosk/services/audit_log.py): a durable local chain that survives restarts and
threads, is shipped in order to the reference server when it is reachable, waits while it is not, and
never lets a resident's data in."""

from __future__ import annotations

import contextlib
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from contract.audit import AuditEntry, AuditInvalid, verify_chain
from kiosk.config import load_config
from kiosk.services.audit_log import AuditError, AuditLog, AuditShipper, open_audit_log, read_trail, verify_rows
from kiosk.services.errors import AuditChainBroken, ServerUnreachable
from kiosk.services.outbox import flusher_from_config
from tests.services.fake_central import wait_until
from tests.services.real_central import KIOSK_ID, RealCentral, unavailable_reason

PICKUP = "P-00000000000000AB"
MY_NUMBER = "123456789018"  # synthetic


def handover(log: AuditLog, n: int = 0) -> AuditEntry:
    return log.append("clerk07", "clerk", "pickup.handover", "ok", subject=PICKUP,
                      details={"checks": {"auth_chain": "passed"}, "pins_set": n})


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[AuditLog]:
    with AuditLog(tmp_path / "audit.sqlite3", KIOSK_ID) as log:
        yield log


def server_rows(real: RealCentral) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(real.database)) as db:
        return list(db.execute("SELECT seq, hash FROM audit_entries WHERE kiosk_id = ? ORDER BY seq", (KIOSK_ID,)))


def edit(path: Path, sql: str, *params: Any) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(sql, params)
        db.commit()


# --- the local chain -------------------------------------------------------------------------------------


def test_entries_chain_and_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    with AuditLog(path, KIOSK_ID) as log:
        first = log.append("clerk07", "clerk", "clerk.sign_in", "ok")
        second = handover(log)
    assert (first.seq, second.seq, second.prev_hash) == (1, 2, first.hash)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with AuditLog(path, KIOSK_ID) as again:  # a restart (or power cut after the commit) keeps the chain
        third = again.append("system", "system", "clerk.timeout", "ok")
        assert (third.seq, third.prev_hash) == (3, second.hash)
        assert again.entries() == [first, second, third]
        assert again.verify().valid and again.last() == third
    with pytest.raises(AuditError, match="kiosk"):
        AuditLog(path, "another-kiosk")


def test_personal_data_is_refused_and_nothing_is_written(trail: AuditLog) -> None:
    handover(trail)
    for bad in ({"details": {"my_number": MY_NUMBER}}, {"details": {"name": "試験　太郎"}},
                {"subject": "98760000000000000000001"}):
        with pytest.raises(AuditInvalid):
            trail.append("clerk07", "clerk", "pickup.lookup", "ok", **bad)  # type: ignore[arg-type]
    with pytest.raises(AuditInvalid):
        trail.append("試験", "clerk", "clerk.sign_in", "ok")
    assert trail.status().entries == 1
    files = [trail.path, trail.path.with_name(trail.path.name + "-wal")]
    raw = b"".join(path.read_bytes() for path in files if path.exists())
    for needle in (MY_NUMBER, "試験", "98760000000000000000001"):
        assert needle.encode() not in raw


def test_threads_appending_at_once_make_one_gapless_chain(trail: AuditLog, tmp_path: Path) -> None:
    second = AuditLog(trail.path, KIOSK_ID)  # another connection, as a second process would have
    try:
        def work(log: AuditLog) -> None:
            for n in range(15):
                handover(log, n)

        threads = [threading.Thread(target=work, args=(trail if i % 2 else second,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        entries = trail.entries()
        assert [e.seq for e in entries] == list(range(1, 91))
        assert verify_chain(entries) is None
    finally:
        second.close()


@pytest.mark.parametrize(("tamper", "kind", "position"), [
    ("UPDATE entries SET outcome = 'refused' WHERE seq = 3", "modified", 2),
    ("DELETE FROM entries WHERE seq = 3", "deleted", 2),
    ("DELETE FROM entries WHERE seq = 1", "deleted", 0),
    # taken out and written back: it is now after seq 5 in the order of writing
    ("INSERT INTO entries (seq, kiosk_id, at, actor, role, action, outcome, subject, details, prev_hash, hash)"
     " SELECT 1000, kiosk_id, at, actor, role, action, outcome, subject, details, prev_hash, hash FROM entries"
     " WHERE seq = 2; DELETE FROM entries WHERE seq = 2; UPDATE entries SET seq = 2 WHERE seq = 1000", "reordered", 1),
])
def test_verify_names_the_first_bad_row(trail: AuditLog, tamper: str, kind: str, position: int) -> None:
    for n in range(5):
        handover(trail, n)
    with contextlib.closing(sqlite3.connect(trail.path)) as db:
        db.executescript(tamper)
    summary = trail.verify()
    assert summary.problem is not None
    assert (summary.problem.kind, summary.problem.index) == (kind, position)


def test_entries_cut_off_below_the_shipped_mark_are_found(trail: AuditLog) -> None:
    for n in range(5):
        handover(trail, n)
    trail.mark_shipped(4)
    edit(trail.path, "DELETE FROM entries WHERE seq >= 4")  # the end of a chain proves nothing by itself
    summary = trail.verify()
    assert summary.problem is not None and summary.problem.kind == "truncated"
    assert "acknowledged entries up to seq 4" in summary.problem.message
    rows, shipped, _digest, kiosk = read_trail(trail.path)
    assert (shipped, kiosk) == (4, KIOSK_ID)
    assert verify_rows(rows).valid  # the rows alone look fine: the mark is what catches it


def test_the_shipped_mark_only_moves_forward_and_never_past_the_end(trail: AuditLog) -> None:
    entries = [handover(trail, n) for n in range(4)]
    assert trail.unshipped() == entries
    trail.mark_shipped(3)
    trail.mark_shipped(2)
    assert trail.shipped_seq() == 3 and trail.unshipped() == entries[3:]
    with pytest.raises(ValueError, match="no audit entry"):
        trail.mark_shipped(9)
    assert trail.status().unshipped == 1


# --- shipping ----------------------------------------------------------------------------------------------


class BlockingCentral:
    """A central client whose ``append_audit`` waits until released (an HTTP request in flight)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.batches: list[list[AuditEntry]] = []

    def append_audit(self, entries: list[AuditEntry]) -> Any:
        self.entered.set()
        self.release.wait(30)
        self.batches.append(entries)
        from kiosk.services.central import AuditAck

        return AuditAck(len(entries), 0, entries[-1].seq, entries[-1].hash)


def test_append_never_waits_for_the_network(trail: AuditLog) -> None:
    handover(trail)
    central = BlockingCentral()
    shipping = threading.Thread(target=trail.ship, args=(central,))
    shipping.start()
    try:
        assert central.entered.wait(10)
        appending = threading.Thread(target=handover, args=(trail, 1))
        appending.start()
        appending.join(10)
        assert not appending.is_alive(), "append waited for the request in flight"
        assert trail.status().last_seq == 2
    finally:
        central.release.set()
        shipping.join(10)
    assert [e.seq for batch in central.batches for e in batch] == [1]
    assert trail.shipped_seq() == 1


class Down:
    def __init__(self) -> None:
        self.calls = 0

    def append_audit(self, entries: list[AuditEntry]) -> Any:
        self.calls += 1
        raise ServerUnreachable("the central server cannot be reached")


def test_the_shipper_backs_off_while_the_server_is_down(trail: AuditLog) -> None:
    handover(trail)
    now = [100.0]
    down = Down()
    shipper = AuditShipper(trail, down, base=10.0, maximum=60.0, clock=lambda: now[0], rng=lambda: 1.0)
    report = shipper()
    assert report is not None and report.blocked_by == "unreachable" and down.calls == 1
    assert shipper() is None and down.calls == 1  # within the backoff: no second attempt
    now[0] += 10.0
    assert shipper() is not None and down.calls == 2
    assert trail.shipped_seq() == 0 and trail.status().unshipped == 1


pytestmark_real = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))


@pytest.fixture
def real(tmp_path: Path) -> Iterator[RealCentral]:
    server = RealCentral(tmp_path / "server")
    try:
        yield server
    finally:
        server.stop()


@pytestmark_real
def test_offline_entries_wait_then_ship_in_order(trail: AuditLog, real: RealCentral, make_client) -> None:
    client = make_client(real.url, connect_timeout=0.5, read_timeout=2.0, **real.client_options())
    offline = [handover(trail, n) for n in range(5)]
    report = trail.ship(client)
    assert report.blocked_by in ("unreachable", "timeout_connect") and report.shipped == 0
    assert trail.status().unshipped == 5
    real.start()
    report = trail.ship(client, batch_size=2)  # three batches
    assert (report.shipped, report.stored, report.duplicates, report.blocked_by) == (5, 5, 0, None)
    assert server_rows(real) == [(e.seq, e.hash) for e in offline]
    later = handover(trail, 9)
    assert trail.ship(client).stored == 1 and server_rows(real)[-1] == (6, later.hash)
    assert trail.status().unshipped == 0


@pytestmark_real
def test_a_resend_after_a_lost_answer_is_taken_as_duplicates(trail: AuditLog, real: RealCentral,
                                                              make_client) -> None:
    client = make_client(real.url, **real.client_options())
    real.start()
    for n in range(3):
        handover(trail, n)
    assert trail.ship(client).stored == 3
    edit(trail.path, "DELETE FROM meta WHERE name IN ('shipped_seq', 'shipped_hash')")  # the answer was lost
    handover(trail, 3)
    report = trail.ship(client)
    assert (report.stored, report.duplicates, report.blocked_by) == (1, 3, None)
    assert len(server_rows(real)) == 4


@pytestmark_real
def test_after_the_server_lost_entries_the_kiosk_resends_them(trail: AuditLog, real: RealCentral,
                                                              make_client) -> None:
    client = make_client(real.url, **real.client_options())
    real.start()
    entries = [handover(trail, n) for n in range(4)]
    trail.ship(client)
    edit(real.database, "DELETE FROM audit_entries WHERE seq > 2")  # the server restored from a backup
    newer = handover(trail, 4)
    report = trail.ship(client)
    assert (report.resent_from, report.blocked_by) == (3, None)
    assert server_rows(real) == [(e.seq, e.hash) for e in [*entries, newer]]


@pytestmark_real
def test_a_fork_is_refused_and_shipping_stops(tmp_path: Path, real: RealCentral, make_client) -> None:
    client = make_client(real.url, **real.client_options())
    real.start()
    with AuditLog(tmp_path / "first.sqlite3", KIOSK_ID) as first:
        for n in range(3):
            handover(first, n)
        first.ship(client)
    with AuditLog(tmp_path / "rewritten.sqlite3", KIOSK_ID) as rewritten:  # a chain made anew from the genesis
        for n in range(5):
            rewritten.append("clerk08", "clerk", "pickup.cancel", "cancelled", subject=PICKUP, details={"n": n})
        report = rewritten.ship(client)
        assert report.blocked_by == "audit_chain_broken" and report.shipped == 0
        assert rewritten.status().unshipped == 5
        tail = rewritten.entries()[3:]
    assert len(server_rows(real)) == 3
    with pytest.raises(AuditChainBroken) as refused:  # its seq 4 does not follow the server's seq 3
        client.append_audit(tail)
    assert (refused.value.expected_seq, refused.value.status) == (4, 409)
    assert refused.value.expected_prev_hash == server_rows(real)[-1][1]


@pytestmark_real
def test_the_kiosk_flusher_ships_the_trail(tmp_path: Path, real: RealCentral) -> None:
    """What ``kiosk run`` does: one flusher thread delivers the outbox and ships the audit trail."""
    real.start()
    config_file = tmp_path / "kiosk.toml"
    config_file.write_text(f"""
[kiosk]
id = "{KIOSK_ID}"

[server]
url = "{real.url}"
ca_bundle = "{real.ca_cert}"
client_cert = "{real.client_cert}"
client_key = "{real.client_key}"

[outbox]
path = "state/outbox.sqlite3"
key_file = "state/outbox.key"
poll_seconds = 30

[audit]
path = "state/audit.sqlite3"
""")
    config = load_config(config_file)
    from kiosk.services.outbox import open_outbox

    with open_outbox(config) as outbox, open_audit_log(config) as log:
        assert log.path == tmp_path / "state" / "audit.sqlite3"
        flusher = flusher_from_config(config, outbox, audit=log).start()
        try:
            entry = log.append("clerk07", "clerk", "clerk.sign_in", "ok")  # wakes the flusher at once
            assert wait_until(lambda: server_rows(real) == [(1, entry.hash)], timeout=15)
            assert wait_until(lambda: log.status().unshipped == 0)
        finally:
            flusher.stop()
            assert flusher.join(10)
