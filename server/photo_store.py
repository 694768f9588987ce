"""Where application photos live: in their row (``database``) or one file each (``filesystem``, the default).

Why files: a photo is 100 KB-7 MB and is written once and read rarely (the clerk's face check at pickup, the
background photo check), while the row is read by every status lookup and replay. In the database a photo
makes every write transaction carry it through SQLite's single writer (or PostgreSQL's WAL) and makes
backups and vacuums of a busy table heavy. In a file it is written by the request thread *before* the
write transaction, in parallel with other requests, and the row keeps only a random id and a digest.

What is stored is always the sealed photo (AES-256-GCM, ``ServerKeys.seal``, purpose ``application-photo``):
a file holds nothing readable without the server secret. The row holds the SHA-256 of those sealed bytes
(not of the photo: a digest of the clear photo would let whoever holds the database confirm a photo they
have), and every read checks it, so a file swapped for another application's — itself a valid sealed
photo — is refused rather than shown to a clerk as this resident.

Files: ``<folder>/<id[:2]>/<id>`` (256 sub-folders, so no folder grows to millions of entries), folders
0700, files 0600, written atomically: a temporary file in the same folder, ``fsync``, ``rename``, then an
``fsync`` of the folder, so a crash leaves either the whole file or none. A photo whose row never committed
(a lost race, a crash between the file and the commit) is deleted by the request, or left as an orphan a
sweep may remove (a file no row names); it is sealed either way.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from server.settings import Settings

_REF = re.compile(r"^[0-9a-f]{32}$")


class PhotoUnavailable(RuntimeError):
    """A stored photo is missing, or its bytes are not the ones the row describes. The message names no
    person and no path a clerk could not see anyway: the reference, never the photo."""


@dataclass(frozen=True, slots=True)
class StoredPhoto:
    """What the row records about a sealed photo: the file's id (None: the bytes are in the row itself),
    the SHA-256 of the sealed bytes, and what goes into ``photo_sealed`` (b"" when in a file)."""

    ref: str | None
    sha256: str
    column: bytes


class PhotoStore(Protocol):
    def put(self, sealed: bytes) -> StoredPhoto: ...

    def get(self, ref: str | None, sha256: str | None, column: bytes) -> bytes: ...

    def discard(self, stored: StoredPhoto) -> None: ...


def digest(sealed: bytes) -> str:
    return hashlib.sha256(sealed).hexdigest()


def _check(sealed: bytes, sha256: str | None, what: str) -> bytes:
    if sha256 is not None and digest(sealed) != sha256:
        raise PhotoUnavailable(f"the stored photo {what} does not match its digest")
    return sealed


class DatabasePhotoStore:
    """The sealed bytes in ``photo_sealed`` (today's layout); the digest is recorded and checked too."""

    def put(self, sealed: bytes) -> StoredPhoto:
        return StoredPhoto(None, digest(sealed), sealed)

    def get(self, ref: str | None, sha256: str | None, column: bytes) -> bytes:
        if ref is not None:
            raise PhotoUnavailable(f"photo {ref} is in the filesystem store, which is not configured")
        return _check(column, sha256, "in the row")

    def discard(self, stored: StoredPhoto) -> None:
        """Nothing outside the row to remove."""


class FilesystemPhotoStore:
    """One sealed file per photo under ``folder`` (see the module docstring). Rows stored in the database
    before the switch (``photo_ref`` NULL) are still read from their column."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._ready: set[Path] = set()  # folders known to exist (0700): one mkdir per folder and process

    def _folder(self, folder: Path) -> None:
        if folder not in self._ready:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask; an existing folder keeps its own
            self._ready.add(folder)

    def path(self, ref: str) -> Path:
        if not _REF.fullmatch(ref):  # a reference from the row, never a path a caller can steer
            raise PhotoUnavailable("a stored photo reference is malformed")
        return self.folder / ref[:2] / ref

    def put(self, sealed: bytes) -> StoredPhoto:
        ref = secrets.token_hex(16)
        target = self.path(ref)
        self._folder(self.folder)  # created at the first photo, not when a CLI command opens the store
        self._folder(target.parent)
        temporary = target.parent / f".{ref}.tmp"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(sealed)
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_folder(target.parent)
        return StoredPhoto(ref, digest(sealed), b"")

    def get(self, ref: str | None, sha256: str | None, column: bytes) -> bytes:
        if ref is None:
            return _check(column, sha256, "in the row")
        try:
            sealed = self.path(ref).read_bytes()
        except FileNotFoundError:
            raise PhotoUnavailable(f"the stored photo {ref} is missing") from None
        return _check(sealed, sha256, ref)

    def discard(self, stored: StoredPhoto) -> None:
        if stored.ref is not None:
            self.path(stored.ref).unlink(missing_ok=True)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (the new directory entry), not only the file's bytes."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def photo_store(settings: Settings) -> PhotoStore:
    """The store ``[photos] store`` names."""
    if settings.photo_store == "database":
        return DatabasePhotoStore()
    return FilesystemPhotoStore(settings.photo_folder)
