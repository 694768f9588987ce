"""One row whose bytes no longer open or decode must not stop the deliveries queued behind it.

The corruption is made from outside, through a sqlite3 connection of the test's own (``outbox_file``), the
way a bad restore, an older kiosk version or a disk error would leave it. Before the fix only a blob that
failed AES-GCM was handled: a blob that opened but was not JSON, or no blob at all, raised out of ``claim``
and ended every pass there (``drain`` raised; the flusher backed off and met the same row again after
each lease, forever, with the row never reaching the dead items).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kiosk.services.at_rest import PayloadCipher
from kiosk.services.outbox import Delivered, Flusher, Outbox, OutboxItem
from tests.services import synthetic
from tests.services.conftest import TEST_KEY
from tests.services.fake_central import wait_until
from tests.services.outbox_file import payload_of, row, set_payload


def _sealed(item_id: str, kind: str, plaintext: bytes) -> bytes:
    """Bytes sealed with the outbox's own key: they open, but what is inside is not a payload."""
    return PayloadCipher(TEST_KEY).seal(item_id, kind, plaintext)


def _inside(plaintext: bytes) -> Callable[[str, bytes], bytes]:
    return lambda item_id, _old: _sealed(item_id, "application", plaintext)


CORRUPTIONS: dict[str, tuple[Callable[[str, bytes], Any], str]] = {
    "not-utf8": (_inside(b"\xff\xfe\x00 not text"), "payload_undecodable"),
    "not-json": (_inside(b"{'photo': ...truncated"), "payload_undecodable"),
    "json-not-an-object": (_inside(b"[1, 2, 3]"), "payload_undecodable"),
    "missing": (lambda _item_id, _old: None, "payload_missing"),
    "truncated": (lambda _item_id, old: old[: len(old) // 2], "payload_unreadable"),
    "bit-flip": (lambda _item_id, old: old[:40] + bytes([old[40] ^ 1]) + old[41:], "payload_unreadable"),
    "text-not-bytes": (lambda _item_id, _old: "AQID" * 20, "payload_unreadable"),
}


def _queue(outbox: Outbox, count: int) -> list[str]:
    return [outbox.enqueue("application", synthetic.application(n, photo_size=4096)).item_id for n in range(count)]


def _recording() -> tuple[list[str], Callable[[OutboxItem], Delivered]]:
    sent: list[str] = []

    def deliver(item: OutboxItem) -> Delivered:
        sent.append(item.payload["application_id"])
        return Delivered(f"R-{item.local_number}")

    return sent, deliver


@pytest.mark.parametrize("corruption", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_one_bad_row_goes_dead_with_its_reason_and_the_pass_goes_on(make_outbox, corruption) -> None:
    make_bad, reason = corruption
    outbox = make_outbox()
    ids = _queue(outbox, 5)
    bad = ids[1]
    set_payload(outbox.path, bad, make_bad(bad, payload_of(outbox.path, bad)))
    sent, deliver = _recording()

    report = outbox.drain(deliver)

    assert (report.delivered, report.dead, report.retried, report.blocked_by) == (4, 1, 0, None)
    assert sent == [synthetic.application_id(n) for n in (0, 2, 3, 4)]
    status = outbox.status()
    assert status.depth == 0 and status.delivered == 4
    assert [(d.item_id, d.last_error) for d in status.dead] == [(bad, reason)]
    assert row(outbox.path, "SELECT state, lease_until FROM items WHERE id = ?", (bad,)) == ("dead", None)
    assert outbox.drain(deliver).delivered == 0  # a dead row is not tried again


def test_the_flusher_delivers_everything_behind_an_undecodable_row(make_outbox) -> None:
    outbox = make_outbox(lease_seconds=3600.0)  # a leased-and-forgotten bad row would hide for an hour
    ids = _queue(outbox, 6)
    for bad in (ids[0], ids[3]):
        set_payload(outbox.path, bad, _sealed(bad, "application", b"\x00\x01 no longer JSON"))
    sent, deliver = _recording()
    with Flusher(outbox, deliver, poll_seconds=0.05):
        assert wait_until(lambda: outbox.status().depth == 0, timeout=20)
    status = outbox.status()
    assert status.delivered == 4 and len(sent) == 4
    assert sorted((d.item_id, d.last_error) for d in status.dead) == sorted(
        (bad, "payload_undecodable") for bad in (ids[0], ids[3])
    )


def test_a_bad_row_never_shows_its_bytes_in_the_log(make_outbox, caplog) -> None:
    outbox = make_outbox()
    ids = _queue(outbox, 2)
    secret = b'{"application_id": "98765432109876543210987"'  # looks like a payload; must not be logged
    set_payload(outbox.path, ids[0], _sealed(ids[0], "application", secret + b"\xff"))
    with caplog.at_level("DEBUG"):
        outbox.drain(_recording()[1])
    assert "payload_undecodable" in caplog.text
    assert "98765432109876543210987" not in caplog.text and "application_id" not in caplog.text
