"""scripts/server-backup and scripts/server-restore: a dated 0600 archive of the database and the photo store, and
its restore into an empty database — after which the same applications, receipts and photos come back through
the API. On PostgreSQL (pg_dump/pg_restore) with the database dropped in between, and on SQLite; and the
refusals that keep a restore from doing harm."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import tarfile
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from server.db import make_engine
from server.keys import load_or_create_secret
from server.pki_demo import DemoPki
from server.serve import BackgroundServer
from server.settings import Settings
from tests.conftest import REPO
from tests.server.helpers import LiveServer, LogCapture, MovableClock, application_body, basic4, noise_jpeg
from tests.server.pgcluster import PgCluster

pytestmark = pytest.mark.server

ARCHIVE_NAME = re.compile(r"^mynumber-central-backup-\d{8}T\d{6}Z\.tar$")


def _config(directory: Path, url: str, pki: DemoPki) -> Path:
    kiosks = "\n".join(f'{k} = "{pki.kiosks[k].fingerprint}"' for k in ("kiosk-01", "kiosk-02"))
    config = directory / "server.toml"
    config.write_text(f"""[server]
database_url = "{url}"
secret_file = "state/server.secret"

[tls]
certfile = "{pki.server_cert}"
keyfile = "{pki.server_key}"
kiosk_ca = "{pki.ca_cert}"
client_cert = "optional"

[photos]
face_checks = false
directory = "state/photos"

[kiosks]
{kiosks}
""", encoding="utf-8")
    return config


def _script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHON": str(REPO / ".venv" / "bin" / "python")}
    if not Path(env["PYTHON"]).exists():
        env["PYTHON"] = shutil.which("python3") or "python3"
    return subprocess.run([str(REPO / "scripts" / name), *args], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def _live(config: Path, pki: DemoPki, foreign: tuple[Path, Path]) -> LiveServer:
    settings = Settings.from_toml(config)
    clock = MovableClock()
    background = BackgroundServer(settings, clock=clock)
    backend = "sqlite" if settings.database_url.startswith("sqlite") else "postgresql"
    return LiveServer(backend, settings.database_url, pki, foreign, background, clock, LogCapture(),
                      settings.secret_file)


def _submit_some(server: LiveServer, count: int) -> list[dict[str, Any]]:
    """``count`` applications with photos; what was sent and what the server answered."""
    sent = []
    for _ in range(count):
        photo = noise_jpeg(600, 800, seed=secrets.randbelow(10_000))
        body, key = application_body(photo), str(uuid.uuid4())
        answer = server.submit(body, key=key)
        assert answer.status_code == 201, answer.text
        sent.append({"body": body, "key": key, "photo": photo, "receipt": answer.json()})
    return sent


def _pickup(server: LiveServer, application_id: str) -> None:
    """A pickup for the application (no photo of its own: the clerk sees the application's)."""
    token = server.token("operator")
    created = server.session().post(server.url("/v1/pickups"), headers={"Authorization": f"Bearer {token}"}, json={
        "application_id": application_id, "notice_number": "N-" + secrets.token_hex(4),
        "card": {"auth_cert_serial": "abcdef", "issuer_key_id": "0a" * 20},
        "basic4": basic4(),
    })
    assert created.status_code == 201, created.text


KEPT = ("receipt_id", "application_id_masked", "status", "received_at", "updated_at")


def _states(server: LiveServer, sent: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What the API says of each application (asked from kiosk-02: the server's data, not a kiosk's memory)."""
    kiosk = server.session("kiosk-02")
    states = {}
    for item in sent:
        application_id = item["body"]["application_id"]
        state = kiosk.get(server.url(f"/v1/applications/{application_id}"))
        assert state.status_code == 200, state.text
        states[application_id] = {k: state.json()[k] for k in KEPT}
    return states


def _same_as_before(server: LiveServer, sent: list[dict[str, Any]], before: dict[str, dict[str, Any]],
                    pickup_of: str) -> None:
    assert _states(server, sent) == before
    for item in sent:
        receipt = item["receipt"]
        assert before[item["body"]["application_id"]]["receipt_id"] == receipt["receipt_id"]
        again = server.submit(item["body"], key=str(uuid.uuid4()))  # the keyed id lookup works: same secret
        assert again.status_code == 409 and again.json()["receipt"]["receipt_id"] == receipt["receipt_id"]
        replay = server.submit(item["body"], key=item["key"])  # the idempotency records came back too
        assert replay.status_code == 200 and replay.json()["receipt_id"] == receipt["receipt_id"]
    token = server.token("clerk")
    found = server.session().get(server.url("/v1/pickups"), params={"application_id": pickup_of},
                                 headers={"Authorization": f"Bearer {token}"})
    assert found.status_code == 200, found.text
    photo = next(item["photo"] for item in sent if item["body"]["application_id"] == pickup_of)
    assert base64.b64decode(found.json()["photo_jpeg_base64"]) == photo  # the photo file, restored and checked


def _archive(out: Path) -> Path:
    made = list(out.iterdir())
    assert len(made) == 1 and ARCHIVE_NAME.fullmatch(made[0].name), made
    assert stat.S_IMODE(made[0].stat().st_mode) == 0o600
    return made[0]


@pytest.mark.postgres
@pytest.mark.slow
def test_postgresql_backup_survives_a_dropped_database(
    pg_cluster: PgCluster, demo_pki: DemoPki, foreign_client: tuple[Path, Path], tmp_path: Path
) -> None:
    name = f"backup_{secrets.token_hex(4)}"
    url = pg_cluster.create_database(name)
    config = _config(tmp_path, url, demo_pki)
    out = tmp_path / "backups"

    server = _live(config, demo_pki, foreign_client)
    with server.background:
        sent = _submit_some(server, 3)
        _pickup(server, sent[0]["body"]["application_id"])
        before = _states(server, sent)
        made = _script("server-backup", "--config", str(config), "--out", str(out))  # while the server runs
        server.close_sessions()
    assert made.returncode == 0, made.stderr
    assert "3 applications" in made.stdout and "3 photo files" in made.stdout
    assert "the server secret is not in it" in made.stdout
    archive = _archive(out)
    with tarfile.open(archive) as opened:
        names = opened.getnames()
        manifest = json.loads(opened.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert names[:2] == ["manifest.json", "database.pgdump"]
    assert len([n for n in names if n.startswith("photos/")]) == 3
    assert "server.secret" not in names
    assert manifest["backend"] == "postgresql" and manifest["counts"]["applications"] == 3
    assert make_url(url).password not in archive.read_bytes().decode("latin-1")

    with psycopg.connect(pg_cluster.url("postgres").replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')  # the database is lost...
        admin.execute(f'CREATE DATABASE "{name}"')  # ...and a new, empty one made
    photos = tmp_path / "state" / "photos"
    shutil.rmtree(photos)  # and the photo folder with it

    restored = _script("server-restore", str(archive), "--config", str(config))
    assert restored.returncode == 0, restored.stderr
    assert "3 applications" in restored.stdout and "3 photo files" in restored.stdout
    assert f"already at revision {manifest['schema_revision']}" in restored.stdout  # then migrated: nothing to do
    files = [p for p in photos.rglob("*") if p.is_file()]
    assert len(files) == 3 and {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
    assert {stat.S_IMODE(p.stat().st_mode) for p in photos.rglob("*") if p.is_dir()} | {
        stat.S_IMODE(photos.stat().st_mode)} == {0o700}

    again = _live(config, demo_pki, foreign_client)
    with again.background:
        _same_as_before(again, sent, before, sent[0]["body"]["application_id"])
        again.close_sessions()

    refused = _script("server-restore", str(archive), "--config", str(config))  # a second time: not empty now
    assert refused.returncode == 1
    assert "is not empty" in refused.stderr and "Traceback" not in refused.stderr


def test_sqlite_backup_and_restore_elsewhere(
    demo_pki: DemoPki, foreign_client: tuple[Path, Path], tmp_path: Path
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    config = _config(source, f"sqlite:///{source / 'server.db'}", demo_pki)
    server = _live(config, demo_pki, foreign_client)
    with server.background:
        sent = _submit_some(server, 2)
        _pickup(server, sent[1]["body"]["application_id"])
        before = _states(server, sent)
        made = _script("server-backup", "--config", str(config), "--out", str(tmp_path / "out"), "--include-secret")
        server.close_sessions()
    assert made.returncode == 0, made.stderr
    archive = _archive(tmp_path / "out")
    with tarfile.open(archive) as opened:
        assert opened.getnames()[:3] == ["manifest.json", "server.secret", "database.sqlite3"]

    target = tmp_path / "target"  # another machine: no database, no photos, no secret yet
    target.mkdir()
    moved = _config(target, f"sqlite:///{target / 'server.db'}", demo_pki)
    restored = _script("server-restore", str(archive), "--config", str(moved))
    assert restored.returncode == 0, restored.stderr
    secret = target / "state" / "server.secret"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert load_or_create_secret(secret) == load_or_create_secret(source / "state" / "server.secret")
    assert {stat.S_IMODE(p.stat().st_mode) for p in target.glob("server.db*")} == {0o600}
    again = _live(moved, demo_pki, foreign_client)
    with again.background:
        _same_as_before(again, sent, before, sent[1]["body"]["application_id"])
        again.close_sessions()


def test_a_restore_refuses_what_would_do_harm(demo_pki: DemoPki, foreign_client: tuple[Path, Path],
                                              tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    config = _config(source, f"sqlite:///{source / 'server.db'}", demo_pki)
    server = _live(config, demo_pki, foreign_client)
    with server.background:
        _submit_some(server, 1)
        server.close_sessions()
    assert _script("server-backup", "--config", str(config), "--out", str(tmp_path / "out")).returncode == 0
    archive = _archive(tmp_path / "out")

    def restore_into(name: str, *, secret: bytes | None, archive_path: Path = archive,
                     table: bool = False) -> tuple[str, Path]:
        folder = tmp_path / name
        (folder / "state").mkdir(parents=True, exist_ok=True)
        if table:  # someone's database is already there
            engine = make_engine(f"sqlite:///{folder / 'server.db'}")
            with engine.begin() as connection:
                connection.exec_driver_sql("CREATE TABLE precious (x)")
            engine.dispose()
        if secret is not None:
            path = folder / "state" / "server.secret"
            path.write_bytes(secret)
            path.chmod(0o600)
        result = _script("server-restore", str(archive_path), "--config",
                         str(_config(folder, f"sqlite:///{folder / 'server.db'}", demo_pki)))
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        return result.stderr.strip(), folder

    said, folder = restore_into("no-secret", secret=None)
    assert "the server secret" in said and "is missing: put back the secret file this backup was made with" in said
    other = (secrets.token_bytes(32).hex() + "\n").encode()
    said, folder = restore_into("other-secret", secret=other)
    assert "is not the one this backup was made with" in said
    assert not (folder / "state" / "photos").exists()
    engine = make_engine(f"sqlite:///{folder / 'server.db'}")
    assert inspect(engine).get_table_names() == []  # nothing restored
    engine.dispose()

    damaged = tmp_path / "damaged.tar"
    with tarfile.open(archive) as original, tarfile.open(damaged, "w") as copy:
        for member in original:
            data = original.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "database.sqlite3":
                data = data[:-1] + bytes([data[-1] ^ 0xFF])
            copy.addfile(member, io.BytesIO(data))
    right = (source / "state" / "server.secret").read_bytes()
    said, _ = restore_into("damaged", secret=right, archive_path=damaged)
    assert "does not match its manifest" in said

    without_photo = tmp_path / "without-photo.tar"  # a photo the rows name is not in the archive
    with tarfile.open(archive) as original, tarfile.open(without_photo, "w") as copy:
        for member in original:
            if not member.name.startswith("photos/"):
                copy.addfile(member, original.extractfile(member))
    said, _ = restore_into("without-photo", secret=right, archive_path=without_photo)
    assert "the database is restored, but 1 photo(s) its rows name are not in the backup and 0 do not match" in said

    not_ours = tmp_path / "other.tar"
    with tarfile.open(not_ours, "w") as other_archive:
        other_archive.add(config, arcname="server.toml")
    said, _ = restore_into("not-a-backup", secret=right, archive_path=not_ours)
    assert "is not a central-server backup" in said

    said, folder = restore_into("not-empty", secret=right, table=True)
    assert "the target database is not empty: restore into a new, empty database" in said

    (tmp_path / "photos-left" / "state" / "photos" / "ab").mkdir(parents=True)
    said, _ = restore_into("photos-left", secret=right)
    assert "photo folder" in said and "is not empty" in said
