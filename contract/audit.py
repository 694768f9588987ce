"""The audit trail of clerk actions: one hash chain per kiosk, the same rule on the kiosk and the server.

Why here: the kiosk writes the chain, the server checks that each batch continues it, ``kiosk audit verify``
and ``kiosk server audit-verify`` re-check it, and a city's auditor reads the export. If any of them
hashed or parsed differently, a clean trail would look tampered (or the reverse), so the rule exists once:

* An **entry** (``AuditEntry``) is ``seq`` (1, 2, 3… per kiosk chain), ``kiosk_id``, ``at`` (UTC, ISO 8601,
  always ``YYYY-MM-DDTHH:MM:SS.mmmZ`` so that text order is time order), ``actor`` (the clerk's user name,
  or ``system``), ``role``, ``action`` (``ACTIONS``), ``outcome`` (``OUTCOMES``), ``subject`` (an opaque
  reference, ``SUBJECT_SHAPES``) and ``details`` (a small object of non-personal facts), then ``prev_hash``
  and ``hash``.
* ``hash = SHA-256(prev_hash as 64 ASCII hex digits ‖ canonical JSON of the body)``, in lower-case hex; the
  body is every field but ``prev_hash`` and ``hash``; canonical JSON is sorted keys, no spaces, UTF-8.
  The first entry's ``prev_hash`` is ``GENESIS`` (64 zeros). Floats are not allowed anywhere (their text is
  not canonical across languages): counts and durations are integers.
* ``verify_chain`` walks a chain and names the **first** bad entry: its content changed (``modified``), an
  entry is missing (``deleted``), entries are out of order (``reordered``), one appears twice
  (``duplicated``), it does not continue the entry before it (``unlinked``), it belongs to another kiosk
  (``other_kiosk``) or it is not a well-formed entry (``malformed``). A chain proves its own consistency;
  cutting entries off its *end*, or rewriting it whole from the genesis, is caught only against a copy
  held elsewhere — the server's (it refuses a batch that does not continue what it stored) and the kiosk's
  record of what the server acknowledged.
* **No personal data can enter the trail**, whatever a caller's bug passes: the subject must have one of
  the known opaque shapes (a pickup id, a receipt id, a masked application id, a staff-call id), detail
  keys and string values must be lower-case codes (``auth_chain``, ``passed``, ``grant_expired``) without
  runs of digits, integers stay below a million, the actor is an ASCII account name without a long run of
  digits. A name (kanji, kana, any non-ASCII text), a My Number (12 digits), a 申請書ID (23 digits), a birth
  date, an address or free text is refused with ``AuditInvalid``, whose message names the field, never
  the value.
* Writing is strict (``next_entry``: the action must be one of ``ACTIONS``); reading is tolerant in one
  way only: an action of the right *shape* but unknown here is accepted, so that a chain written by a
  newer kiosk still verifies and ships to an older server.

The exports (JSON Lines and CSV, ``to_jsonl``/``to_csv``, read back by ``parse_export``) are defined here too,
so that the kiosk's and the server's exports are the same file format and one verifier reads both.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contract.application_id import APPLICATION_ID_LENGTH, check_application_id

GENESIS = "0" * 64

# What clerks (and the kiosk itself, as "system") do that an auditor must be able to see. Extend here: the
# kiosk refuses to write an action that is not listed (a typo would make the trail unsearchable).
ACTIONS = frozenset({
    "clerk.sign_in",
    "clerk.sign_in_failed",
    "clerk.sign_out",
    "clerk.timeout",
    "staff_call.acknowledge",
    "pickup.lookup",
    "pickup.card_read",
    "pickup.checks",
    "pickup.pins_set",
    "pickup.override",
    "pickup.handover",
    "pickup.cancel",
})
OUTCOMES = ("ok", "refused", "failed", "cancelled")
ROLES = ("clerk", "supervisor", "operator", "system")
SYSTEM_ACTOR = "system"

# Patterns for schemas (OpenAPI, ECMA-262 regex). In Python always ``fullmatch`` (``$`` would also match
# before a final newline).
HASH_PATTERN = r"^[0-9a-f]{64}$"
KIOSK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # the server's kiosk ids (server.settings)
AT_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$"
ACTOR_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
ACTION_PATTERN = r"^[a-z][a-z_]{0,31}\.[a-z][a-z_]{0,31}$"
CODE_PATTERN = r"^[a-z][a-z0-9_.-]{0,63}$"
DETAIL_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
MAX_SEQ = 2**53 - 1  # exact in every JSON reader
MAX_DETAIL_INT = 999_999  # a count, a duration in ms, a tries-left: never an identifier's digits
MAX_DETAIL_KEYS = 32
MAX_DETAIL_LIST = 32
MAX_DETAILS_BYTES = 4096
# Digit runs refused: in codes from 4 (a year, a PIN, part of a number), in the actor from 10 (a phone
# number, a My Number, a 申請書ID — an account name may carry a short number, "clerk07").
_CODE_DIGIT_RUN = re.compile(r"[0-9]{4}")
_ACTOR_DIGIT_RUN = re.compile(r"[0-9]{10}")

# The opaque references an entry may be about. None of them says who the resident is.
SUBJECT_SHAPES: tuple[tuple[str, str], ...] = (
    ("pickup", r"^P-[0-9A-F]{16}$"),
    ("receipt", r"^R-[0-9A-F]{16}$"),
    ("application", rf"^\*{{{APPLICATION_ID_LENGTH - 4}}}[0-9]{{4}}$"),  # as receipts show it: only the last 4
    ("staff_call", r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
)

_HASH = re.compile(HASH_PATTERN)
_KIOSK_ID = re.compile(KIOSK_ID_PATTERN)
_AT = re.compile(AT_PATTERN)
_ACTOR = re.compile(ACTOR_PATTERN)
_ACTION = re.compile(ACTION_PATTERN)
_CODE = re.compile(CODE_PATTERN)
_DETAIL_KEY = re.compile(DETAIL_KEY_PATTERN)
_SUBJECTS = tuple((name, re.compile(pattern)) for name, pattern in SUBJECT_SHAPES)

BODY_FIELDS = ("seq", "kiosk_id", "at", "actor", "role", "action", "outcome", "subject", "details")
FIELDS = (*BODY_FIELDS, "prev_hash", "hash")


class AuditInvalid(ValueError):
    """An entry (or a value for one) breaks the trail's rules; ``field`` names where. Never holds the value."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class AuditEntry:
    """One link of a kiosk's chain. Build with ``next_entry``; read with ``entry_from_dict``."""

    seq: int
    kiosk_id: str
    at: str
    actor: str
    role: str
    action: str
    outcome: str
    subject: str | None
    details: Mapping[str, Any] = field(hash=False)
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """What ``hash`` covers, besides ``prev_hash``."""
        return {name: getattr(self, name) for name in BODY_FIELDS} | {"details": dict(self.details)}

    def as_dict(self) -> dict[str, Any]:
        return {**self.body(), "prev_hash": self.prev_hash, "hash": self.hash}

    def computed_hash(self) -> str:
        """The hash this entry's content gives (equal to ``hash`` unless something was changed)."""
        return entry_hash(self.prev_hash, self.body())


def canonical_json(document: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8, no NaN: one byte string per value."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def entry_hash(prev_hash: str, body: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(dict(body))).hexdigest()


def format_at(moment: datetime) -> str:
    """An aware datetime as the trail writes it: UTC, milliseconds, ``Z``."""
    if moment.tzinfo is None:
        raise AuditInvalid("at", "needs a time zone")
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def masked_application_id(application_id: str) -> str:
    """The subject for an application: only the last 4 of the 23 digits, as the receipt shows them."""
    check_application_id(application_id)
    return "*" * (APPLICATION_ID_LENGTH - 4) + application_id[-4:]


def subject_kind(subject: str | None) -> str | None:
    """Which ``SUBJECT_SHAPES`` a subject has (None for no subject); ``AuditInvalid`` for any other text."""
    if subject is None:
        return None
    if isinstance(subject, str):
        for name, shape in _SUBJECTS:
            if shape.fullmatch(subject):
                return name
    kinds = ", ".join(name for name, _ in SUBJECT_SHAPES)
    raise AuditInvalid("subject", f"must be an opaque reference ({kinds}) or none — never a name or number")


# --- checking ------------------------------------------------------------------------------------------


def _text(name: str, value: object, pattern: re.Pattern[str], rule: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise AuditInvalid(name, rule)
    return value


def check_actor(actor: object, role: object) -> None:
    """A clerk's account name and role (or "system" for both): what ``actor``/``role`` may hold."""
    if role not in ROLES:
        raise AuditInvalid("role", f"must be one of {', '.join(ROLES)}")
    name = _text("actor", actor, _ACTOR, "must be an ASCII account name (letters, digits, . _ @ -), up to 64")
    if _ACTOR_DIGIT_RUN.search(name):
        raise AuditInvalid("actor", "holds a long run of digits (a number, not an account name)")
    if (actor == SYSTEM_ACTOR) != (role == SYSTEM_ACTOR):
        raise AuditInvalid("role", "is 'system' exactly when the actor is 'system'")


def _code(name: str, value: str) -> str:
    if not _CODE.fullmatch(value) or _CODE_DIGIT_RUN.search(value):
        raise AuditInvalid(name, "must be a lower-case code (a-z, 0-9, _ . -; no runs of digits), never free text")
    return value


def _scalar(name: str, value: object) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -MAX_DETAIL_INT <= value <= MAX_DETAIL_INT:
            raise AuditInvalid(name, f"integers stay within ±{MAX_DETAIL_INT} (a count, not an identifier)")
        return value
    if isinstance(value, str):
        return _code(name, value)
    raise AuditInvalid(name, "must be a code, an integer, true/false or null (no floats, no binary)")


def _value(name: str, value: object, *, depth: int) -> Any:
    if isinstance(value, Mapping):
        if depth >= 1:
            raise AuditInvalid(name, "details nest one level at most")
        return _object(name, value, depth=depth + 1)
    if isinstance(value, list | tuple):
        if len(value) > MAX_DETAIL_LIST:
            raise AuditInvalid(name, f"lists hold at most {MAX_DETAIL_LIST} values")
        return [_scalar(f"{name}[{i}]", item) for i, item in enumerate(value)]
    return _scalar(name, value)


def _object(name: str, value: Mapping[Any, Any], *, depth: int) -> dict[str, Any]:
    if len(value) > MAX_DETAIL_KEYS:
        raise AuditInvalid(name, f"at most {MAX_DETAIL_KEYS} keys")
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _DETAIL_KEY.fullmatch(key) or _CODE_DIGIT_RUN.search(key):
            raise AuditInvalid(name, "keys are lower-case codes (a-z, 0-9, _)")
        out[key] = _value(f"{name}.{key}", item, depth=depth)
    return out


def check_details(details: object) -> dict[str, Any]:
    """The details as they will be hashed (lists for tuples), or ``AuditInvalid`` naming the bad key."""
    if details is None:
        return {}
    if not isinstance(details, Mapping):
        raise AuditInvalid("details", "must be an object")
    checked = _object("details", details, depth=0)
    if len(canonical_json(checked)) > MAX_DETAILS_BYTES:
        raise AuditInvalid("details", f"must stay under {MAX_DETAILS_BYTES} bytes")
    return checked


def _check_body(body: Mapping[str, Any], *, known_actions_only: bool) -> dict[str, Any]:
    seq = body.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= MAX_SEQ:
        raise AuditInvalid("seq", "must be a whole number from 1")
    _text("kiosk_id", body.get("kiosk_id"), _KIOSK_ID, "must be a kiosk id (letters, digits, _ . -)")
    _text("at", body.get("at"), _AT, "must be UTC as YYYY-MM-DDTHH:MM:SS.mmmZ")
    check_actor(body.get("actor"), body.get("role"))
    action = _text("action", body.get("action"), _ACTION, "must be a name like 'pickup.handover'")
    if known_actions_only and action not in ACTIONS:
        raise AuditInvalid("action", "is not one of contract.audit.ACTIONS")
    outcome = body.get("outcome")
    if outcome not in OUTCOMES:
        raise AuditInvalid("outcome", f"must be one of {', '.join(OUTCOMES)}")
    subject_kind(body.get("subject"))
    return {**{name: body.get(name) for name in BODY_FIELDS}, "details": check_details(body.get("details"))}


def next_entry(
    previous: AuditEntry | None,
    *,
    kiosk_id: str,
    at: datetime | str,
    actor: str,
    role: str,
    action: str,
    outcome: str,
    subject: str | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """The entry that follows ``previous`` (None: the first of the chain), checked and hashed."""
    if previous is not None and previous.kiosk_id != kiosk_id:
        raise AuditInvalid("kiosk_id", "a chain belongs to one kiosk")
    body = _check_body({
        "seq": 1 if previous is None else previous.seq + 1,
        "kiosk_id": kiosk_id,
        "at": format_at(at) if isinstance(at, datetime) else at,
        "actor": actor,
        "role": role,
        "action": action,
        "outcome": outcome,
        "subject": subject,
        "details": details,
    }, known_actions_only=True)
    prev_hash = GENESIS if previous is None else previous.hash
    return AuditEntry(**body, prev_hash=prev_hash, hash=entry_hash(prev_hash, body))


def entry_from_dict(document: object) -> AuditEntry:
    """An entry read back (a database row, an export line, a request): shape and privacy rules checked,
    the hash **not** compared (``verify_chain`` does that, so that it can say which entry was changed)."""
    if not isinstance(document, Mapping):
        raise AuditInvalid("entry", "must be an object")
    unknown = set(document) - set(FIELDS)
    if unknown:
        raise AuditInvalid("entry", "has fields that are not part of an audit entry")
    body = _check_body(document, known_actions_only=False)
    for name in ("prev_hash", "hash"):
        _text(name, document.get(name), _HASH, "must be 64 lower-case hex digits (SHA-256)")
    return AuditEntry(**body, prev_hash=str(document["prev_hash"]), hash=str(document["hash"]))


# --- verifying ----------------------------------------------------------------------------------------

BREAK_KINDS = ("malformed", "other_kiosk", "modified", "duplicated", "reordered", "deleted", "unlinked",
               "truncated")


@dataclass(frozen=True)
class ChainBreak:
    """The first entry that is not what an intact chain holds: its position (``index``, from 0), its
    ``seq`` (None when it could not be read), the ``kind`` (``BREAK_KINDS``) and a sentence for people."""

    index: int
    seq: int | None
    kind: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "position": self.index + 1, "seq": self.seq, "kind": self.kind,
                "message": self.message}


@dataclass(frozen=True)
class ChainSummary:
    """What a chain holds up to its first break (all of it when ``problem`` is None)."""

    kiosk_id: str | None
    count: int
    first_seq: int | None
    last_seq: int | None
    last_hash: str | None
    problem: ChainBreak | None = None

    @property
    def valid(self) -> bool:
        return self.problem is None

    @property
    def from_genesis(self) -> bool:
        """True when the chain starts at seq 1 (an export of a period starts later)."""
        return self.first_seq in (None, 1)

    def as_dict(self) -> dict[str, Any]:
        return {"kiosk_id": self.kiosk_id, "valid": self.valid, "entries": self.count, "first_seq": self.first_seq,
                "last_seq": self.last_seq, "last_hash": self.last_hash, "from_genesis": self.from_genesis,
                "break": None if self.problem is None else self.problem.as_dict()}


Readable = AuditEntry | BaseException


def verify_chain(
    entries: Sequence[Readable], *, expect_seq: int | None = None, expect_prev: str | None = None
) -> ChainBreak | None:
    """The first bad entry of one kiosk's chain, or None when every entry is intact and in place.

    Without ``expect_seq``/``expect_prev`` the chain must start at seq 1 with the genesis hash — or, when
    its lowest seq is later (an export of a period), it is taken to start there, anchored at that entry's
    ``prev_hash``. With them (the server continuing what it stored), the first entry must be exactly that.
    An item that is an exception stands for an entry that could not be read (``malformed``).
    """
    return summarise_chain(entries, expect_seq=expect_seq, expect_prev=expect_prev).problem


def summarise_chain(
    entries: Sequence[Readable],
    *,
    expect_seq: int | None = None,
    expect_prev: str | None = None,
    positions: Sequence[int] | None = None,
) -> ChainSummary:
    """``verify_chain`` with what the intact part holds. ``positions``: where each entry sits in a larger
    file (an export of several kiosks), for the break's ``index`` and message; default 0, 1, 2…"""
    if (expect_seq is None) != (expect_prev is None):
        raise ValueError("give both expect_seq and expect_prev, or neither")
    where = list(range(len(entries))) if positions is None else list(positions)
    readable = [e for e in entries if isinstance(e, AuditEntry)]
    kiosk_id = readable[0].kiosk_id if readable else None
    if expect_seq is None or expect_prev is None:  # the chain starts at its lowest seq (1: the genesis)
        start = min(readable, key=lambda e: e.seq, default=None)
        expect_seq = 1 if start is None or start.seq == 1 else start.seq
        expect_prev = GENESIS if start is None or start.seq == 1 else start.prev_hash
    later = _later_seqs(entries)
    seen: set[str] = set()
    intact: list[AuditEntry] = []
    for index, entry in enumerate(entries):
        problem = _check_link(where[index], entry, kiosk_id, expect_seq, expect_prev, seen, later[index])
        if problem is not None:
            return _summary(kiosk_id, intact, problem)
        if isinstance(entry, AuditEntry):  # always, once _check_link passed it
            seen.add(entry.hash)
            expect_seq, expect_prev = entry.seq + 1, entry.hash
            intact.append(entry)
    return _summary(kiosk_id, intact, None)


def _summary(kiosk_id: str | None, intact: Sequence[AuditEntry], problem: ChainBreak | None) -> ChainSummary:
    first, last = (intact[0], intact[-1]) if intact else (None, None)
    return ChainSummary(kiosk_id, len(intact), first.seq if first else None, last.seq if last else None,
                        last.hash if last else None, problem)


def _later_seqs(entries: Sequence[Readable]) -> list[frozenset[int]]:
    """For each position, the seqs that appear after it (tells a reordered entry from a deleted one)."""
    out: list[frozenset[int]] = []
    after: set[int] = set()
    for entry in reversed(entries):
        out.append(frozenset(after))
        if isinstance(entry, AuditEntry):
            after.add(entry.seq)
    out.reverse()
    return out


def _check_link(index: int, entry: Readable, kiosk_id: str | None, expect_seq: int, expect_prev: str,
                seen: set[str], later: frozenset[int]) -> ChainBreak | None:
    if not isinstance(entry, AuditEntry):
        reason = f" ({entry})" if isinstance(entry, AuditInvalid) else ""
        return ChainBreak(index, None, "malformed", f"entry {index + 1} is not a readable audit entry{reason}")
    where = f"entry {index + 1} (seq {entry.seq})"
    if entry.kiosk_id != kiosk_id:
        return ChainBreak(index, entry.seq, "other_kiosk",
                          f"{where} belongs to kiosk {entry.kiosk_id}, not to this chain's kiosk {kiosk_id}")
    if entry.computed_hash() != entry.hash:
        return ChainBreak(index, entry.seq, "modified", f"{where} was modified: its content no longer matches its hash")
    if entry.seq < expect_seq:
        if entry.hash in seen:
            return ChainBreak(index, entry.seq, "duplicated", f"{where} appears a second time")
        return ChainBreak(index, entry.seq, "reordered",
                          f"{where} is out of order: it comes after seq {expect_seq - 1}")
    if entry.seq > expect_seq:
        if expect_seq in later:
            return ChainBreak(index, entry.seq, "reordered",
                              f"{where} is out of order: seq {expect_seq} should come before it")
        missing = entry.seq - expect_seq
        span = f"seq {expect_seq} is" if missing == 1 else f"seq {expect_seq} to {entry.seq - 1} are"
        deleted = "1 entry was" if missing == 1 else f"{missing} entries were"
        return ChainBreak(index, entry.seq, "deleted", f"{span} missing before {where}: {deleted} deleted")
    if entry.prev_hash != expect_prev:
        before = "the chain's start" if expect_seq == 1 else f"seq {expect_seq - 1}"
        return ChainBreak(index, entry.seq, "unlinked",
                          f"{where} does not continue the chain: its prev_hash is not the hash of {before}")
    return None


def verify_export(entries: Sequence[Readable]) -> list[ChainSummary]:
    """Every kiosk chain in an export (entries of one kiosk are contiguous in order of seq), each verified;
    positions in breaks count from the start of the whole export. An unreadable item belongs to the chain
    of the entry before it."""
    chains: dict[str | None, list[tuple[int, Readable]]] = {}
    current: str | None = None
    for index, entry in enumerate(entries):
        if isinstance(entry, AuditEntry):
            current = entry.kiosk_id
        chains.setdefault(current, []).append((index, entry))
    return [summarise_chain([entry for _, entry in items], positions=[index for index, _ in items])
            for items in chains.values()]


# --- exports -------------------------------------------------------------------------------------------

CSV_COLUMNS = FIELDS
JSONL_MEDIA_TYPE = "application/x-ndjson"
CSV_MEDIA_TYPE = "text/csv"


def to_jsonl(entry: AuditEntry) -> str:
    """One line of a JSON Lines export: the entry's canonical JSON and a newline."""
    return canonical_json(entry.as_dict()).decode("utf-8") + "\n"


def csv_header() -> str:
    return _csv_line(CSV_COLUMNS)


def to_csv(entry: AuditEntry) -> str:
    """One CSV row; ``details`` is its canonical JSON, no subject is an empty cell. No cell can start
    with = + - @ (every field's shape starts otherwise), so a spreadsheet never runs one as a formula."""
    row = entry.as_dict()
    row["details"] = canonical_json(row["details"]).decode("utf-8")
    row["subject"] = row["subject"] or ""
    return _csv_line([str(row[name]) for name in CSV_COLUMNS])


def _csv_line(cells: Iterable[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(list(cells))
    return buffer.getvalue()


def parse_export(text: str) -> list[AuditEntry | AuditInvalid]:
    """An export read back (CSV when it starts with the CSV header, else JSON Lines); an unreadable line is
    an ``AuditInvalid`` in its place, so that ``verify_export`` names it. A byte-order mark (a spreadsheet
    saved the file) is ignored."""
    text = text.removeprefix("\ufeff")
    if text.startswith(csv_header().rstrip("\n")):
        return list(_parse_csv(text))
    return list(_parse_jsonl(text))


def _parse_jsonl(text: str) -> Iterator[AuditEntry | AuditInvalid]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield entry_from_dict(json.loads(line))
        except ValueError as exc:  # JSON errors and AuditInvalid
            yield exc if isinstance(exc, AuditInvalid) else AuditInvalid(f"line {number}", "is not JSON")


def _parse_csv(text: str) -> Iterator[AuditEntry | AuditInvalid]:
    rows = csv.reader(io.StringIO(text))
    next(rows)
    for row in rows:
        if not row:
            continue
        if len(row) != len(CSV_COLUMNS):
            yield AuditInvalid("row", f"has {len(row)} cells, not {len(CSV_COLUMNS)}")
            continue
        document: dict[str, Any] = dict(zip(CSV_COLUMNS, row, strict=True))
        try:
            document["seq"] = int(document["seq"]) if document["seq"].isascii() and document["seq"].isdigit() else None
            document["subject"] = document["subject"] or None
            document["details"] = json.loads(document["details"])
            yield entry_from_dict(document)
        except ValueError as exc:
            yield exc if isinstance(exc, AuditInvalid) else AuditInvalid("details", "is not JSON")
