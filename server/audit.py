"""The server's copy of every kiosk's audit chain (``contract.audit``): append what continues it, refuse
what does not, read it back for a city's auditor, and re-check it.

Why the server holds it: a chain kept only on the kiosk could be rewritten there from its first entry and
still verify. The server stores each kiosk's chain as it arrives and takes a batch only when it continues
exactly what is stored — same next seq, ``prev_hash`` equal to the stored head's hash, every hash
recomputed — so an entry that was changed, dropped or reordered on the kiosk after shipping is refused
(409 ``audit_chain_broken``, naming the seq and hash it expects). A kiosk that lost an answer sends the
same entries again: an exact replay of stored entries is accepted as ``duplicates``; a *different* entry at
a stored seq is a fork and refused.

Appends of one kiosk are serialised by locking its ``kiosks`` row (PostgreSQL) or by SQLite's single writer;
the unique ``(kiosk_id, seq)`` constraint is the last guard.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from contract.audit import (
    GENESIS,
    AuditEntry,
    AuditInvalid,
    ChainSummary,
    canonical_json,
    entry_from_dict,
    format_at,
    summarise_chain,
    verify_chain,
)
from server.errors import ApiError
from server.keys import ServerKeys
from server.models import AuditEntry as AuditRow
from server.models import Kiosk, KioskEvent

AUDIT_READER_ROLES = ("operator", "supervisor")  # who may read the trail (an auditor signs in as one of these)
_PAGE = 1000


@dataclass(frozen=True)
class AppendResult:
    kiosk_id: str
    stored: int
    duplicates: int
    last_seq: int
    last_hash: str

    def as_dict(self) -> dict[str, Any]:
        return {"kiosk_id": self.kiosk_id, "stored": self.stored, "duplicates": self.duplicates,
                "last_seq": self.last_seq, "last_hash": self.last_hash}


def append_batch(sessions: sessionmaker[Session], kiosk_id: str, documents: Sequence[Mapping[str, Any]], *,
                 now: datetime) -> AppendResult:
    """Store the entries of ``documents`` that continue ``kiosk_id``'s chain; ``ApiError`` for anything else.

    422 ``audit_entry_invalid`` (a rule of ``contract.audit`` — personal data above all — names the field),
    422 ``audit_entry_modified`` (a hash does not match its entry), 403 ``audit_other_kiosk`` (an entry of
    another kiosk), 409 ``audit_chain_broken`` (the batch does not continue the stored chain).
    """
    entries = [_checked(document, kiosk_id) for document in documents]
    for attempt in range(2):
        try:
            with sessions() as session, session.begin():
                return _append(session, kiosk_id, entries, now)
        except IntegrityError:
            if attempt:  # a second race in a row: the kiosk retries later
                break
    raise ApiError(503, "audit_busy", "Another append for this kiosk ran at the same time; retry.")


def _checked(document: Mapping[str, Any], kiosk_id: str) -> AuditEntry:
    seq = document.get("seq")
    try:
        entry = entry_from_dict(document)
    except AuditInvalid as exc:
        raise ApiError(422, "audit_entry_invalid", f"Audit entry seq {seq}: {exc}",
                       extra={"field": exc.field, "seq": seq}) from None
    if entry.kiosk_id != kiosk_id:
        raise ApiError(403, "audit_other_kiosk",
                       f"Audit entry seq {seq} belongs to kiosk {entry.kiosk_id}; a kiosk appends its own chain only.")
    if entry.computed_hash() != entry.hash:
        raise ApiError(422, "audit_entry_modified",
                       f"Audit entry seq {seq}: its hash does not match its content.", extra={"seq": seq})
    return entry


def _append(session: Session, kiosk_id: str, entries: list[AuditEntry], now: datetime) -> AppendResult:
    session.execute(select(Kiosk.kiosk_id).where(Kiosk.kiosk_id == kiosk_id).with_for_update())
    head = session.execute(
        select(AuditRow.seq, AuditRow.hash).where(AuditRow.kiosk_id == kiosk_id).order_by(AuditRow.seq.desc()).limit(1)
    ).first()
    last_seq, last_hash = (int(head[0]), str(head[1])) if head is not None else (0, GENESIS)

    def broken(message: str) -> ApiError:
        return ApiError(409, "audit_chain_broken",
                        f"{message}; this server holds kiosk {kiosk_id}'s chain up to seq {last_seq} and takes "
                        f"seq {last_seq + 1} next.",
                        extra={"expected_seq": last_seq + 1, "expected_prev_hash": last_hash})

    first = entries[0].seq
    if first > last_seq + 1:
        raise broken(f"The batch starts at seq {first}: entries are missing before it")
    anchor = GENESIS if first == 1 else last_hash if first == last_seq + 1 else session.scalar(
        select(AuditRow.hash).where(AuditRow.kiosk_id == kiosk_id, AuditRow.seq == first - 1))
    problem = verify_chain(entries, expect_seq=first, expect_prev=str(anchor))
    if problem is not None:
        raise broken(f"The batch does not continue the chain: {problem.message}")
    overlap = [entry for entry in entries if entry.seq <= last_seq]
    if overlap:
        stored = dict(session.execute(
            select(AuditRow.seq, AuditRow.hash).where(AuditRow.kiosk_id == kiosk_id, AuditRow.seq >= overlap[0].seq,
                                                      AuditRow.seq <= overlap[-1].seq)
        ).all())
        for entry in overlap:
            if stored.get(entry.seq) != entry.hash:
                raise broken(f"Entry seq {entry.seq} differs from the entry stored at that place (a fork)")
    fresh = entries[len(overlap):]
    session.add_all(_row(entry, now) for entry in fresh)
    if fresh:
        last_seq, last_hash = fresh[-1].seq, fresh[-1].hash
    return AppendResult(kiosk_id, len(fresh), len(overlap), last_seq, last_hash)


def _row(entry: AuditEntry, now: datetime) -> AuditRow:
    return AuditRow(kiosk_id=entry.kiosk_id, seq=entry.seq, at=entry.at, actor=entry.actor, role=entry.role,
                    action=entry.action, outcome=entry.outcome, subject=entry.subject,
                    details=canonical_json(entry.details).decode("utf-8"), prev_hash=entry.prev_hash,
                    hash=entry.hash, received_at=now)


def _entry(row: AuditRow) -> AuditEntry:
    """A stored row as the kiosk wrote it. Not re-validated: a row changed in the database shows up as
    ``modified`` when verified (its hash no longer matches), which is what an auditor must see."""
    try:
        details = json.loads(row.details)
    except ValueError:
        details = {"unreadable": True}
    return AuditEntry(seq=row.seq, kiosk_id=row.kiosk_id, at=row.at, actor=row.actor, role=row.role,
                      action=row.action, outcome=row.outcome, subject=row.subject,
                      details=details if isinstance(details, dict) else {"unreadable": True},
                      prev_hash=row.prev_hash, hash=row.hash)


def since_text(moment: datetime | None) -> str | None:
    """A ``since`` bound as the trail writes times (text order is time order)."""
    return None if moment is None else format_at(moment)


def iter_entries(sessions: sessionmaker[Session], *, kiosk_id: str | None = None, since: datetime | None = None,
                 after_seq: int | None = None, page: int = _PAGE) -> Iterator[AuditEntry]:
    """Entries by kiosk, then seq (each chain contiguous, as ``contract.audit.verify_export`` reads them),
    fetched ``page`` at a time, each page in its own short session: an export of millions never holds a
    transaction or the whole trail in memory."""
    since_at = since_text(since)
    position: tuple[str, int] | None = None
    while True:
        query = select(AuditRow)
        if kiosk_id is not None:
            query = query.where(AuditRow.kiosk_id == kiosk_id)
        if since_at is not None:
            query = query.where(AuditRow.at >= since_at)
        if after_seq is not None:
            query = query.where(AuditRow.seq > after_seq)
        if position is not None:
            query = query.where(or_(AuditRow.kiosk_id > position[0],
                                    and_(AuditRow.kiosk_id == position[0], AuditRow.seq > position[1])))
        with sessions() as session:
            rows = [_entry(row) for row in session.scalars(query.order_by(AuditRow.kiosk_id, AuditRow.seq).limit(page))]
            session.close()
        yield from rows
        if len(rows) < page:
            return
        position = (rows[-1].kiosk_id, rows[-1].seq)


def verify_stored(sessions: sessionmaker[Session], *, kiosk_id: str | None = None) -> list[ChainSummary]:
    """Every stored chain (or ``kiosk_id``'s) re-checked from its genesis: a row changed, or deleted, in the
    database since it was appended is named."""
    summaries: list[ChainSummary] = []
    chain: list[AuditEntry] = []
    for entry in iter_entries(sessions, kiosk_id=kiosk_id):
        if chain and entry.kiosk_id != chain[0].kiosk_id:
            summaries.append(summarise_chain(chain, expect_seq=1, expect_prev=GENESIS))
            chain = []
        chain.append(entry)
    if chain:
        summaries.append(summarise_chain(chain, expect_seq=1, expect_prev=GENESIS))
    return summaries


# --- operators' actions on kiosks ------------------------------------------------------------------------
#
# Not part of any kiosk's chain: a kiosk writes its chain itself and the server only checks that each batch
# continues it, so an entry the server wrote there would be a fork the kiosk's next batch runs into. What an
# operator does *to* a kiosk (take it out of service, bring it back) is kept beside the chains, one row per
# action, with the reason sealed: it is free text and may name a person (``kiosk server kiosk-history``
# reads it back for an auditor, never a log).

KIOSK_REASON_PURPOSE = "kiosk-event-reason"
KIOSK_ACTIONS = ("disabled", "enabled")


@dataclass(frozen=True)
class KioskAction:
    """One disable or enable: when, which kiosk, who (an operator's user name, or ``cli:<account>`` on the
    server host), their role, the kiosk they were signed in at (None from the command line) and why."""

    at: datetime
    kiosk_id: str
    action: str
    actor: str
    role: str
    via_kiosk_id: str | None
    reason: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "kiosk_id": self.kiosk_id, "action": self.action, "actor": self.actor,
                "role": self.role, "via_kiosk_id": self.via_kiosk_id, "reason": self.reason}


def record_kiosk_action(session: Session, action: KioskAction, keys: ServerKeys) -> None:
    """Add the row in the caller's transaction (the same one that changes ``kiosks.enabled``)."""
    if action.action not in KIOSK_ACTIONS:
        raise ValueError(f"unknown kiosk action {action.action!r}")
    sealed = None if action.reason is None else keys.seal(action.reason.encode("utf-8"), purpose=KIOSK_REASON_PURPOSE)
    session.add(KioskEvent(kiosk_id=action.kiosk_id, at=action.at, action=action.action, actor=action.actor,
                           role=action.role, via_kiosk_id=action.via_kiosk_id, reason_sealed=sealed))


def kiosk_actions(sessions: sessionmaker[Session], keys: ServerKeys, *,
                  kiosk_id: str | None = None) -> list[KioskAction]:
    """Every disable and enable (of ``kiosk_id``, or of all kiosks), oldest first, reasons unsealed."""
    query = select(KioskEvent).order_by(KioskEvent.id)
    if kiosk_id is not None:
        query = query.where(KioskEvent.kiosk_id == kiosk_id)
    with sessions() as session:
        rows = list(session.scalars(query))
        session.close()
    return [KioskAction(at=row.at, kiosk_id=row.kiosk_id, action=row.action, actor=row.actor, role=row.role,
                        via_kiosk_id=row.via_kiosk_id,
                        reason=None if row.reason_sealed is None
                        else keys.unseal(row.reason_sealed, purpose=KIOSK_REASON_PURPOSE).decode("utf-8"))
            for row in rows]
