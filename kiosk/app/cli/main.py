"""``kiosk`` — one command line for operators, demos and CI. Human output by default, ``--json`` for machines.

PINs are never accepted as arguments (prompt or an environment variable name only).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from kiosk.app.cli import audit_cmd, card_cmd, demo_cmd, doctor_cmd, outbox_cmd, run_cmd, sim_cmd
from kiosk.app.logs import configure_logging


class StrictParser(argparse.ArgumentParser):
    """No abbreviated options: ``--pin 1234`` must not be taken as ``--pin-env 1234`` and echoed back."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = StrictParser(prog="kiosk", description="My Number card counter kiosk")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_cmd.register(commands)
    doctor_cmd.register(commands)
    demo_cmd.register(commands)
    sim_cmd.register(commands)
    card_cmd.register(commands)
    outbox_cmd.register(commands)
    audit_cmd.register(commands)
    # listed for --help; main() hands `kiosk server …` to server.cli before this parser sees it
    commands.add_parser("server", help="the reference central server (serve, demo-pki, add-kiosk, …)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["server"]:  # the server has its own parser; hand it everything after the word
        from server.cli import main as server_main

        return int(server_main(arguments[1:]) or 0)
    parser = build_parser()
    args = parser.parse_args(arguments)
    configure_logging(args.verbose)
    try:
        code = int(args.handler(args) or 0)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `kiosk card pins --json | head -c 10`: the reader went away. Say nothing more (no traceback, and
        # no second error when Python flushes stdout at exit), like other Unix tools: 128 + SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
