"""Application photos outside the row (``server/photo_store.py``) and the request's cheap photo rules.

The filesystem store (the default) writes one sealed 0600 file per photo, named by a random id, in a 0700
folder, and records the sealed bytes' SHA-256 in the row; reading back checks it, so a swapped or damaged
file is never shown to a clerk. The database store keeps today's sealed column. The request itself checks
only what the JPEG's headers say (a truncated file is still refused at once).
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from server.application_intake import application_photo
from server.identifiers import application_lookup_key
from server.models import Application
from server.photo_store import DatabasePhotoStore, FilesystemPhotoStore, PhotoUnavailable, photo_store
from server.settings import Settings
from tests.server.helpers import LiveServer, application_body, b64, noise_jpeg, notice_number

pytestmark = pytest.mark.server

PHOTO = noise_jpeg(600, 800, seed=21)


def _row(server: LiveServer, app_id: str) -> Application:
    lookup = application_lookup_key(server.context.keys, app_id)
    with server.context.reads() as session:
        row = session.scalar(select(Application).where(Application.application_key == lookup))
    assert row is not None
    return row


def test_a_photo_is_a_sealed_0600_file_named_by_a_random_id_with_its_digest_in_the_row(server: LiveServer) -> None:
    body = application_body(PHOTO)
    assert server.submit(body).status_code == 201
    row = _row(server, body["application_id"])
    store = server.context.photos
    assert isinstance(store, FilesystemPhotoStore)
    assert row.photo_sealed == b"" and row.photo_ref is not None and len(row.photo_ref) == 32
    path = store.path(row.photo_ref)
    assert path.parent.parent == server.context.settings.photo_folder == server.secret_file.parent / "photos"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.folder.stat().st_mode) == 0o700
    sealed = path.read_bytes()
    assert hashlib.sha256(sealed).hexdigest() == row.photo_sha256
    assert PHOTO not in sealed and PHOTO[1000:1064] not in sealed  # sealed, not the photo
    assert not list(path.parent.glob(".*.tmp"))  # written atomically: no temporary left behind
    assert application_photo(server.context, row) == PHOTO


def _clerk_photo(server: LiveServer, app_id: str) -> str | None:
    token = server.token("operator")
    auth = {"Authorization": f"Bearer {token}"}
    pickup = {
        "application_id": app_id,
        "notice_number": notice_number(),
        "card": {"auth_cert_serial": "0a0b", "issuer_key_id": "0c" * 20},
        "basic4": {"name": "試験　太郎", "address": "試験県試験市1-2-3", "birth_date": "19800101", "sex": "1"},
    }
    assert server.session().post(server.url("/v1/pickups"), json=pickup, headers=auth).status_code == 201
    found = server.session().get(server.url("/v1/pickups"), params={"application_id": app_id}, headers=auth)
    assert found.status_code == 200, found.text
    photo = found.json()["photo_jpeg_base64"]
    return None if photo is None else str(photo)


def test_the_clerk_sees_the_stored_photo_and_never_a_swapped_one(server: LiveServer) -> None:
    first, second = application_body(PHOTO), application_body(noise_jpeg(600, 800, seed=22))
    for body in (first, second):
        assert server.submit(body).status_code == 201
    assert _clerk_photo(server, first["application_id"]) == b64(PHOTO)
    store = server.context.photos
    assert isinstance(store, FilesystemPhotoStore)
    one, other = (_row(server, body["application_id"]) for body in (first, second))
    assert one.photo_ref is not None and other.photo_ref is not None
    # another application's file (itself a valid sealed photo) put in the place of this one's
    os.replace(store.path(other.photo_ref), store.path(one.photo_ref))
    assert _clerk_photo(server, first["application_id"]) is None
    with pytest.raises(PhotoUnavailable):
        application_photo(server.context, one)
    log = server.logs.text()
    assert "not shown" in log and first["application_id"] not in log


def test_the_database_store_keeps_the_sealed_photo_in_the_row(tmp_path: Path) -> None:
    settings = Settings(secret_file=tmp_path / "secret", photo_store="database")
    store = photo_store(settings)
    assert isinstance(store, DatabasePhotoStore)
    stored = store.put(b"sealed bytes")
    assert stored.ref is None and stored.column == b"sealed bytes"
    assert store.get(None, stored.sha256, stored.column) == b"sealed bytes"
    with pytest.raises(PhotoUnavailable):
        store.get(None, stored.sha256, b"other bytes")
    assert not (tmp_path / "photos").exists()


def test_file_references_cannot_name_another_path(tmp_path: Path) -> None:
    store = FilesystemPhotoStore(tmp_path / "photos")
    for ref in ("../../etc/passwd", "ab/cd", "A" * 32, "0" * 31):
        with pytest.raises(PhotoUnavailable):
            store.get(ref, None, b"")
    stored = store.put(b"x" * 100)
    store.discard(stored)
    assert stored.ref is not None and not store.path(stored.ref).exists()


def test_a_truncated_jpeg_is_refused_in_the_request(server: LiveServer) -> None:
    response = server.submit(application_body(PHOTO[: len(PHOTO) - 4000]))
    assert response.status_code == 422
    assert response.json()["error"] == "photo_corrupt"


def test_photo_settings_are_read_and_checked(tmp_path: Path) -> None:
    settings = Settings.from_mapping(
        {"photos": {"store": "database", "checks": "request", "directory": "pics"},
         "server": {"keep_alive_seconds": 300}},
        base_dir=tmp_path,
    )
    assert (settings.photo_store, settings.photo_checks_in) == ("database", "request")
    assert settings.photo_folder == tmp_path / "pics"
    assert settings.keep_alive_seconds == 300
    assert Settings(secret_file=tmp_path / "state" / "s").photo_folder == tmp_path / "state" / "photos"
    with pytest.raises(ValueError, match=r"photos\.store must be one of filesystem, database"):
        Settings.from_mapping({"photos": {"store": "s3"}})
    with pytest.raises(ValueError, match=r"photos\.checks must be one of background, request"):
        Settings.from_mapping({"photos": {"checks": "later"}})
    with pytest.raises(ValueError, match=r"unknown key\(s\): photos\.stor"):
        Settings.from_mapping({"photos": {"stor": "database"}})
    with pytest.raises(ValueError, match="keep_alive_seconds"):
        Settings.from_mapping({"server": {"keep_alive_seconds": 0}})
