"""``kiosk doctor``: is this machine ready to serve residents? Each problem comes with its fix."""

from __future__ import annotations

import argparse

from kiosk.app.cli.output import MARKS, emit_json
from kiosk.app.doctor import FAIL, run_checks


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("doctor", help="check pcscd, readers, cards, fonts and configuration")
    parser.add_argument("--config", help="configuration file (default: the embedded demo configuration)")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--no-probe", action="store_true", help="skip SELECTs on inserted cards")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    findings = run_checks(args.config, probe=not args.no_probe)
    failed = any(f.status == FAIL for f in findings)
    if args.json:
        emit_json({"ok": not failed, "findings": [f.as_dict() for f in findings]})
    else:
        print_findings(findings)
    return 1 if failed else 0


def print_findings(findings) -> None:
    for finding in findings:
        print(f"{MARKS[finding.status]} {finding.check}: {finding.detail}")
        if finding.fix and finding.status != "ok":
            print(f"    fix: {finding.fix}")
    failed = sum(f.status == FAIL for f in findings)
    print("all checks passed" if not failed else f"{failed} check(s) failed")
