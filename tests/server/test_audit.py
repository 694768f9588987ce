"""The audit trail on the reference server: kiosks append their chain (mTLS), the server refuses a batch
that does not continue what it holds, takes a resend as duplicates, stays consistent under parallel
appends, and exports the trail for an auditor (operators and supervisors) as JSON Lines or CSV — on SQLite
and PostgreSQL."""

from __future__ import annotations

import contextlib
import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from alembic import command
from sqlalchemy import func, inspect, select, update

from contract.audit import AuditEntry, entry_from_dict, next_entry, parse_export, verify_export
from server.app import build_context, register_kiosk
from server.audit import append_batch
from server.cli import main
from server.db import alembic_config, make_engine, upgrade_to_head
from server.models import AuditEntry as AuditRow
from server.settings import Settings
from tests.server.helpers import LiveServer

pytestmark = pytest.mark.server

PICKUP = "P-0123456789ABCDEF"
MY_NUMBER = "123456789018"  # synthetic


def _head(server: LiveServer, kiosk: str) -> AuditEntry | None:
    with server.context.sessions() as session:
        row = session.scalar(select(AuditRow).where(AuditRow.kiosk_id == kiosk).order_by(AuditRow.seq.desc()))
        if row is None:
            return None
        return entry_from_dict({"seq": row.seq, "kiosk_id": row.kiosk_id, "at": row.at, "actor": row.actor,
                                "role": row.role, "action": row.action, "outcome": row.outcome,
                                "subject": row.subject, "details": json.loads(row.details),
                                "prev_hash": row.prev_hash, "hash": row.hash})


def _next(previous: AuditEntry | None, n: int, *, kiosk: str = "kiosk-01", at: datetime | None = None,
          actor: str = "clerk07") -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for i in range(n):
        previous = next_entry(previous, kiosk_id=kiosk, at=at or datetime.now(UTC), actor=actor, role="clerk",
                              action="pickup.checks", outcome="ok", subject=PICKUP,
                              details={"checks": {"auth_chain": "passed"}, "n": i})
        entries.append(previous)
    return entries


def _post(server: LiveServer, entries: list[AuditEntry] | list[dict[str, Any]], kiosk: str = "kiosk-01",
          session: requests.Session | None = None) -> requests.Response:
    documents = [e.as_dict() if isinstance(e, AuditEntry) else e for e in entries]
    return (session or server.session(kiosk)).post(server.url("/v1/audit/entries"), json={"entries": documents})


def _count(server: LiveServer, kiosk: str) -> int:
    with server.context.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditRow).where(AuditRow.kiosk_id == kiosk)))


def test_a_batch_that_continues_the_chain_is_stored(server: LiveServer) -> None:
    head = _head(server, "kiosk-01")
    batch = _next(head, 3)
    answer = _post(server, batch)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"kiosk_id": "kiosk-01", "stored": 3, "duplicates": 0, "last_seq": batch[-1].seq,
                             "last_hash": batch[-1].hash}
    assert _head(server, "kiosk-01") == batch[-1]


def test_a_chain_that_does_not_continue_is_refused_with_what_is_expected(server: LiveServer) -> None:
    head = _head(server, "kiosk-01")
    assert _post(server, _next(head, 1)).status_code == 200
    head = _head(server, "kiosk-01")
    assert head is not None
    batch = _next(head, 3)
    refusals = {
        "gap": batch[1:],
        "reordered": [batch[1], batch[0], batch[2]],
        "unlinked": [next_entry(AuditEntry(**{**head.as_dict(), "hash": "ab" * 32}), kiosk_id="kiosk-01",
                                at=datetime.now(UTC), actor="clerk07", role="clerk", action="pickup.cancel",
                                outcome="cancelled")],
        "fork": _next(AuditEntry(**{**head.as_dict(), "seq": head.seq - 1, "hash": head.prev_hash}), 1,
                      actor="clerk99"),
        "from_genesis_again": _next(None, 2),
    }
    for name, entries in refusals.items():
        answer = _post(server, entries)
        assert answer.status_code == 409, (name, answer.text)
        body = answer.json()
        assert (body["error"], body["expected_seq"], body["expected_prev_hash"]) == (
            "audit_chain_broken", head.seq + 1, head.hash), name
    assert _head(server, "kiosk-01") == head  # nothing stored


def test_modified_foreign_and_personal_entries_are_refused(server: LiveServer) -> None:
    head = _head(server, "kiosk-01")
    (entry,) = _next(head, 1)
    modified = {**entry.as_dict(), "outcome": "refused"}
    answer = _post(server, [modified])
    assert (answer.status_code, answer.json()["error"], answer.json()["seq"]) == (422, "audit_entry_modified",
                                                                                   entry.seq)
    (other,) = _next(_head(server, "kiosk-02"), 1, kiosk="kiosk-02")
    answer = _post(server, [other], kiosk="kiosk-01")
    assert (answer.status_code, answer.json()["error"]) == (403, "audit_other_kiosk")
    personal = {**entry.as_dict(), "details": {"my_number": MY_NUMBER}}
    answer = _post(server, [personal])
    assert (answer.status_code, answer.json()["error"], answer.json()["field"]) == (
        422, "audit_entry_invalid", "details.my_number")
    kanji = {**entry.as_dict(), "actor": "試験太郎"}
    assert _post(server, [kanji]).status_code == 422
    assert MY_NUMBER not in answer.text and MY_NUMBER not in server.logs.text()
    assert _head(server, "kiosk-01") == head


def test_an_exact_resend_is_taken_as_duplicates(server: LiveServer) -> None:
    first = _next(_head(server, "kiosk-01"), 3)
    assert _post(server, first).json()["stored"] == 3
    again = _post(server, first)
    assert again.status_code == 200 and (again.json()["stored"], again.json()["duplicates"]) == (0, 3)
    more = _next(first[-1], 2)
    overlapping = _post(server, first[1:] + more)  # a lost answer, then new entries in the same batch
    assert overlapping.status_code == 200
    assert (overlapping.json()["stored"], overlapping.json()["duplicates"], overlapping.json()["last_seq"]) == (
        2, 2, more[-1].seq)
    older = _post(server, first[:1])  # a very late resend of an old entry: still the same entry
    assert older.status_code == 200 and older.json()["last_seq"] == more[-1].seq


def test_an_unknown_action_of_the_right_shape_is_kept(server: LiveServer) -> None:
    """A newer kiosk's chain must still ship to this server (the action list grows)."""
    head = _head(server, "kiosk-01")
    (entry,) = _next(head, 1)
    newer = {**entry.as_dict(), "action": "pickup.reprint"}
    body = {k: v for k, v in newer.items() if k not in ("prev_hash", "hash")}
    from contract.audit import entry_hash

    newer["hash"] = entry_hash(newer["prev_hash"], body)
    assert _post(server, [newer]).status_code == 200


def test_parallel_appends_store_each_entry_once(server: LiveServer) -> None:
    batch = _next(_head(server, "kiosk-02"), 4, kiosk="kiosk-02")
    before = _count(server, "kiosk-02")
    sessions = [server.session("kiosk-02") for _ in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda s: _post(server, batch, "kiosk-02", s), sessions))
    assert [a.status_code for a in answers] == [200] * 6
    assert sum(a.json()["stored"] for a in answers) == 4
    assert sum(a.json()["duplicates"] for a in answers) == 20
    assert _count(server, "kiosk-02") == before + 4
    # two different entries racing for the same seq: one is stored, the other refused
    head = batch[-1]
    forks = [_next(head, 1, kiosk="kiosk-02", actor=f"clerk{n}") for n in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(lambda f: _post(server, f[0:1], "kiosk-02", server.session("kiosk-02"))
                                   .status_code, forks))
    assert statuses == [200, 409, 409, 409]
    assert _count(server, "kiosk-02") == before + 5


def _export(server: LiveServer, token: str, **params: Any) -> requests.Response:
    return server.session().get(server.url("/v1/audit/entries"), params=params,
                                headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("export_format", ["jsonl", "csv"])
def test_an_auditor_exports_a_chain_that_verifies(server: LiveServer, export_format: str) -> None:
    sent = _next(_head(server, "kiosk-01"), 3)
    assert _post(server, sent).status_code == 200
    username, _password = server.add_clerk("operator")
    answer = _export(server, server.quick_token(username), kiosk_id="kiosk-01", format=export_format)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv" if export_format == "csv" else "application/x-ndjson")
    entries = parse_export(answer.text)
    assert entries[-3:] == sent
    (summary,) = verify_export(entries)
    assert summary.valid and summary.from_genesis and summary.last_seq == sent[-1].seq
    if export_format == "csv":
        assert answer.text.splitlines()[0] == "seq,kiosk_id,at,actor,role,action,outcome,subject,details,prev_hash,hash"


def test_the_export_filters_by_time_and_seq_and_holds_every_kiosk(server: LiveServer) -> None:
    later = datetime.now(UTC) + timedelta(days=3650)
    for kiosk in ("kiosk-01", "kiosk-02"):
        assert _post(server, _next(_head(server, kiosk), 2, kiosk=kiosk, at=later), kiosk).status_code == 200
    username, _password = server.add_clerk("supervisor")
    token = server.quick_token(username)
    since = _export(server, token, since=(later - timedelta(seconds=1)).isoformat())
    period = parse_export(since.text)
    assert [e.kiosk_id for e in period] == ["kiosk-01", "kiosk-01", "kiosk-02", "kiosk-02"]
    assert all(summary.valid and not summary.from_genesis for summary in verify_export(period))
    head = _head(server, "kiosk-01")
    assert head is not None
    after = parse_export(_export(server, token, kiosk_id="kiosk-01", after_seq=head.seq - 1).text)
    assert after == [head]
    assert _export(server, token, after_seq=1).status_code == 422  # seqs count per kiosk


def test_only_operators_and_supervisors_read_the_trail(server: LiveServer) -> None:
    clerk, _password = server.add_clerk("clerk")
    refused = _export(server, server.quick_token(clerk))
    assert (refused.status_code, refused.json()["error"]) == (403, "audit_role_required")
    anonymous = server.session().get(server.url("/v1/audit/entries"))
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "token_required")


def test_the_contract_documents_the_audit_routes() -> None:
    from server.app import create_app

    schema = create_app(Settings()).openapi()
    paths = schema["paths"]["/v1/audit/entries"]
    assert paths["post"]["security"] == [{"kioskCertificate": []}]
    assert {"200", "409", "422"} <= set(paths["post"]["responses"])
    assert paths["get"]["security"] == [{"kioskCertificate": [], "clerkToken": []}]
    assert {"application/x-ndjson", "text/csv"} <= set(paths["get"]["responses"]["200"]["content"])


# --- migration and the server's command line (SQLite file of their own) ----------------------------------


def test_migration_0006_creates_and_drops_the_table(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        upgrade_to_head(engine)
        inspector = inspect(engine)
        assert {c["name"] for c in inspector.get_columns("audit_entries")} == set(AuditRow.__table__.columns.keys())
        assert [u["column_names"] for u in inspector.get_unique_constraints("audit_entries")] == [["kiosk_id", "seq"]]
        command.downgrade(alembic_config(engine), "0005")
        assert "audit_entries" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_server_cli_verifies_and_exports_the_stored_chains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}", secret_file=tmp_path / "secret")
    context = build_context(settings, lambda: datetime.now(UTC))
    try:
        with context.sessions() as session, session.begin():
            register_kiosk(session, kiosk_id="kiosk-09", fingerprint=secrets.token_hex(32), now=datetime.now(UTC))
        entries = _next(None, 4, kiosk="kiosk-09")
        append_batch(context.sessions, "kiosk-09", [e.as_dict() for e in entries], now=datetime.now(UTC))
    finally:
        context.engine.dispose()
    db = ["--db", settings.database_url, "--secret-file", str(settings.secret_file)]
    assert main(["audit-verify", *db]) == 0
    assert "kiosk kiosk-09: intact — 4 entries, seq 1–4" in capsys.readouterr().out
    out = tmp_path / "export.csv"
    assert main(["audit-export", "--format", "csv", "--out", str(out), *db]) == 0
    assert parse_export(out.read_text(encoding="utf-8")) == entries
    assert out.stat().st_mode & 0o077 == 0
    assert main(["audit-export", "--format", "jsonl", "--since", "2000-01-01T00:00:00+09:00", *db]) == 0
    assert parse_export(capsys.readouterr().out) == entries
    assert main(["audit-export", "--format", "jsonl", "--since", "yesterday", *db]) == 1

    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as connection:  # someone edits a stored entry
            connection.execute(update(AuditRow).where(AuditRow.seq == 3).values(outcome="refused"))
    finally:
        engine.dispose()
    capsys.readouterr()
    assert main(["audit-verify", "--json", *db]) == 1
    (chain,) = json.loads(capsys.readouterr().out)["chains"]
    assert (chain["valid"], chain["break"]["seq"], chain["break"]["kind"]) == (False, 3, "modified")
    with contextlib.suppress(FileNotFoundError):
        out.unlink()
