"""Backup and restore of the central server: the database and the photo store in one dated archive.

``python -m server.backup create``  (``scripts/server-backup``) writes ``mynumber-central-backup-<UTC time>.tar``,
mode 0600, holding, in this order:

1. ``manifest.json`` — format, time, backend, schema revision, row counts (no personal data), the database
   member's SHA-256, and ``secret_id``: a keyed fingerprint of the server secret (HMAC, it reveals nothing of
   the secret) so that a restore can tell it is given the secret the data was sealed with.
2. ``database.pgdump`` (PostgreSQL: ``pg_dump --format=custom``, one consistent snapshot) or
   ``database.sqlite3`` (SQLite: its online backup API, a consistent copy while the server writes).
3. ``photos/<xx>/<id>`` — the filesystem photo store (sealed files). Copied *after* the database: the server
   writes a photo before the row that names it commits and never deletes a committed photo, so every photo
   the dumped rows name is already there; a photo of a later row is an orphan the restore leaves out.
4. ``server.secret`` only with ``--include-secret``. Without it (the default) the archive alone opens no photo,
   contact or application id: keep a copy of the secret file apart from the backups (it never changes).

``python -m server.backup restore ARCHIVE`` (``scripts/server-restore``) restores into an *empty* database (a
PostgreSQL database that exists and has no tables — ``createdb`` one; a SQLite file that does not exist yet or
has no tables) and an empty photo folder, refusing otherwise, and refusing an archive made with another server
secret than the configured one. The database goes first (``pg_restore --single-transaction``, without the
original owner and grants, so it may be restored under another role), then every photo a restored row names,
each checked against the digest in its row (``applications.photo_sha256``), then ``kiosk server migrate``
brings the schema to this code's head (a backup of an older version is upgraded). A photo named by a row but
missing from the archive, or not matching its digest, fails the restore with the count.

Settings come from ``--config`` (the server's TOML) as the server reads them; ``--db``, ``--secret-file`` and
``--photo-dir`` override single values. PostgreSQL's password goes to ``pg_dump``/``pg_restore`` through
``PGPASSWORD``, never on a command line; the tools are ``$PG_BIN``/…, else the ones on ``PATH``, else the newest
in ``/usr/lib/postgresql/*/bin`` (pg_dump must be at least the server's major version).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from server.db import current_revision, is_sqlite, make_engine, normalise_url, prepare_sqlite_file
from server.keys import SecretFileError, load_or_create_secret
from server.models import Application, Pickup, Renewal
from server.settings import Settings

FORMAT = "mynumber-central-backup/1"
MANIFEST = "manifest.json"
SECRET_MEMBER = "server.secret"  # noqa: S105 - a member name, not a password
_PHOTO = re.compile(r"^photos/([0-9a-f]{2})/([0-9a-f]{32})$")
_CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore that cannot go on, said in one line (exit status 1)."""


# --- shared pieces -----------------------------------------------------------------------------------------


def secret_id(secret: bytes) -> str:
    """A fingerprint of the server secret that names it without revealing it (HMAC keyed by the secret)."""
    return hmac.new(secret, b"mynumber-central-backup/secret-id", hashlib.sha256).hexdigest()[:32]


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _private_file(path: Path) -> IO[bytes]:
    """A new file only this user may read (0600 whatever the umask); refuses to overwrite."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), "wb")


def _pg_tool(name: str) -> str:
    """``pg_dump`` / ``pg_restore``: from ``$PG_BIN``, else ``PATH``, else the newest Debian cluster version."""
    configured = os.environ.get("PG_BIN")
    candidates = [Path(configured) / name] if configured else []
    on_path = shutil.which(name)
    if on_path:
        candidates.append(Path(on_path))
    versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: _major(p.parent.parent.name))
    candidates.extend(reversed(versions))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise BackupError(f"{name} is not installed (Debian: apt install postgresql-client); or set PG_BIN to its folder")


def _major(name: str) -> int:
    return int(name) if name.isdigit() else -1


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string for the database without its password, and the environment carrying it."""
    from psycopg.conninfo import make_conninfo

    parsed: URL = make_url(url)
    params: dict[str, Any] = {k: v for k, v in parsed.query.items() if isinstance(v, str)}
    for key, value in (("host", parsed.host), ("port", parsed.port), ("user", parsed.username),
                       ("dbname", parsed.database)):
        if value is not None:
            params.setdefault(key, str(value))
    env = {**os.environ}
    if parsed.password is not None:
        env["PGPASSWORD"] = str(parsed.password)
    return make_conninfo(**params), env


def _run(command: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603 - no shell
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(f"{what} failed: {detail[-1] if detail else f'exit {result.returncode}'}")


def _counts(engine: Engine) -> dict[str, int]:
    """Row counts of what the city keeps (no personal data): what a restore must find again."""
    with engine.connect() as connection:
        return {
            name: int(connection.scalar(select(func.count()).select_from(model)) or 0)
            for name, model in (("applications", Application), ("renewals", Renewal), ("pickups", Pickup))
        }


def _tables(engine: Engine) -> list[str]:
    return [name for name in inspect(engine).get_table_names() if not name.startswith("sqlite_")]


# --- create ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Created:
    path: Path
    manifest: dict[str, Any]


def create_backup(settings: Settings, out_dir: Path, *, include_secret: bool = False,
                  now: datetime | None = None) -> Created:
    """Write the archive into ``out_dir`` (see the module docstring); returns its path and manifest."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    try:
        secret = load_or_create_secret(settings.secret_file) if settings.secret_file.exists() else None
    except SecretFileError as exc:
        raise BackupError(str(exc)) from None
    if secret is None:
        raise BackupError(f"the server secret {settings.secret_file} is missing: back up a server that has one")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"mynumber-central-backup-{moment:%Y%m%dT%H%M%SZ}.tar"
    if target.exists():
        raise BackupError(f"{target} exists already")
    url = normalise_url(settings.database_url)
    engine = make_engine(url)
    try:
        revision = current_revision(engine)
        if revision is None:
            raise BackupError("the database has never been migrated: there is nothing to back up")
        counts = _counts(engine)
    finally:
        engine.dispose()
    partial = out_dir / f".{target.name}.partial"
    with tempfile.TemporaryDirectory(prefix="kiosk-backup-") as scratch:  # 0700
        dump = Path(scratch) / ("database.sqlite3" if is_sqlite(url) else "database.pgdump")
        if is_sqlite(url):
            _dump_sqlite(url, dump)
        else:
            _dump_postgresql(url, dump)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": moment.isoformat().replace("+00:00", "Z"),
            "backend": "sqlite" if is_sqlite(url) else "postgresql",
            "schema_revision": revision,
            "counts": counts,
            "database": {"member": dump.name, "sha256": _sha256_file(dump), "bytes": dump.stat().st_size},
            "secret_id": secret_id(secret),
            "includes_secret": include_secret,
        }
        try:
            with _private_file(partial) as handle, tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) \
                    as archive:
                _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=2).encode() + b"\n", moment)
                if include_secret:
                    archive.add(settings.secret_file, arcname=SECRET_MEMBER, recursive=False, filter=_owner_free)
                archive.add(dump, arcname=dump.name, recursive=False, filter=_owner_free)
                photos = _add_photos(archive, settings.photo_folder)
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    manifest["photos"] = photos
    return Created(target, manifest)


def _owner_free(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """Members carry no user or group of this machine, and the mode they are restored with."""
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o600
    return info


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes, moment: datetime) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o600, int(moment.timestamp())
    archive.addfile(info, io.BytesIO(data))


def _add_photos(archive: tarfile.TarFile, folder: Path) -> int:
    """Every stored photo file (``<xx>/<32 hex>``; a half-written ``.tmp`` is not one), sorted by name."""
    if not folder.is_dir():
        return 0
    count = 0
    for path in sorted(folder.glob("[0-9a-f][0-9a-f]/*")):
        name = f"photos/{path.parent.name}/{path.name}"
        if path.is_file() and not path.is_symlink() and _PHOTO.fullmatch(name):
            archive.add(path, arcname=name, recursive=False, filter=_owner_free)
            count += 1
    return count


def _dump_sqlite(url: str, target: Path) -> None:
    import sqlite3

    database = make_url(url).database
    if not database or not Path(database).is_file():
        raise BackupError(f"the SQLite database {database} does not exist")
    _private_file(target).close()
    with contextlib.closing(sqlite3.connect(f"file:{Path(database).resolve()}?mode=ro", uri=True, timeout=30)) \
            as source, contextlib.closing(sqlite3.connect(target)) as copy:
        source.backup(copy)  # SQLite's online backup: a consistent copy, writers may go on meanwhile


def _dump_postgresql(url: str, target: Path) -> None:
    conninfo, env = _libpq(url)
    _run([_pg_tool("pg_dump"), "--format=custom", f"--file={target}", f"--dbname={conninfo}"], env, "pg_dump")
    target.chmod(0o600)


# --- restore -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Restored:
    manifest: dict[str, Any]
    counts: dict[str, int]
    photos: int
    orphans: int


def read_manifest(archive: tarfile.TarFile) -> dict[str, Any]:
    """The first member, which must be this format's manifest."""
    first = archive.next()
    handle = archive.extractfile(first) if first is not None and first.name == MANIFEST and first.isfile() else None
    if handle is None:
        raise BackupError("this is not a central-server backup (no manifest.json first)")
    try:
        manifest = json.loads(handle.read(1 << 20))
    except ValueError:
        raise BackupError("the backup's manifest.json is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise BackupError(f"unknown backup format {found!r} (this version reads {FORMAT})")
    return manifest


def restore_backup(settings: Settings, archive_path: Path) -> Restored:
    """Restore ``archive_path`` into the configured (empty) database and photo folder, in one pass over the
    archive: manifest, [secret], database, photos."""
    url = normalise_url(settings.database_url)
    backend = "sqlite" if is_sqlite(url) else "postgresql"
    with _open_archive(archive_path) as archive:
        manifest = read_manifest(archive)
        if manifest.get("backend") != backend:
            raise BackupError(f"this backup is of a {manifest.get('backend')} database; the target is {backend}")
        _check_empty(url, settings.photo_folder)
        member = archive.next()
        carried = None
        if manifest.get("includes_secret"):
            if member is None or member.name != SECRET_MEMBER or not member.isfile():
                raise BackupError("the manifest says the backup holds the server secret, but it does not")
            carried = _member_bytes(archive, member).read(4096)
            member = archive.next()
        _check_secret(settings, manifest, carried)  # before anything is written: other-secret data is unreadable
        expected = manifest.get("database", {})
        if member is None or member.name != expected.get("member") or not member.isfile():
            raise BackupError("the backup has no database where its manifest says")
        with tempfile.TemporaryDirectory(prefix="kiosk-restore-") as scratch:  # 0700
            dump = Path(scratch) / Path(member.name).name
            _extract(archive, member, dump)
            if _sha256_file(dump) != expected.get("sha256"):
                raise BackupError("the backup's database does not match its manifest (damaged archive)")
            if backend == "sqlite":
                _restore_sqlite(url, dump)
            else:
                _restore_postgresql(url, dump)
        wanted, counts = _restored_rows(url)
        if counts != manifest.get("counts"):
            raise BackupError(f"the restored database holds {counts}, the backup recorded {manifest.get('counts')}")
        written, orphans, damaged = _write_photos(archive, settings.photo_folder, wanted)
    missing = len(wanted) - written - damaged
    if damaged or missing:
        raise BackupError(f"the database is restored, but {missing} photo(s) its rows name are not in the backup and "
                          f"{damaged} do not match their digest")
    return Restored(manifest, counts, written, orphans)


@contextlib.contextmanager
def _open_archive(path: Path) -> Iterator[tarfile.TarFile]:
    try:
        archive = tarfile.open(path, mode="r:")  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{path}: not a readable backup ({exc})") from None
    with archive:
        try:
            yield archive
        except tarfile.TarError as exc:  # e.g. cut short
            raise BackupError(f"{path}: the archive is damaged ({exc})") from None


def _member_bytes(archive: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    source = archive.extractfile(member) if member.isfile() else None
    if source is None:
        raise BackupError(f"the backup's {member.name} is not a regular file")
    return source


def _check_empty(url: str, folder: Path) -> None:
    if folder.is_dir() and any(folder.iterdir()):
        raise BackupError(f"the photo folder {folder} is not empty: restore into an empty (or missing) folder")
    engine = make_engine(url)
    try:
        if _tables(engine):
            raise BackupError("the target database is not empty: restore into a new, empty database "
                              "(PostgreSQL: createdb; SQLite: a file that does not exist yet)")
    finally:
        engine.dispose()


def _check_secret(settings: Settings, manifest: dict[str, Any], carried: bytes | None) -> None:
    path = settings.secret_file
    if not path.exists():
        if carried is None:
            raise BackupError(f"the server secret {path} is missing: put back the secret file this backup was made "
                              "with (it is not in the archive) before restoring")
        path.parent.mkdir(parents=True, exist_ok=True)
        with _private_file(path) as handle:
            handle.write(carried)
    try:
        secret = load_or_create_secret(path)
    except SecretFileError as exc:
        raise BackupError(str(exc)) from None
    if not hmac.compare_digest(secret_id(secret), str(manifest.get("secret_id", ""))):
        raise BackupError(f"the server secret {path} is not the one this backup was made with (its photos, contacts "
                          "and application ids could not be read): configure that secret file")


def _extract(archive: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    source = _member_bytes(archive, member)
    with _private_file(target) as handle:
        shutil.copyfileobj(source, handle, _CHUNK)
        handle.flush()
        os.fsync(handle.fileno())


def _restore_sqlite(url: str, dump: Path) -> None:
    import sqlite3

    database = make_url(url).database
    if not database:
        raise BackupError("the SQLite URL names no database file")
    prepare_sqlite_file(database)  # 0600 before SQLite writes a byte
    with contextlib.closing(sqlite3.connect(dump)) as source, contextlib.closing(sqlite3.connect(database)) as target:
        source.backup(target)


def _restore_postgresql(url: str, dump: Path) -> None:
    conninfo, env = _libpq(url)
    _run([_pg_tool("pg_restore"), "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges",
          f"--dbname={conninfo}", str(dump)], env, "pg_restore")


def _restored_rows(url: str) -> tuple[dict[str, str], dict[str, int]]:
    """The photo files the restored rows name (id -> SHA-256 of the sealed file), and the row counts."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            wanted = {ref: digest for ref, digest in connection.execute(
                select(Application.photo_ref, Application.photo_sha256).where(Application.photo_ref.is_not(None))
            )}
        return wanted, _counts(engine)
    finally:
        engine.dispose()


def _write_photos(archive: tarfile.TarFile, folder: Path, wanted: dict[str, str]) -> tuple[int, int, int]:
    """The rest of the archive: (written, orphans left out, damaged) — photo files named by a restored row,
    each written 0600 (folders 0700) only when its bytes match the row's digest."""
    written = orphans = damaged = 0
    made: set[Path] = set()
    for member in archive:
        match = _PHOTO.fullmatch(member.name)
        if match is None or not member.isfile():
            continue
        ref = match.group(2)
        if ref not in wanted or ref[:2] != match.group(1):
            orphans += 1
            continue
        sealed = _member_bytes(archive, member).read()
        if hashlib.sha256(sealed).hexdigest() != wanted[ref]:
            damaged += 1
            continue
        directory = folder / ref[:2]
        for step in (folder, directory):
            if step not in made:
                step.mkdir(mode=0o700, parents=True, exist_ok=True)
                step.chmod(0o700)  # mkdir's mode is masked by the umask
                made.add(step)
        with _private_file(directory / ref) as handle:
            handle.write(sealed)
            handle.flush()
            os.fsync(handle.fileno())
        written += 1
    return written, orphans, damaged


# --- command line -----------------------------------------------------------------------------------------


def _settings(args: argparse.Namespace) -> Settings:
    try:
        settings = Settings.from_toml(args.config) if args.config else Settings()
    except (OSError, ValueError) as exc:
        raise BackupError(f"{args.config}: {exc}") from None
    changes: dict[str, Any] = {}
    if args.db:
        changes["database_url"] = args.db
    if args.secret_file:
        changes["secret_file"] = Path(args.secret_file)
    if args.photo_dir:
        changes["photo_directory"] = Path(args.photo_dir)
    return settings.replace(**changes) if changes else settings


def _options(parser: argparse.ArgumentParser) -> None:
    from server.cli import database_options

    database_options(parser)
    parser.add_argument("--photo-dir", help="the photo store folder (overrides the config)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m server.backup", description="Back up or restore the server.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    create = commands.add_parser("create", help="write a dated archive of the database and the photos (0600)")
    _options(create)
    create.add_argument("--out", default=".", help="folder for the archive (default: the current folder)")
    create.add_argument("--include-secret", action="store_true",
                        help="also store the server secret (then the archive alone opens everything: keep it safe)")
    restore = commands.add_parser("restore", help="restore an archive into an empty database, then migrate")
    restore.add_argument("archive")
    _options(restore)
    return parser


def _migrate(args: argparse.Namespace) -> int:
    """``kiosk server migrate`` with the same database, as an operator would run it after a restore."""
    from server.cli import main as server_cli

    argv = ["migrate", *(["--config", args.config] if args.config else []), *(["--db", args.db] if args.db else [])]
    return server_cli(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        settings = _settings(args)
        if args.command == "create":
            created = create_backup(settings, Path(args.out), include_secret=args.include_secret)
            if args.json:
                print(json.dumps({"path": str(created.path), **created.manifest}, indent=2))
            else:
                counts = ", ".join(f"{v} {k}" for k, v in created.manifest["counts"].items())
                print(f"backup written to {created.path} (0600): schema {created.manifest['schema_revision']}, "
                      f"{counts}, {created.manifest['photos']} photo files")
                if not args.include_secret:
                    print(f"the server secret is not in it: keep a copy of {settings.secret_file} apart from backups")
            return 0
        restored = restore_backup(settings, Path(args.archive))
        summary = {"counts": restored.counts, "photos": restored.photos, "orphan_photos_left_out": restored.orphans,
                   "backup_created_at": restored.manifest.get("created_at"),
                   "backup_schema_revision": restored.manifest.get("schema_revision")}
        if args.json:
            print(json.dumps(summary, indent=2))
        else:
            counts = ", ".join(f"{v} {k}" for k, v in restored.counts.items())
            print(f"restored the backup of {summary['backup_created_at']}: {counts}, {restored.photos} photo files"
                  + (f" ({restored.orphans} orphan photos no row names left out)" if restored.orphans else ""))
    except BackupError as exc:
        print(f"server backup {args.command}: {exc}", file=sys.stderr)
        return 1
    except SecretFileError as exc:  # e.g. a SQLite file readable by others (server/db.py)
        print(f"server backup {args.command}: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:  # the type only: a driver's message may name hosts and users
        print(f"server backup {args.command}: the database does not answer ({type(exc).__name__}); check "
              "database_url", file=sys.stderr)
        return 1
    except OSError as exc:  # a folder not writable, a disk full: the file and the reason, not a traceback
        print(f"server backup {args.command}: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return _migrate(args) if not args.json else _migrate_quietly(args)


def _migrate_quietly(args: argparse.Namespace) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return _migrate(args)


if __name__ == "__main__":
    sys.exit(main())
