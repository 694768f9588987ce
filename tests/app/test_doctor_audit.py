"""``kiosk doctor`` reports the clerk actions' audit chain: intact or where it breaks, and what the central
server does not have yet — read-only (no daemon needed)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kiosk.app.doctor import FAIL, OK, check_audit
from kiosk.config import AuditSection, KioskConfig, KioskSection, ServerSection
from kiosk.services.audit_log import AuditLog

SERVER = ServerSection(url="https://central.example.invalid", ca_bundle="ca.pem", client_cert="k.pem",
                       client_key="k.key")


def config_for(tmp_path: Path) -> KioskConfig:
    return KioskConfig(kiosk=KioskSection(id="counter-07"), server=SERVER,
                       audit=AuditSection(path=str(tmp_path / "audit.sqlite3")))


def write_trail(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "audit.sqlite3"
    log = AuditLog(path, "counter-07")
    try:
        for _ in range(count):
            log.append("clerk-a", "clerk", "pickup.lookup", "ok", None, {"by": "notice_number"})
    finally:
        log.close()
    return path


def test_no_trail_yet_is_fine_and_nothing_is_created(tmp_path: Path) -> None:
    finding = check_audit(config_for(tmp_path))
    assert finding is not None and finding.status == OK and finding.data == {"entries": 0, "unshipped": 0}
    assert list(tmp_path.iterdir()) == []


def test_an_intact_trail_says_how_much_waits_for_the_server(tmp_path: Path) -> None:
    write_trail(tmp_path, 3)
    before = (tmp_path / "audit.sqlite3").read_bytes()
    finding = check_audit(config_for(tmp_path))
    assert finding is not None and finding.status == OK
    assert finding.data == {"entries": 3, "unshipped": 3, "intact": True}
    assert "3 entries, intact, 3 not yet on the central server" in finding.detail
    assert (tmp_path / "audit.sqlite3").read_bytes() == before  # read-only


def test_a_modified_entry_fails_and_names_it(tmp_path: Path) -> None:
    path = write_trail(tmp_path, 3)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE entries SET outcome = 'refused' WHERE seq = 2")
    finding = check_audit(config_for(tmp_path))
    assert finding is not None and finding.status == FAIL and finding.data["intact"] is False
    assert "seq 2" in finding.detail and "do not delete it" in (finding.fix or "")


def test_a_kiosk_without_a_central_server_has_no_trail_to_check(tmp_path: Path) -> None:
    assert check_audit(KioskConfig(audit=AuditSection(path=str(tmp_path / "audit.sqlite3")))) is None
