"""Printing helpers shared by the subcommands: human text or one JSON document."""

from __future__ import annotations

import json
import sys
from typing import Any

MARKS = {"ok": "✔", "warn": "!", "fail": "✖"}


def emit_json(document: Any) -> None:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def error(message: str) -> None:
    print(f"kiosk: {message}", file=sys.stderr)
