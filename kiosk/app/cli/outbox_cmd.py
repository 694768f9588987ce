"""``kiosk outbox status | flush | purge``: what is waiting for the central server, for staff and monitoring.

Nothing here prints personal data: items are shown by local receipt number, kind, age and error code.
``flush`` sends from this process; a running kiosk's flusher may be sending too, and the leases in the
outbox keep the two from sending the same item at once (and the idempotency key makes even that harmless).
"""

from __future__ import annotations

import argparse
import time

from kiosk.app.cli.output import EXIT_USAGE, emit_json, fail
from kiosk.config import ConfigError, KioskConfig, load_config
from kiosk.services.at_rest import KeyFileError
from kiosk.services.central import CentralClient
from kiosk.services.outbox import Capacity, Outbox, OutboxError, OutboxStatus, central_delivery, open_outbox

DAY = 86400.0


def register(commands: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="configuration file (default: the embedded demo configuration)")
    common.add_argument("--json", action="store_true", help="print the result as JSON")
    parser = commands.add_parser("outbox", help="applications waiting for the central server")
    sub = parser.add_subparsers(dest="outbox_command", required=True, metavar="SUBCOMMAND")
    status = sub.add_parser("status", parents=[common], help="queued, dead and delivered items, last error")
    status.set_defaults(handler=run_status)
    flush = sub.add_parser("flush", parents=[common], help="send everything queued now, skipping backoff")
    flush.set_defaults(handler=run_flush)
    purge = sub.add_parser("purge", parents=[common], help="delete old dead items and delivery records")
    purge.add_argument("--older-than", type=_days, required=True, metavar="DAYS",
                       help="only items older than this many days")
    purge.set_defaults(handler=run_purge)


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if value < 0:
        raise argparse.ArgumentTypeError("the number of days cannot be negative")
    return value


def _open(args: argparse.Namespace) -> tuple[KioskConfig, Outbox] | None:
    try:
        config = load_config(args.config)
        return config, open_outbox(config)
    except ConfigError as exc:
        fail(args, "config", str(exc), EXIT_USAGE)
    except (KeyFileError, OutboxError) as exc:
        fail(args, "outbox", str(exc), EXIT_USAGE)
    return None


def run_status(args: argparse.Namespace) -> int:
    opened = _open(args)
    if opened is None:
        return 2
    _, outbox = opened
    with outbox:
        status = outbox.status()
        capacity = outbox.capacity()
    if args.json:
        emit_json({"path": str(outbox.path), **status.as_dict(), "capacity": capacity.as_dict()})
    else:
        print_status(str(outbox.path), status, capacity)
    return 0


def print_status(path: str, status: OutboxStatus, capacity: Capacity | None = None) -> None:
    oldest = f" (oldest waiting {_age(status.oldest_age_seconds)})" if status.oldest_age_seconds is not None else ""
    print(f"outbox {path}")
    print(f"  {status.depth} queued{oldest}, {status.delivered} delivered, {len(status.dead)} dead")
    if status.last_error:
        when = f" at {_clock(status.last_error_at)}" if status.last_error_at else ""
        print(f"  last error: {status.last_error}{when}")
    if capacity is not None:
        free = f"{capacity.free_bytes / 1e6:.0f} MB free, {capacity.needed_bytes / 1e6:.0f} MB needed"
        if capacity.accepting:
            print(f"  new applications: accepted ({free})")
        else:
            why = "the disk is full" if capacity.reason == "disk_full" else "the delivery reserve is in use"
            print(f"  new applications: NOT accepted — {why} ({free}); free disk space")
    if status.dead:
        print("  dead items (refused by the server; kept for staff, never retried automatically):")
        for item in status.dead:
            print(f"    {item.local_number}  {item.kind:<11}  queued {_clock(item.created_at)}  "
                  f"{item.attempts} attempt(s)  {item.last_error or '-'}")


def run_flush(args: argparse.Namespace) -> int:
    opened = _open(args)
    if opened is None:
        return 2
    config, outbox = opened
    try:
        client = CentralClient.from_config(config)
    except (ConfigError, ValueError) as exc:
        outbox.close()
        return fail(args, "config", str(exc), EXIT_USAGE)
    with outbox, client:
        made_due = outbox.flush_now()
        report = outbox.drain(central_delivery(client))
        remaining = outbox.status().depth
    if args.json:
        emit_json({"made_due": made_due, "delivered": report.delivered, "dead": report.dead,
                   "retried": report.retried, "blocked_by": report.blocked_by, "remaining": remaining})
    else:
        print(f"delivered {report.delivered}, refused (dead) {report.dead}, still queued {remaining}")
        if report.blocked_by:
            print(f"stopped: {report.blocked_detail or report.blocked_by}")
    return 0 if remaining == 0 else 1


def run_purge(args: argparse.Namespace) -> int:
    opened = _open(args)
    if opened is None:
        return 2
    _, outbox = opened
    with outbox:
        dead, delivered = outbox.purge(args.older_than * DAY)
    if args.json:
        emit_json({"dead_removed": dead, "delivery_records_removed": delivered})
    else:
        print(f"removed {dead} dead item(s) and {delivered} delivery record(s) older than "
              f"{args.older_than:g} day(s)")
    return 0


def _age(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _clock(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else "-"
