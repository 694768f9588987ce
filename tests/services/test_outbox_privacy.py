"""No clear personal data in any file the outbox writes: database, -wal, -shm — queued or delivered.

Synthetic residents carry recognisable values (name in kanji and kana, e-mail, phone, a 23-digit
application id, a marker inside the photo and a slice of the photo's base64); every byte of every file
in the outbox folder is searched for each of them, in UTF-8, JSON-escaped and UTF-16 forms.
"""

from __future__ import annotations

from pathlib import Path

from kiosk.services.outbox import Flusher, central_delivery
from tests.services import synthetic
from tests.services.fake_central import wait_until
from tests.services.outbox_file import row


def leaks(folder: Path, applications: list[dict]) -> list[str]:
    found = []
    files = [p for p in folder.rglob("*") if p.is_file()]
    for path in files:
        data = path.read_bytes()
        for application in applications:
            for label, needle in synthetic.personal_needles(application).items():
                if needle in data:
                    found.append(f"{path.name}: {label}")
    return found


def test_outbox_files_hold_no_clear_personal_data(central, make_outbox, make_client, tmp_path: Path) -> None:
    folder = tmp_path
    outbox = make_outbox()
    applications = [synthetic.application(n, photo_size=30_000) for n in range(6)]
    central.stop()  # queued while the server is away: everything sits in the WAL and the database
    for application in applications:
        outbox.enqueue("application", application)
    written = {p.name for p in folder.iterdir()}
    assert {"outbox.sqlite3", "outbox.sqlite3-wal", "outbox.sqlite3-shm"} <= written
    assert (folder / "outbox.sqlite3-wal").stat().st_size > 6 * 30_000  # the payloads are really in there
    assert leaks(folder, applications) == []

    outbox.checkpoint()
    assert leaks(folder, applications) == []

    central.start()
    with Flusher(outbox, central_delivery(make_client(central.url)), poll_seconds=0.1):
        assert wait_until(lambda: outbox.status().depth == 0)
    assert leaks(folder, applications) == []
    # Delivered rows keep no payload at all, encrypted or not.
    assert row(outbox.path, "SELECT COUNT(*) FROM items WHERE payload IS NOT NULL") == (0,)
    assert row(outbox.path, "SELECT COUNT(*) FROM payloads") == (0,)


def test_the_needles_would_be_found(tmp_path: Path) -> None:
    """The search itself works: a clear JSON dump of an application is caught in every category."""
    import json

    application = synthetic.application(1)
    (tmp_path / "clear.json").write_text(json.dumps(application) + json.dumps(application, ensure_ascii=False))
    found = {entry.split(": ")[1] for entry in leaks(tmp_path, [application])}
    assert {"name", "name_json_escaped", "email", "phone", "application_id", "photo_base64"} <= found


def test_a_queued_handover_keeps_its_grant_sealed(central, make_outbox, tmp_path: Path) -> None:
    """The grant is a credential (it records a handover without a clerk): sealed like personal data."""
    outbox = make_outbox()
    central.stop()
    items = [synthetic.handover(n) for n in range(3)]
    for item in items:
        outbox.enqueue("handover", item)
    outbox.checkpoint()
    for path in (p for p in tmp_path.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for item in items:
            assert item["grant"].encode() not in data, path.name
            assert item["pickup_id"].encode() not in data, path.name
