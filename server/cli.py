"""``kiosk server …``: run the reference server and administer it.

``main(argv)`` is what the kiosk CLI calls for ``kiosk server …`` (and ``python -m server.cli``). Importing
this module does nothing. Secrets never come from the command line: passwords by prompt or from an
environment variable *named* on the command line; basic-4 data from a file.

Commands::

    serve [--workers N]  run HTTPS (mTLS) until Ctrl-C
    migrate        bring the database schema to head (its own deployment step; safe to run concurrently)
    demo-pki DIR   make a TEST/DEMO CA, server and kiosk certificates
    add-kiosk ID --cert PEM [--office O]   register a kiosk's client certificate fingerprint
    add-clerk NAME [--role R] [--office O] create a clerk (password prompted or --password-env VAR)
    add-pickup …   seed a pickup (operator task; the API has POST /v1/pickups too)
    set-application-status ID STATE    move an application: in_production, refused, received (re-open)
    import-crl FILE --ca CA.pem        verify and store a CRL
    export-openapi [--check]           write (or compare) server/openapi.json
    audit-export --format jsonl|csv    the kiosks' audit trails for an auditor ([--kiosk-id] [--since] [--out])
    audit-verify [--kiosk-id ID]       re-check the stored audit chains; exit 1 naming the first bad entry
    kiosks [--problems]                the fleet: state, health, last heartbeat; exit 1 when any enabled kiosk
                                       is silent or unhealthy (for cron or a monitoring check)
    kiosk-disable ID --reason TEXT     take a kiosk out of service (its next request is refused)
    kiosk-enable ID [--reason TEXT]    put it back
    kiosk-history [ID]                 every disable and enable: who, when, from where, why

The fleet commands read and write the database directly, like the other admin commands, rather than
calling the API: the API needs a kiosk's client certificate and a signed-in operator, which a cron job on
the server host has neither of, and the database is the registry ``server/deps.py`` checks on every request,
so a kiosk disabled here is refused at its next call. Their actor is ``cli:<account>`` (the OS account).
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

OPENAPI_FILE = Path(__file__).resolve().parent / "openapi.json"


class CliError(Exception):
    """A failure to report in one line (exit status 1)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _settings(args: argparse.Namespace) -> Any:
    from server.settings import Settings

    settings = Settings.from_toml(args.config) if args.config else Settings()
    changes: dict[str, Any] = {}
    for option, name in (("db", "database_url"), ("host", "host")):
        value = getattr(args, option, None)
        if value is not None:
            changes[name] = value
    for option, name in (
        ("secret_file", "secret_file"),
        ("tls_cert", "tls_certfile"),
        ("tls_key", "tls_keyfile"),
        ("kiosk_ca", "kiosk_ca_file"),
    ):
        value = getattr(args, option, None)
        if value is not None:
            changes[name] = Path(value)
    if getattr(args, "port", None) is not None:
        changes["port"] = args.port
    if getattr(args, "client_cert", None) is not None:
        changes["client_cert_mode"] = args.client_cert
    return settings.replace(**changes) if changes else settings


def _context(args: argparse.Namespace) -> Any:
    """Open the configured database (migrated to head) with the server's keys."""
    from server.app import build_context

    return build_context(_settings(args), _now)


def _emit(args: argparse.Namespace, data: dict[str, Any], lines: list[str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))
    else:
        print("\n".join(lines))


# --- commands ---------------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    from server.db import SchemaNotAtHead
    from server.keys import SecretFileError
    from server.serve import configure_logging, serve

    settings = _settings(args)
    if not settings.tls_enabled or settings.tls_keyfile is None or settings.kiosk_ca_file is None:
        raise CliError("HTTPS only: give --tls-cert, --tls-key and --kiosk-ca (or [tls] in --config)")
    if args.workers < 1:
        raise CliError("--workers must be at least 1")
    configure_logging()
    try:
        serve(settings, workers=args.workers)  # migrates (or checks) once, before any worker starts
    except (SchemaNotAtHead, SecretFileError) as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from server.db import current_revision, make_engine, upgrade_to_head

    settings = _settings(args)
    engine = make_engine(settings.database_url)
    try:
        before = current_revision(engine)
        reached = upgrade_to_head(engine)
    finally:
        engine.dispose()
    verb = f"upgraded from {before or 'an empty database'} to" if before != reached else "already at"
    _emit(args, {"previous": before, "revision": reached}, [f"database {verb} revision {reached}"])
    return 0


def cmd_demo_pki(args: argparse.Namespace) -> int:
    from server.pki_demo import create_demo_pki

    pki = create_demo_pki(args.directory, args.kiosk or ["kiosk-01"])
    data = {
        "ca_cert": str(pki.ca_cert),
        "server_cert": str(pki.server_cert),
        "server_key": str(pki.server_key),
        "kiosks": {k: {"cert": str(c.cert), "key": str(c.key), "sha256": c.fingerprint} for k, c in pki.kiosks.items()},
    }
    lines = [
        "DEMO/TEST PKI — never use these certificates in production.",
        f"  CA:      {pki.ca_cert}",
        f"  server:  {pki.server_cert}  (key {pki.server_key})",
        *(f"  kiosk {k}: {c.cert}  sha256 {c.fingerprint}" for k, c in pki.kiosks.items()),
        "Next: kiosk server add-kiosk ID --cert CERT; kiosk server serve --tls-cert … --tls-key … --kiosk-ca CA",
    ]
    _emit(args, data, lines)
    return 0


def cmd_add_kiosk(args: argparse.Namespace) -> int:
    from server.app import register_kiosk
    from server.settings import check_kiosk_id
    from server.tls import fingerprint_of_pem_file

    try:
        check_kiosk_id(args.kiosk_id)
        digest = fingerprint_of_pem_file(Path(args.cert))
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    office = _office(args)
    context = _context(args)
    try:
        with context.sessions() as session, session.begin():
            kiosk = register_kiosk(session, kiosk_id=args.kiosk_id, fingerprint=digest, now=_now())
            kiosk.office = office
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    finally:
        context.engine.dispose()
    where = f" (office {office})" if office else ""
    data = {"kiosk_id": args.kiosk_id, "sha256": digest, "office": office}
    _emit(args, data, [f"kiosk {args.kiosk_id} registered{where}: {digest}"])
    return 0


_OFFICE_MAX = 64


def _office(args: argparse.Namespace) -> str | None:
    """``--office``: the office a kiosk or clerk belongs to (clerks see the staff calls of their office's
    kiosks); None when not given (a one-office city needs none). Re-registering without it clears it."""
    office = getattr(args, "office", None)
    if office is None:
        return None
    office = office.strip()
    if not office or len(office) > _OFFICE_MAX or not office.isprintable():
        raise CliError(f"--office must be 1-{_OFFICE_MAX} printable characters")
    return str(office)


def _read_password(args: argparse.Namespace) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if not value:
            raise CliError(f"environment variable {args.password_env} is empty or not set")
        return value
    if not sys.stdin.isatty():
        raise CliError("no terminal to prompt on; use --password-env VAR")
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise CliError("the passwords differ")
    return first


def cmd_add_clerk(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import IntegrityError

    from server import security

    office = _office(args)
    password = _read_password(args)
    try:
        security.check_password_policy(password)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    context = _context(args)
    try:
        with context.sessions() as session:
            clerk = security.add_clerk(session, username=args.username, password=password, role=args.role, now=_now())
            clerk.office = office
            session.commit()
    except IntegrityError as exc:
        raise CliError(f"clerk {args.username!r} exists already") from exc
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    finally:
        context.engine.dispose()
    where = f" (office {office})" if office else ""
    data = {"username": args.username, "role": args.role, "office": office}
    _emit(args, data, [f"{args.role} {args.username} created{where}"])
    return 0


def cmd_add_pickup(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from server.errors import ApiError
    from server.identifiers import encode_photo
    from server.pickup_admin import create_pickup
    from server.schemas import PickupCreate

    try:
        basic4 = json.loads(Path(args.basic4_file).read_text(encoding="utf-8"))
        photo = encode_photo(Path(args.photo).read_bytes()) if args.photo else None
        application_id = os.environ.get(args.application_id_env, "") if args.application_id_env else args.application_id
        body = PickupCreate(
            application_id=application_id,
            notice_number=args.notice_number,
            card={"auth_cert_serial": args.card_serial, "issuer_key_id": args.issuer_key_id},
            basic4=basic4,
            photo_jpeg_base64=photo,
        )
    except ValidationError as exc:
        raise CliError("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from None
    context = _context(args)
    try:
        out = create_pickup(context, body)
    except ApiError as exc:
        raise CliError(exc.message) from None
    finally:
        context.engine.dispose()
    data = out.model_dump(mode="json", exclude={"photo_jpeg_base64", "holder"})  # nothing personal on stdout
    _emit(args, data, [f"pickup {out.pickup_id} created for notice {out.notice_number}"])
    return 0


def cmd_set_application_status(args: argparse.Namespace) -> int:
    from contract.application_id import InvalidApplicationId, check_application_id
    from server.application_admin import ApplicationNotFound, TransitionRefused, set_application_status

    if args.application_id_env:
        if args.application_id is not None:
            raise CliError("give the application id either as an argument or with --application-id-env, not both")
        application_id = os.environ.get(args.application_id_env, "")
    elif args.application_id is None:
        raise CliError("the application id is missing (argument, or --application-id-env VAR)")
    else:
        application_id = args.application_id
    try:
        check_application_id(application_id)
    except InvalidApplicationId as exc:
        raise CliError(f"application id {exc}") from None
    context = _context(args)
    try:
        change = set_application_status(context, application_id, args.state)
    except (ApplicationNotFound, TransitionRefused) as exc:
        raise CliError(str(exc)) from None
    finally:
        context.engine.dispose()
    data = {
        "application_id_masked": change.application_id_masked,
        "receipt_id": change.receipt_id,
        "previous": change.previous,
        "status": change.status,
        "changed": change.changed,
        "updated_at": change.updated_at.isoformat(),
    }
    verb = f"{change.previous} -> {change.status}" if change.changed else f"already {change.status}"
    _emit(args, data, [f"application {change.application_id_masked} ({change.receipt_id}): {verb}"])
    return 0


def cmd_import_crl(args: argparse.Namespace) -> int:
    from server.revocation import CrlRejected, import_crl

    try:
        crl_data = Path(args.file).read_bytes()
        ca_data = Path(args.ca).read_bytes()
    except OSError as exc:
        raise CliError(str(exc)) from exc
    context = _context(args)
    try:
        with context.sessions() as session, session.begin():
            result = import_crl(session, crl_data, ca_data, now=_now())
    except CrlRejected as exc:
        raise CliError(f"CRL refused: {exc}") from exc
    finally:
        context.engine.dispose()
    data = {
        "issuer_key_id": result.issuer_key_id,
        "issuer_dn": result.issuer_dn,
        "crl_number": result.crl_number,
        "this_update": result.this_update.isoformat(),
        "next_update": result.next_update.isoformat(),
        "revoked": result.revoked_count,
    }
    lines = [
        f"CRL imported for {result.issuer_dn} (key id {result.issuer_key_id})",
        f"  {result.revoked_count} revoked; valid {result.this_update.isoformat()} → {result.next_update.isoformat()}",
    ]
    _emit(args, data, lines)
    return 0


def cmd_audit_export(args: argparse.Namespace) -> int:
    from contract.audit import csv_header, to_csv, to_jsonl
    from server.audit import iter_entries

    since = _aware(args.since) if args.since else None
    context = _context(args)
    count = 0
    try:
        with _output(args.out) as out:
            if args.format == "csv":
                out.write(csv_header())
            for entry in iter_entries(context.sessions, kiosk_id=args.kiosk_id, since=since):
                out.write(to_csv(entry) if args.format == "csv" else to_jsonl(entry))
                count += 1
    except OSError as exc:
        raise CliError(f"{args.out}: cannot be written ({exc.strerror or exc})") from exc
    finally:
        context.engine.dispose()
    if args.out:
        print(f"{count} audit entries written to {args.out}", file=sys.stderr)
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from server.audit import verify_stored

    context = _context(args)
    try:
        summaries = verify_stored(context.sessions, kiosk_id=args.kiosk_id)
    finally:
        context.engine.dispose()
    valid = all(summary.valid for summary in summaries)
    lines = [f"kiosk {s.kiosk_id}: " + (f"intact — {s.count} entries, seq 1–{s.last_seq}" if s.valid
                                        else f"BROKEN — {s.problem.message if s.problem else ''}")
             for s in summaries] or ["no audit entries stored"]
    _emit(args, {"valid": valid, "chains": [s.as_dict() for s in summaries]}, lines)
    return 0 if valid else 1


def _fleet_time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _age(seconds: float | None) -> str:
    """12s, 5m, 3h, 2d: ages in a table column."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


_FLEET_COLUMNS = ("KIOSK", "STATE", "HEALTH", "HEARTBEAT", "VERSION", "READER", "OUTBOX", "LAST ERROR", "PROBLEMS")


def _fleet_row(kiosk: Any, now: datetime) -> tuple[str, ...]:
    outbox = "-" if kiosk.outbox_depth is None else str(kiosk.outbox_depth)
    if kiosk.outbox_depth and kiosk.outbox_oldest_age_seconds is not None:
        outbox += f"/{_age(kiosk.outbox_oldest_age_seconds)}"
    if kiosk.outbox_dead:
        outbox += f" dead {kiosk.outbox_dead}"
    error = "-"
    if kiosk.last_error_code is not None and kiosk.last_error_at is not None:
        error = f"{kiosk.last_error_code} {_age(max(0.0, (now - kiosk.last_error_at).total_seconds()))} ago"
    heartbeat = "never" if kiosk.heartbeat_age_seconds is None else f"{_age(kiosk.heartbeat_age_seconds)} ago"
    return (kiosk.kiosk_id, kiosk.state, kiosk.health, heartbeat, kiosk.version or "-", kiosk.reader_state or "-",
            outbox, error, ",".join(kiosk.problems) or "-")


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def cmd_kiosks(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from server.fleet import HealthRules, judge
    from server.models import Kiosk

    context = _context(args)
    now, rules = _now(), HealthRules.from_settings(context.settings)
    try:
        with context.reads() as session:
            fleet = [judge(kiosk, now=now, rules=rules)
                     for kiosk in session.scalars(select(Kiosk).order_by(Kiosk.kiosk_id))]
            session.close()
    finally:
        context.engine.dispose()
    attention = [kiosk for kiosk in fleet if kiosk.needs_attention]
    shown = attention if args.problems else fleet
    data = {
        "checked_at": now.isoformat(),
        "kiosks": [{**k.as_dict(), **{name: _fleet_time(getattr(k, name)) for name in
                                      ("registered_at", "last_heartbeat_at", "last_error_at", "enabled_changed_at")}}
                   for k in shown],
        "count": len(shown),
        "needing_attention": [k.kiosk_id for k in attention],
    }
    lines = _table([_FLEET_COLUMNS, *(_fleet_row(k, now) for k in shown)]) if shown else []
    if not fleet:
        lines.append("no kiosks registered (kiosk server add-kiosk ID --cert PEM)")
    summary = (f"{len(attention)} of {len(fleet)} kiosks need attention (silent or unhealthy): "
               f"{', '.join(k.kiosk_id for k in attention)}") if attention else f"all {len(fleet)} kiosks fine"
    _emit(args, data, [*lines, summary] if fleet else lines)
    return 1 if attention else 0


def _cli_actor() -> str:
    """``cli:<OS account>``: who ran a fleet command on the server host (no clerk account signs in here)."""
    try:
        account = getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        account = "unknown"
    return f"cli:{account}"[:64]


def _set_kiosk_enabled(args: argparse.Namespace, *, enabled: bool) -> int:
    from server.fleet import HealthRules, UnknownKiosk, judge, set_enabled
    from server.settings import check_kiosk_id

    try:
        check_kiosk_id(args.kiosk_id)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    context = _context(args)
    now = _now()
    try:
        with context.sessions() as session, session.begin():
            row, changed = set_enabled(session, args.kiosk_id, enabled=enabled, actor=_cli_actor(), role="operator",
                                       via_kiosk_id=None, reason=args.reason, keys=context.keys, now=now)
            view = judge(row, now=now, rules=HealthRules.from_settings(context.settings))
    except (UnknownKiosk, ValueError) as exc:
        raise CliError(str(exc)) from None
    finally:
        context.engine.dispose()
    word = "enabled" if enabled else "disabled"
    if not changed:
        line = f"kiosk {args.kiosk_id} was already {word}; nothing changed"
    elif enabled:
        line = f"kiosk {args.kiosk_id} enabled: its requests are accepted again"
    else:
        line = f"kiosk {args.kiosk_id} disabled: its next request is refused (kiosk_disabled)"
    _emit(args, {"kiosk_id": args.kiosk_id, "enabled": view.enabled, "state": view.state, "changed": changed}, [line])
    return 0


def cmd_kiosk_disable(args: argparse.Namespace) -> int:
    return _set_kiosk_enabled(args, enabled=False)


def cmd_kiosk_enable(args: argparse.Namespace) -> int:
    return _set_kiosk_enabled(args, enabled=True)


def cmd_kiosk_history(args: argparse.Namespace) -> int:
    from server.audit import kiosk_actions

    context = _context(args)
    try:
        actions = kiosk_actions(context.sessions, context.keys, kiosk_id=args.kiosk_id)
    finally:
        context.engine.dispose()
    lines = [f"{a.at.isoformat()}  {a.kiosk_id}  {a.action} by {a.actor} ({a.role}"
             + (f", at kiosk {a.via_kiosk_id}" if a.via_kiosk_id else "") + ")"
             + (f": {a.reason}" if a.reason else "") for a in actions] or ["no kiosk was disabled or enabled yet"]
    _emit(args, {"actions": [a.as_dict() for a in actions]}, lines)
    return 0


def _aware(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CliError(f"--since {text!r} is not an ISO 8601 time (e.g. 2026-04-01T00:00:00+09:00)") from exc
    if moment.tzinfo is None:
        raise CliError("--since needs a time zone (e.g. 2026-04-01T00:00:00+09:00 or …Z)")
    return moment


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[Any]:
    """``path`` opened for writing (0600: an export is a record of people's work), or stdout."""
    if not path:
        yield sys.stdout
        return
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
        yield handle


def openapi_text() -> str:
    from server.app import create_app
    from server.settings import Settings

    schema = create_app(Settings()).openapi()
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def cmd_export_openapi(args: argparse.Namespace) -> int:
    target = Path(args.output)
    text = openapi_text()
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print(f"{target} is out of date; run: python -m server.cli export-openapi", file=sys.stderr)
            return 1
        print(f"{target} is up to date")
        return 0
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


# --- parser -----------------------------------------------------------------------------------------------


def database_options(parser: argparse.ArgumentParser) -> None:
    """--config, --db, --secret-file, --json: how every database command (and server.backup) finds it."""
    parser.add_argument("--config", help="server TOML file (see server/server.example.toml)")
    parser.add_argument("--db", help="database URL, e.g. sqlite:///kiosk-server.db or postgresql://…")
    parser.add_argument("--secret-file", help="0600 file with the server secret (created when missing)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kiosk server", description="The reference central server.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTPS server (mTLS)")
    database_options(serve)
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--tls-cert", help="server certificate (PEM)")
    serve.add_argument("--tls-key", help="server key (PEM)")
    serve.add_argument("--kiosk-ca", help="CA certificate(s) that sign kiosk client certificates (PEM)")
    serve.add_argument("--client-cert", choices=("required", "optional"))
    serve.add_argument(
        "--workers", type=int, default=1, metavar="N", help="worker processes sharing the port (default 1)"
    )
    serve.set_defaults(handler=cmd_serve)

    migrate = commands.add_parser("migrate", help="bring the database schema to head and print the revision")
    migrate.add_argument("--config", help="server TOML file (see server/server.example.toml)")
    migrate.add_argument("--db", help="database URL, e.g. sqlite:///kiosk-server.db or postgresql://…")
    migrate.add_argument("--json", action="store_true", help="machine-readable output")
    migrate.set_defaults(handler=cmd_migrate)

    demo = commands.add_parser("demo-pki", help="create a TEST/DEMO CA, server and kiosk certificates")
    demo.add_argument("directory")
    demo.add_argument("--kiosk", action="append", help="kiosk id (repeatable; default kiosk-01)")
    demo.add_argument("--json", action="store_true")
    demo.set_defaults(handler=cmd_demo_pki)

    kiosk = commands.add_parser("add-kiosk", help="register a kiosk's client certificate")
    kiosk.add_argument("kiosk_id")
    kiosk.add_argument("--cert", required=True, help="the kiosk's client certificate (PEM)")
    kiosk.add_argument("--office", help="the office the kiosk stands in (its staff calls go to that office's clerks)")
    database_options(kiosk)
    kiosk.set_defaults(handler=cmd_add_kiosk)

    clerk = commands.add_parser("add-clerk", help="create a clerk account")
    clerk.add_argument("username")
    clerk.add_argument("--role", choices=("clerk", "supervisor", "operator"), default="clerk")
    clerk.add_argument("--password-env", metavar="VAR", help="read the password from this environment variable")
    clerk.add_argument("--office", help="the clerk's office (sees its kiosks' staff calls; none: every call)")
    database_options(clerk)
    clerk.set_defaults(handler=cmd_add_clerk)

    pickup = commands.add_parser("add-pickup", help="seed a pickup for the counter")
    source = pickup.add_mutually_exclusive_group(required=True)
    source.add_argument("--application-id", help="23 digits (synthetic data only on a command line)")
    source.add_argument("--application-id-env", metavar="VAR", help="read the application id from this variable")
    pickup.add_argument("--notice-number", required=True)
    pickup.add_argument("--card-serial", required=True, help="auth certificate serial (hex)")
    pickup.add_argument("--issuer-key-id", required=True, help="auth CA key id (hex)")
    pickup.add_argument("--basic4-file", required=True, help='JSON {"name","address","birth_date","sex"}')
    pickup.add_argument("--photo", help="JPEG for the clerk's face check")
    database_options(pickup)
    pickup.set_defaults(handler=cmd_add_pickup)

    status = commands.add_parser(
        "set-application-status",
        help="move an application (operator): in_production, refused, or received to re-open",
        description="Ready for pickup and picked up are not set by hand: they follow add-pickup and the handover.",
    )
    status.add_argument(
        "application_id", nargs="?", metavar="ID", help="23 digits (or omit it and use --application-id-env)"
    )
    status.add_argument("state", choices=("received", "in_production", "refused", "ready_for_pickup", "picked_up"))
    status.add_argument("--application-id-env", metavar="VAR", help="read the application id from this variable")
    database_options(status)
    status.set_defaults(handler=cmd_set_application_status)

    crl = commands.add_parser("import-crl", help="verify a CRL against its CA and store it")
    crl.add_argument("file", help="CRL (DER or PEM)")
    crl.add_argument("--ca", required=True, help="the issuing CA certificate (PEM or DER)")
    database_options(crl)
    crl.set_defaults(handler=cmd_import_crl)

    audit_export = commands.add_parser("audit-export", help="the audit trails for an auditor (JSON Lines or CSV)")
    audit_export.add_argument("--format", choices=("jsonl", "csv"), required=True)
    audit_export.add_argument("--kiosk-id", help="one kiosk's chain only")
    audit_export.add_argument("--since", help="entries at or after this ISO 8601 time (with a time zone)")
    audit_export.add_argument("--out", metavar="FILE", help="write here (mode 0600) instead of stdout")
    database_options(audit_export)
    audit_export.set_defaults(handler=cmd_audit_export)

    audit_verify = commands.add_parser("audit-verify", help="re-check the stored audit chains")
    audit_verify.add_argument("--kiosk-id", help="one kiosk's chain only")
    database_options(audit_verify)
    audit_verify.set_defaults(handler=cmd_audit_verify)

    kiosks = commands.add_parser("kiosks", help="the fleet's state and health; exit 1 when one needs attention")
    kiosks.add_argument("--problems", action="store_true", help="only the enabled kiosks that are silent or unhealthy")
    database_options(kiosks)
    kiosks.set_defaults(handler=cmd_kiosks)

    disable = commands.add_parser("kiosk-disable", help="take a kiosk out of service (its requests are refused)")
    disable.add_argument("kiosk_id", metavar="ID")
    disable.add_argument("--reason", required=True,
                         help="why, 5-500 characters (kept sealed; name no resident: a command line is logged)")
    database_options(disable)
    disable.set_defaults(handler=cmd_kiosk_disable)

    enable = commands.add_parser("kiosk-enable", help="put a disabled kiosk back in service")
    enable.add_argument("kiosk_id", metavar="ID")
    enable.add_argument("--reason", help="optional note, 5-500 characters (kept sealed)")
    database_options(enable)
    enable.set_defaults(handler=cmd_kiosk_enable)

    history = commands.add_parser("kiosk-history", help="every disable and enable, with who and why")
    history.add_argument("kiosk_id", nargs="?", metavar="ID", help="one kiosk only")
    database_options(history)
    history.set_defaults(handler=cmd_kiosk_history)

    openapi = commands.add_parser("export-openapi", help="write the OpenAPI document kept in the repository")
    openapi.add_argument("--output", default=str(OPENAPI_FILE))
    openapi.add_argument("--check", action="store_true", help="exit 1 when the file differs from the code")
    openapi.set_defaults(handler=cmd_export_openapi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from server.keys import SecretFileError

    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        return int(args.handler(args))
    except CliError as exc:
        print(f"kiosk server {args.command}: {exc}", file=sys.stderr)
        return 1
    except SecretFileError as exc:  # a secret or database file that is missing, unreadable or not private
        print(f"kiosk server {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
