"""The audit chain rule (contract/audit.py): hashing, verification that names the first bad entry, the
exports, and the refusal of anything that looks like a resident's data."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.audit import (
    ACTIONS,
    GENESIS,
    OUTCOMES,
    AuditEntry,
    AuditInvalid,
    csv_header,
    entry_from_dict,
    format_at,
    masked_application_id,
    next_entry,
    parse_export,
    summarise_chain,
    to_csv,
    to_jsonl,
    verify_chain,
    verify_export,
)
from tests.support.fuzzing import examples

START = datetime(2026, 4, 1, tzinfo=UTC)
PICKUP = "P-0123456789ABCDEF"
# Synthetic values of the kinds that must never enter the trail.
MY_NUMBER = "123456789018"
APPLICATION_ID = "98760000000000000000001"
NAME = "試験　太郎"


def chain(length: int = 5, *, kiosk: str = "kiosk-01", start: AuditEntry | None = None) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    previous = start
    for n in range(length):
        previous = next_entry(previous, kiosk_id=kiosk, at=START + timedelta(seconds=n), actor="clerk07",
                              role="clerk", action=sorted(ACTIONS)[n % len(ACTIONS)],
                              outcome=OUTCOMES[n % len(OUTCOMES)], subject=PICKUP if n % 2 else None,
                              details={"checks": {"auth_chain": "passed", "possession": "failed"}, "tries_left": n})
        entries.append(previous)
    return entries


def test_the_hash_is_sha256_over_prev_hash_and_the_canonical_body() -> None:
    entry = next_entry(None, kiosk_id="kiosk-01", at="2026-04-01T00:00:00.000Z", actor="clerk07", role="clerk",
                       action="pickup.handover", outcome="ok", subject=PICKUP,
                       details={"pins_set": 2, "checks": {"auth_chain": "passed"}})
    body = ('{"action":"pickup.handover","actor":"clerk07","at":"2026-04-01T00:00:00.000Z",'
            '"details":{"checks":{"auth_chain":"passed"},"pins_set":2},"kiosk_id":"kiosk-01","outcome":"ok",'
            '"role":"clerk","seq":1,"subject":"P-0123456789ABCDEF"}')
    assert entry.prev_hash == GENESIS == "0" * 64
    assert entry.hash == hashlib.sha256((GENESIS + body).encode("utf-8")).hexdigest()
    assert entry.hash == "8136a227c8f5d4519996c140f71d77b168cca8f1de0b02c4a63d8a30fe5c99ca"  # pinned: kiosk == server
    second = next_entry(entry, kiosk_id="kiosk-01", at=START, actor="system", role="system",
                        action="clerk.timeout", outcome="ok")
    assert (second.seq, second.prev_hash, second.subject, dict(second.details)) == (2, entry.hash, None, {})


def test_a_clean_chain_is_valid() -> None:
    entries = chain(6)
    assert verify_chain(entries) is None
    summary = summarise_chain(entries)
    assert (summary.valid, summary.count, summary.first_seq, summary.last_seq, summary.last_hash) == (
        True, 6, 1, 6, entries[-1].hash)
    assert verify_chain([]) is None


@pytest.mark.parametrize(("field", "value"), [
    ("outcome", "refused"), ("actor", "clerk08"), ("at", "2026-04-01T00:00:09.000Z"), ("subject", PICKUP),
    ("details", {"checks": {"auth_chain": "passed", "possession": "passed"}, "tries_left": 2}),
    ("action", "pickup.override"), ("seq", 4), ("prev_hash", "1" * 64), ("role", "supervisor"),
])
def test_a_modified_entry_is_named(field: str, value: Any) -> None:
    entries = chain(5)
    entries[2] = dataclasses.replace(entries[2], **{field: value})
    problem = verify_chain(entries)
    assert problem is not None
    assert (problem.index, problem.kind) == (2, "modified")
    assert "entry 3" in problem.message and "modified" in problem.message


def test_a_deleted_entry_is_named_with_what_is_missing() -> None:
    entries = chain(6)
    problem = verify_chain(entries[:2] + entries[4:])
    assert problem is not None
    assert (problem.index, problem.seq, problem.kind) == (2, 5, "deleted")
    assert problem.message == "seq 3 to 4 are missing before entry 3 (seq 5): 2 entries were deleted"
    first_gone = verify_chain(entries[1:], expect_seq=1, expect_prev=GENESIS)
    assert first_gone is not None and (first_gone.index, first_gone.kind) == (0, "deleted")


def test_a_reordered_entry_is_named() -> None:
    entries = chain(5)
    swapped = [entries[0], entries[2], entries[1], entries[3], entries[4]]
    problem = verify_chain(swapped)
    assert problem is not None and (problem.index, problem.seq, problem.kind) == (1, 3, "reordered")
    moved_to_end = entries[:1] + entries[2:] + entries[1:2]
    problem = verify_chain(moved_to_end)
    assert problem is not None and (problem.index, problem.kind) == (1, "reordered")
    assert "out of order" in problem.message


def test_duplicated_unlinked_and_foreign_entries_are_named() -> None:
    entries = chain(4)
    problem = verify_chain([*entries[:3], entries[2], entries[3]])
    assert problem is not None and (problem.index, problem.kind) == (3, "duplicated")
    # a forged entry 3 with a correct hash over the wrong predecessor: it does not continue entry 2
    elsewhere = AuditEntry(**{**entries[1].as_dict(), "hash": "ab" * 32})
    forged = next_entry(elsewhere, kiosk_id="kiosk-01", at=START, actor="clerk07", role="clerk",
                        action="pickup.cancel", outcome="cancelled")
    problem = verify_chain([*entries[:2], forged])
    assert problem is not None and (problem.index, problem.kind) == (2, "unlinked")
    other = chain(3, kiosk="kiosk-02")
    problem = verify_chain([*entries[:2], other[2]])
    assert problem is not None and problem.kind == "other_kiosk"


def test_a_batch_continues_a_stored_chain_only_from_its_head() -> None:
    entries = chain(6)
    assert verify_chain(entries[3:], expect_seq=4, expect_prev=entries[2].hash) is None
    problem = verify_chain(entries[3:], expect_seq=4, expect_prev=entries[1].hash)
    assert problem is not None and problem.kind == "unlinked"
    assert verify_chain(entries[4:], expect_seq=4, expect_prev=entries[2].hash) is not None
    with pytest.raises(ValueError, match="both"):
        verify_chain(entries, expect_seq=1)


def test_an_export_of_a_period_starts_where_it_starts() -> None:
    entries = chain(6)
    summary = summarise_chain(entries[2:])
    assert summary.valid and not summary.from_genesis and summary.first_seq == 3


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_exports_read_back_to_the_same_chain(kind: str) -> None:
    entries = chain(5)
    text = "".join(to_jsonl(e) for e in entries) if kind == "jsonl" else csv_header() + "".join(map(to_csv, entries))
    assert parse_export(text) == entries
    assert parse_export("\ufeff" + text) == entries  # a spreadsheet's byte-order mark
    (summary,) = verify_export(parse_export(text))
    assert summary.valid and summary.count == 5


def test_csv_cells_never_start_like_a_formula() -> None:
    text = csv_header() + "".join(map(to_csv, chain(12)))
    cells = [cell for line in text.splitlines() for cell in line.split(",")]
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]


def test_an_export_of_several_kiosks_names_the_bad_line_in_the_file() -> None:
    first, second = chain(3, kiosk="kiosk-01"), chain(4, kiosk="kiosk-02")
    second[2] = dataclasses.replace(second[2], outcome="ok")
    lines = [to_jsonl(e) for e in first + second]
    lines.insert(1, "{not json\n")
    summaries = verify_export(parse_export("".join(lines)))
    assert [s.kiosk_id for s in summaries] == ["kiosk-01", "kiosk-02"]
    assert summaries[0].problem is not None and (summaries[0].problem.index, summaries[0].problem.kind) == (
        1, "malformed")
    assert summaries[1].problem is not None
    assert (summaries[1].problem.index, summaries[1].problem.kind) == (6, "modified")
    assert summaries[1].problem.message.startswith("entry 7 (seq 3)")


# --- privacy: no resident's data can enter the trail ---------------------------------------------------


PERSONAL = [
    ("details", {"name": NAME}),
    ("details", {"name_kana": "シケン タロウ"}),
    ("details", {"my_number": MY_NUMBER}),
    ("details", {"my_number": int(MY_NUMBER)}),
    ("details", {"card": f"mn{MY_NUMBER}"}),  # a code's shape with a number inside
    ("details", {"pin": "pin1234"}),
    ("details", {"application_id": APPLICATION_ID}),
    ("details", {"birth_date": "19800101"}),
    ("details", {"birth_date": "1980-01-01"}),
    ("details", {"email": "hanako.test@example.invalid"}),
    ("details", {"phone": "+81 3 0000 0000"}),
    ("details", {"address": "tokyo chiyoda 1-2-3"}),
    ("details", {"reason": "the resident looked older"}),
    ("details", {"checks": {"name": NAME}}),
    ("details", {"ids": [MY_NUMBER]}),
    ("details", {"氏名": "x"}),
    ("details", {"photo": b"\xff\xd8"}),
    ("details", {"score": 0.93}),
    ("details", {"deep": {"deeper": {"name": "x"}}}),
    ("subject", APPLICATION_ID),
    ("subject", MY_NUMBER),
    ("subject", NAME),
    ("subject", "P-0123"),
    ("actor", "試験太郎"),
    ("actor", MY_NUMBER),
    ("actor", "taro yamada"),
]


@pytest.mark.parametrize(("field", "value"), PERSONAL, ids=[f"{f}-{i}" for i, (f, _) in enumerate(PERSONAL)])
def test_personal_data_is_refused_and_never_echoed(field: str, value: Any) -> None:
    values: dict[str, Any] = {"actor": "clerk07", "subject": PICKUP, "details": {}, field: value}
    with pytest.raises(AuditInvalid) as refused:
        next_entry(None, kiosk_id="kiosk-01", at=START, role="clerk", action="pickup.lookup", outcome="ok", **values)
    assert refused.value.field.split(".")[0].split("[")[0] == field
    text = str(refused.value)
    for needle in (NAME, MY_NUMBER, APPLICATION_ID, "19800101", "hanako", "older", "シケン"):
        assert needle not in text


def test_what_may_be_recorded() -> None:
    entry = next_entry(None, kiosk_id="kiosk-01", at=START, actor="clerk.tanaka-07", role="clerk",
                       action="pickup.checks", outcome="refused", subject=masked_application_id(APPLICATION_ID),
                       details={"checks": {"auth_chain": "passed", "photo_match": "failed"}, "tries_left": 2,
                                "reasons": ["grant_expired", "not_in_renewal_window"], "attended": True,
                                "note": None})
    assert entry.subject == "*" * 19 + "0001"
    for subject in ("R-0123456789ABCDEF", "0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"):
        next_entry(None, kiosk_id="kiosk-01", at=START, actor="clerk07", role="clerk", action="pickup.lookup",
                   outcome="ok", subject=subject)


def test_system_is_its_own_role_and_actions_are_a_closed_set_when_writing() -> None:
    base: dict[str, Any] = {"kiosk_id": "kiosk-01", "at": START, "outcome": "ok"}
    with pytest.raises(AuditInvalid, match="role"):
        next_entry(None, actor="system", role="clerk", action="clerk.timeout", **base)
    with pytest.raises(AuditInvalid, match="role"):
        next_entry(None, actor="clerk07", role="system", action="clerk.timeout", **base)
    with pytest.raises(AuditInvalid, match="action"):
        next_entry(None, actor="clerk07", role="clerk", action="pickup.handvoer", **base)
    with pytest.raises(AuditInvalid, match="outcome"):
        next_entry(None, **{**base, "outcome": "maybe"}, actor="clerk07", role="clerk", action="clerk.sign_in")
    # reading is tolerant of an action a newer kiosk knows: its chain still verifies here
    newer = {**chain(1)[0].as_dict(), "action": "pickup.reprint"}
    assert entry_from_dict(newer).action == "pickup.reprint"
    with pytest.raises(AuditInvalid):
        entry_from_dict({**newer, "action": "Pickup Reprint"})
    with pytest.raises(AuditInvalid, match="fields"):
        entry_from_dict({**newer, "name": NAME})


def test_times_are_utc_milliseconds_with_z() -> None:
    tokyo = timezone(timedelta(hours=9))
    assert format_at(datetime(2026, 4, 1, 9, 30, 0, 123456, tzinfo=tokyo)) == "2026-04-01T00:30:00.123Z"
    with pytest.raises(AuditInvalid):
        format_at(datetime(2026, 4, 1))  # naive on purpose
    with pytest.raises(AuditInvalid, match="at"):
        next_entry(None, kiosk_id="kiosk-01", at="2026-04-01T09:30:00+09:00", actor="clerk07", role="clerk",
                   action="clerk.sign_in", outcome="ok")


# --- properties ------------------------------------------------------------------------------------------

codes = st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True)
details = st.dictionaries(codes, st.one_of(codes, st.integers(-999_999, 999_999), st.booleans(), st.none()),
                          max_size=4)
steps = st.lists(st.tuples(st.sampled_from(sorted(ACTIONS)), st.sampled_from(OUTCOMES), details),
                 min_size=3, max_size=12)


def built(plan: list[tuple[str, str, dict[str, Any]]]) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for n, (action, outcome, facts) in enumerate(plan):
        entries.append(next_entry(entries[-1] if entries else None, kiosk_id="kiosk-01",
                                  at=START + timedelta(milliseconds=n), actor="clerk07", role="clerk",
                                  action=action, outcome=outcome, details=facts))
    return entries


@settings(max_examples=examples(100), deadline=None)
@given(steps, st.data())
def test_any_change_deletion_or_swap_is_found_at_its_place(plan: list[Any], data: st.DataObject) -> None:
    entries = built(plan)
    assert verify_chain(entries) is None
    at = data.draw(st.integers(0, len(entries) - 1))
    changed = list(entries)
    changed[at] = dataclasses.replace(entries[at], outcome=next(o for o in OUTCOMES if o != entries[at].outcome))
    assert (p := verify_chain(changed)) is not None and (p.index, p.kind) == (at, "modified")
    if at < len(entries) - 1:  # the last entry's removal is for the server's copy to notice
        gone = entries[:at] + entries[at + 1:]
        assert (p := verify_chain(gone, expect_seq=1, expect_prev=GENESIS)) is not None
        assert (p.index, p.kind) == (at, "deleted")
        swapped = list(entries)
        swapped[at], swapped[at + 1] = swapped[at + 1], swapped[at]
        assert (p := verify_chain(swapped)) is not None and (p.index, p.kind) == (at, "reordered")
    assert parse_export("".join(map(to_jsonl, entries))) == entries
