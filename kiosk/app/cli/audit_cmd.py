"""``kiosk audit verify | export``: check the audit trail of clerk actions, and hand it to an auditor.

``verify`` reads the kiosk's trail (``[audit] path``, or ``--db``) or an export (``--file``: JSON Lines or
CSV, from this command or from the central server, which may hold several kiosks' chains) and names the
first entry that is not what an intact chain holds — modified, deleted, reordered… — in plain words; exit 0
when the trail is intact, 1 when it is not, 2 when it cannot be read. ``export`` writes the kiosk's trail as
JSON Lines or CSV (stdout, or ``--out``). Both open the trail read-only: inspecting it never changes it.
Nothing personal can be printed: the trail holds none (``contract.audit``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from contract.audit import AuditEntry, ChainSummary, csv_header, parse_export, to_csv, to_jsonl, verify_export
from kiosk.app.cli.output import EXIT_FAILED, EXIT_OK, EXIT_USAGE, emit_json, fail
from kiosk.config import ConfigError, load_config
from kiosk.services.audit_log import AuditError, read_trail, verify_rows


def register(commands: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="configuration file (default: the embedded demo configuration)")
    parser = commands.add_parser("audit", help="the audit trail of clerk actions: verify, export")
    sub = parser.add_subparsers(dest="audit_command", required=True, metavar="SUBCOMMAND")
    verify = sub.add_parser("verify", parents=[common], help="check the hash chain; name the first bad entry")
    source = verify.add_mutually_exclusive_group()
    source.add_argument("--db", metavar="PATH", help="the kiosk's audit trail (default: audit.path of the config)")
    source.add_argument("--file", metavar="EXPORT", help="an export (JSON Lines or CSV) instead of the trail")
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.set_defaults(handler=run_verify)
    export = sub.add_parser("export", parents=[common], help="write the trail for an auditor (JSON Lines or CSV)")
    export.add_argument("--db", metavar="PATH", help="the kiosk's audit trail (default: audit.path of the config)")
    export.add_argument("--format", choices=("jsonl", "csv"), required=True, help="JSON Lines or CSV")
    export.add_argument("--out", metavar="FILE", help="write here instead of stdout")
    export.set_defaults(handler=run_export)


def _trail_path(args: argparse.Namespace) -> Path:
    if args.db:
        return Path(args.db)
    config = load_config(args.config)
    return config.resolve(config.audit.path)


def run_verify(args: argparse.Namespace) -> int:
    try:
        if args.file:
            source = Path(args.file)
            summaries = verify_export(parse_export(source.read_text(encoding="utf-8")))
            shipped = None
        else:
            source = _trail_path(args)
            rows, shipped_seq, shipped_hash, _kiosk = read_trail(source)
            summaries = [verify_rows(rows, shipped_seq, shipped_hash)]
            shipped = shipped_seq
    except ConfigError as exc:
        return fail(args, "config", str(exc), EXIT_USAGE)
    except AuditError as exc:
        return fail(args, "audit", str(exc), EXIT_USAGE)
    except (OSError, UnicodeDecodeError) as exc:
        return fail(args, "audit", f"{args.file}: cannot be read ({getattr(exc, 'strerror', None) or exc})",
                    EXIT_USAGE)
    valid = all(summary.valid for summary in summaries)
    if args.json:
        document = {"source": str(source), "valid": valid, "chains": [s.as_dict() for s in summaries]}
        if shipped is not None:
            document["shipped_seq"] = shipped
        emit_json(document)
    else:
        _print_verdict(str(source), summaries, shipped)
    return EXIT_OK if valid else EXIT_FAILED


def _print_verdict(source: str, summaries: list[ChainSummary], shipped: int | None) -> None:
    print(f"audit trail {source}")
    if all(s.count == 0 and s.valid for s in summaries):
        print("  no entries yet: nothing to check")
        return
    for summary in summaries:
        kiosk = f"kiosk {summary.kiosk_id}: " if summary.kiosk_id else ""
        span = f"seq {summary.first_seq}–{summary.last_seq}"
        if summary.problem is None:
            start = "" if summary.from_genesis else " (earlier entries are not in this file)"
            print(f"  {kiosk}intact — {_entries(summary.count)}, {span}{start}")
            continue
        print(f"  {kiosk}BROKEN — {summary.problem.message}")
        if summary.count:
            print(f"    the {_entries(summary.count)} before it ({span}) are intact")
    if shipped is not None:
        print(f"  acknowledged by the central server up to seq {shipped}" if shipped else
              "  nothing acknowledged by the central server yet")


def _entries(count: int) -> str:
    return "1 entry" if count == 1 else f"{count} entries"


def run_export(args: argparse.Namespace) -> int:
    try:
        rows, _shipped, _hash, _kiosk = read_trail(_trail_path(args))
    except ConfigError as exc:
        return fail(None, "config", str(exc), EXIT_USAGE)
    except AuditError as exc:
        return fail(None, "audit", str(exc), EXIT_USAGE)
    entries = [row for row in rows if isinstance(row, AuditEntry)]
    if len(entries) != len(rows):
        return fail(None, "audit", f"{len(rows) - len(entries)} entries are unreadable; run `kiosk audit verify`",
                    EXIT_FAILED)
    lines = [csv_header()] if args.format == "csv" else []
    lines += [to_csv(entry) if args.format == "csv" else to_jsonl(entry) for entry in entries]
    text = "".join(lines)
    if args.out:
        target = Path(args.out)
        try:
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        except OSError as exc:
            return fail(None, "audit", f"{target}: cannot be written ({exc.strerror or exc})", EXIT_USAGE)
        print(f"{len(entries)} entries written to {target}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK
