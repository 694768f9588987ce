"""The kiosk applies the contract before anything leaves it: a malformed application is refused at
``Outbox.enqueue`` (nothing stored), and a malformed handover body is refused before it is sent."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from contract.payloads import HANDOVER_CHECKS, PayloadInvalid
from kiosk.services.central import CentralClient
from kiosk.services.outbox import Outbox
from tests.services import synthetic

KEY = bytes(range(32))  # test-only at-rest key


@pytest.fixture
def outbox(tmp_path: Path):
    box = Outbox(tmp_path / "outbox.sqlite3", KEY)
    yield box
    box.close()


def rows(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"application_id": "1" * 22}, "application_id"),
        ({"photo_jpeg_base64": "not base64!"}, "photo_jpeg_base64"),
        ({"submitted_at": "2026-11-26T10:00:00"}, "submitted_at"),
        ({"contact": {"email": "nobody"}}, "contact.email"),
        ({"my_number": "123456789018"}, "application"),
    ],
)
def test_a_malformed_application_is_refused_at_enqueue(outbox: Outbox, tmp_path: Path,
                                                       changes: dict[str, Any], field: str) -> None:
    outbox.enqueue("application", synthetic.application(1))
    with pytest.raises(PayloadInvalid) as caught:
        outbox.enqueue("application", {**synthetic.application(2), **changes})
    assert caught.value.field == field
    assert outbox.status().depth == 1 and rows(tmp_path / "outbox.sqlite3") == 1  # nothing half-written
    assert outbox.enqueue("application", synthetic.application(3)).local_number == "000002"


def test_a_well_formed_application_is_queued(outbox: Outbox) -> None:
    receipt = outbox.enqueue("application", synthetic.application(4))
    assert receipt.state == "queued" and outbox.status().depth == 1


class NoNetwork:
    """A session that fails the test if a request is attempted."""

    def request(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("a malformed body must not be sent")

    def close(self) -> None:
        pass


@pytest.mark.parametrize(("serial", "handed_over_at", "field"), [
    ("not-hex", "2026-11-26T10:00:00Z", "card_auth_cert_serial"),
    ("0A1B", "2026-11-26 10:00", "handed_over_at"),
])
def test_a_malformed_handover_is_not_sent(serial: str, handed_over_at: str, field: str) -> None:
    client = CentralClient("https://central.example.invalid", ca_bundle="ca.pem", client_cert="c.pem",
                           client_key="k.pem", session=NoNetwork())  # type: ignore[arg-type]
    with pytest.raises(PayloadInvalid) as caught:
        client.record_handover("P-1", card_auth_cert_serial=serial, handed_over_at=handed_over_at,
                               grant="TEST-GRANT-" + "0" * 32, idempotency_key="0123456789abcdef",
                               checks=dict.fromkeys(HANDOVER_CHECKS, "passed"), pins_set=[],
                               collected={"notification_card": True, "juki_card": False, "old_card": False})
    assert caught.value.field == field
