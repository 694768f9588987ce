"""A tiny .po reader and .mo writer, so the kiosk needs neither Babel nor GNU gettext tools at run time.

Only what our catalogs use is supported: ``msgid``/``msgstr`` pairs with continuation lines and the usual
escapes. Plural forms and contexts are refused on purpose: our msgids are message keys and counts are
phrased so that one form fits ("Tries left: 2"), which keeps every language's catalog flat and checkable.
The .mo layout is the GNU one, so the standard library's ``gettext.GNUTranslations`` reads the result.
"""

from __future__ import annotations

import ast
import struct
from dataclasses import dataclass
from pathlib import Path

MO_MAGIC = 0x950412DE


class PoError(ValueError):
    """A catalog that cannot be used; the message names the file and the line."""


@dataclass(frozen=True, slots=True)
class Entry:
    msgid: str
    msgstr: str
    comment: str = ""


def parse_po(text: str, where: str = "<po>") -> list[Entry]:
    """Entries in file order; the header (empty msgid) is included as the first entry when present."""
    entries: list[Entry] = []
    comments: list[str] = []
    field: str | None = None
    values: dict[str, list[str]] = {}

    def flush(line_no: int) -> None:
        nonlocal values, comments
        if not values:
            return
        if "msgid" not in values or "msgstr" not in values:
            raise PoError(f"{where}:{line_no}: an entry needs both msgid and msgstr")
        entries.append(Entry("".join(values["msgid"]), "".join(values["msgstr"]), "\n".join(comments)))
        values, comments = {}, []

    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            flush(line_no)
            field = None
            continue
        if line.startswith("#"):
            if values and "msgstr" in values:
                flush(line_no)
            if line.startswith("#."):
                comments.append(line[2:].strip())
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in ("msgid", "msgstr"):
            if keyword == "msgid" and "msgstr" in values:
                flush(line_no)
            if keyword in values:
                raise PoError(f"{where}:{line_no}: {keyword} given twice in one entry")
            field = keyword
            values[field] = [_unquote(rest.strip(), where, line_no)]
        elif keyword in ("msgctxt", "msgid_plural") or keyword.startswith("msgstr["):
            raise PoError(f"{where}:{line_no}: {keyword} is not supported (keys are flat; phrase counts neutrally)")
        elif line.startswith('"'):
            if field is None:
                raise PoError(f"{where}:{line_no}: a continuation string outside an entry")
            values[field].append(_unquote(line, where, line_no))
        else:
            raise PoError(f"{where}:{line_no}: cannot read {line[:40]!r}")
    flush(len(text.splitlines()) + 1)
    seen: set[str] = set()
    for entry in entries:
        if entry.msgid in seen:
            raise PoError(f"{where}: msgid {entry.msgid!r} appears twice")
        seen.add(entry.msgid)
    return entries


def _unquote(token: str, where: str, line_no: int) -> str:
    if len(token) < 2 or not (token.startswith('"') and token.endswith('"')):
        raise PoError(f"{where}:{line_no}: expected a quoted string, got {token[:40]!r}")
    try:
        value = ast.literal_eval(token)  # C-style escapes of .po are a subset of Python's
    except (SyntaxError, ValueError) as exc:
        raise PoError(f"{where}:{line_no}: bad string {token[:40]!r}: {exc}") from exc
    if not isinstance(value, str):
        raise PoError(f"{where}:{line_no}: bad string {token[:40]!r}")
    return value


def quote(value: str) -> str:
    """A .po string literal (used by tooling that writes catalogs)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def mo_bytes(entries: list[Entry]) -> bytes:
    """GNU .mo bytes: sorted originals, no hash table (gettext falls back to a dict lookup anyway)."""
    pairs = sorted((e.msgid.encode("utf-8"), e.msgstr.encode("utf-8")) for e in entries if e.msgstr or not e.msgid)
    count = len(pairs)
    header_size = 7 * 4
    originals_at = header_size
    translations_at = originals_at + count * 8
    data_at = translations_at + count * 8
    data = bytearray()
    original_table: list[tuple[int, int]] = []
    translation_table: list[tuple[int, int]] = []
    for original, _ in pairs:
        original_table.append((len(original), data_at + len(data)))
        data += original + b"\0"
    for _, translation in pairs:
        translation_table.append((len(translation), data_at + len(data)))
        data += translation + b"\0"
    out = bytearray(struct.pack("<7I", MO_MAGIC, 0, count, originals_at, translations_at, 0, data_at))
    for length, offset in original_table + translation_table:
        out += struct.pack("<2I", length, offset)
    return bytes(out + data)


def compile_po(po_path: Path, mo_path: Path | None = None) -> Path:
    """Write ``kiosk.mo`` next to ``kiosk.po`` (build time); returns the written path."""
    target = mo_path or po_path.with_suffix(".mo")
    entries = parse_po(po_path.read_text(encoding="utf-8"), str(po_path))
    target.write_bytes(mo_bytes(entries))
    return target
