"""Printing for the subcommands: human text, or with ``--json`` exactly one JSON document — also on failure.

A failure in JSON mode is ``{"error": {"code": …, "message": …, …}}`` on stdout with the same exit code as
the human form (which goes to stderr), so a script never has to parse English. Error messages come from
the typed errors' ``str()``, which never carries a PIN or personal data.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

MARKS = {"ok": "✔", "warn": "!", "fail": "✖"}

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CARD, EXIT_WRONG_PIN = 0, 1, 2, 3, 4


def emit_json(document: Any) -> None:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def error(message: str) -> None:
    print(f"kiosk: {message}", file=sys.stderr)


def fail(args: argparse.Namespace | None, code: str, message: str, exit_code: int, **details: Any) -> int:
    """Report a failure the way the caller asked for output; returns ``exit_code`` for ``return fail(…)``."""
    if args is not None and getattr(args, "json", False):
        emit_json({"error": {"code": code, "message": message, **details}})
    else:
        error(message)
    return exit_code


def fail_card(args: argparse.Namespace | None, exc: Exception) -> int:
    """A typed card error (``drivers.errors``): its stable code, tries left where the card said."""
    from drivers import errors

    if isinstance(exc, errors.WrongPin):
        return fail(args, exc.code, f"wrong {exc.pin_name or ''} PIN: {exc.remaining} tries left".replace("  ", " "),
                    EXIT_WRONG_PIN, pin=exc.pin_name, remaining=exc.remaining)
    if isinstance(exc, errors.PinGuardRefused):
        return fail(args, exc.code, str(exc), EXIT_CARD, pin=exc.pin_name, remaining=exc.remaining)
    return fail(args, getattr(exc, "code", "card_error"), str(exc), EXIT_CARD)
