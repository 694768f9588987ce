"""A full disk: what is queued is still delivered (and marked delivered), and the kiosk knows *before* a
resident starts that it cannot take a new application.

Real file system, really full: a 4 MiB tmpfs mounted for the test (we run as root), filled to the last byte
by a filler file. Before the fix the first claim already failed — the lease update needs WAL space — so
nothing was delivered until someone freed space (``OutboxError: database or disk is full``).
Where mounting is not permitted (no root, a container without CAP_SYS_ADMIN) these tests skip and say so;
``test_outbox.py::test_a_full_disk_is_a_clear_error_and_the_outbox_recovers`` still covers a full database
through SQLite's ``max_page_count``, which cannot fill the WAL's file system.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.services.outbox import Backoff, Delivered, Flusher, Outbox, OutboxFull, OutboxItem, central_delivery
from tests.services import synthetic
from tests.services.conftest import TEST_KEY
from tests.services.fake_central import wait_until
from tests.services.real_central import RealCentral, unavailable_reason

DISK_BYTES = 4 * 1024 * 1024
RESERVE = 1024 * 1024
LARGEST = 200_000
MARGIN = 128 * 1024


def _mount_error(target: Path) -> str | None:
    if os.geteuid() != 0:
        return "not root: cannot mount a tmpfs"
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0700", "tmpfs", str(target)],
                            capture_output=True, text=True, check=False, timeout=30)
    return None if result.returncode == 0 else f"mount -t tmpfs refused: {result.stderr.strip()}"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB file system of its own, unmounted afterwards even when the test failed."""
    target = tmp_path / "disk"
    target.mkdir()
    problem = _mount_error(target)
    if problem is not None:
        pytest.skip(problem)
    try:
        yield target
    finally:
        result = subprocess.run(["umount", str(target)], capture_output=True, check=False, timeout=30)
        if result.returncode != 0:  # something still holds a file open: detach it, never leave it mounted
            subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False, timeout=30)


def fill(directory: Path) -> Path:
    """Write a filler file until the file system refuses even one more byte."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    assert os.statvfs(directory).f_bavail == 0
    return filler


def open_small(directory: Path, **options: object) -> Outbox:
    options.setdefault("backoff", Backoff(0.01, 0.05))
    return Outbox(directory / "outbox.sqlite3", TEST_KEY, reserve_bytes=RESERVE, largest_item_bytes=LARGEST,
                  margin_bytes=MARGIN, **options)  # type: ignore[arg-type]


def recording() -> tuple[list[str], Callable[[OutboxItem], Delivered]]:
    sent: list[str] = []

    def deliver(item: OutboxItem) -> Delivered:
        sent.append(item.payload["application_id"])
        return Delivered(f"R-{item.local_number}")

    return sent, deliver


def test_a_full_disk_does_not_stop_delivery_of_what_is_queued(small_disk: Path) -> None:
    outbox = open_small(small_disk)
    try:
        applications = [synthetic.application(n, photo_size=60_000) for n in range(6)]
        for application in applications:
            outbox.enqueue("application", application)
        reserve = small_disk / "outbox.sqlite3-reserve"
        assert reserve.stat().st_size == RESERVE and reserve.stat().st_blocks * 512 >= RESERVE  # not sparse
        assert outbox.can_accept()

        filler = fill(small_disk)
        assert outbox.capacity().reason == "disk_full"  # asked before a resident starts: no
        with pytest.raises(OutboxFull, match="disk is full"):
            outbox.enqueue("application", synthetic.application(99, photo_size=60_000))
        assert outbox.status().depth == 6  # the refused one left nothing behind
        assert reserve.exists()  # a new application never eats the reserve

        sent, deliver = recording()
        with Flusher(outbox, deliver, poll_seconds=0.05):
            assert wait_until(lambda: outbox.status().depth == 0, timeout=30)
        status = outbox.status()
        assert status.delivered == 6 and status.dead == ()
        assert sorted(sent) == sorted(a["application_id"] for a in applications)
        assert not reserve.exists()  # it was given back so that delivery could go on

        capacity = outbox.capacity()
        assert not capacity.accepting and not outbox.can_accept(1000)
        assert capacity.reason == "reserve_in_use"

        filler.unlink()  # an operator frees space
        assert outbox.keep_reserve() and reserve.stat().st_size == RESERVE
        assert outbox.can_accept() and outbox.capacity().reason is None
        outbox.enqueue("application", synthetic.application(7, photo_size=60_000))
    finally:
        outbox.close()


def test_can_accept_says_no_before_the_disk_is_full(small_disk: Path) -> None:
    """The flow's question: is there room for one more of the largest application, plus the margin?"""
    outbox = open_small(small_disk)
    try:
        assert outbox.can_accept()
        free = outbox.capacity().free_bytes
        # Leave just less than the margin plus two copies of the largest application.
        blocker = small_disk / "blocker"
        with blocker.open("wb") as out:
            out.write(b"\0" * (free - (MARGIN + 2 * LARGEST) + 64 * 1024))
        capacity = outbox.capacity()
        assert not capacity.accepting and capacity.reason == "disk_full"
        assert capacity.needed_bytes == MARGIN + 2 * LARGEST and capacity.reserve_ready
        assert outbox.can_accept(10_000)  # a small one (no photo yet?) would still fit
        assert capacity.as_dict()["accepting"] is False
        # Nothing queued meanwhile can be lost by asking: capacity() only looks.
        assert outbox.status().depth == 0 and (small_disk / "outbox.sqlite3-reserve").exists()
    finally:
        outbox.close()


def test_free_pages_inside_the_database_count_as_room(small_disk: Path) -> None:
    """A delivered photo's pages stay in the database file (free pages) and are reused by the next one."""
    outbox = open_small(small_disk)
    try:
        for n in range(6):
            outbox.enqueue("application", synthetic.application(n, photo_size=100_000))
        outbox.checkpoint()
        before = outbox.capacity()
        assert before.reusable_bytes == 0
        outbox.drain(recording()[1])
        outbox.checkpoint()
        after = outbox.capacity()
        assert after.reusable_bytes >= 6 * 100_000  # the payload pages are free for the next applications
        assert after.free_bytes >= before.free_bytes - 64 * 1024  # and the file system lost nothing to them
    finally:
        outbox.close()


@pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))
def test_a_full_kiosk_disk_still_delivers_to_the_reference_server(small_disk: Path, tmp_path: Path,
                                                                  make_client) -> None:
    real = RealCentral(tmp_path / "server").start()  # the server's own files are not on the small disk
    outbox = open_small(small_disk, backoff=Backoff(0.05, 0.2))
    try:
        applications = [synthetic.application(n, jpeg_quality=30) for n in range(4)]
        for application in applications:
            outbox.enqueue("application", application)
        fill(small_disk)
        assert not outbox.can_accept()
        client = make_client(real.url, **real.client_options())
        with Flusher(outbox, central_delivery(client), poll_seconds=0.05):
            assert wait_until(lambda: outbox.status().depth == 0, timeout=60)
        assert outbox.status().delivered == 4 and outbox.status().dead == ()
        assert real.count("applications") == 4 and real.count("idempotency_records") == 4
    finally:
        outbox.close()
        real.stop()
