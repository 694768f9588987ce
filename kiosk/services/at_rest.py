"""Encryption of personal payloads at rest (the outbox), and where its key comes from.

Why: an application waiting for the network holds a photo, a name, contacts and an application id. The
outbox file gets copied — backups, support bundles, a disk pulled from a broken kiosk — so it must hold
only ciphertext. AES-256-GCM with a random 96-bit nonce per item; the item's id and kind are bound in as
associated data, so a ciphertext moved to another row (or relabelled as another kind) fails to open
instead of being delivered under the wrong idempotency key.

Honest limits: with ``key_source = "file"`` the key sits on the same disk as the outbox; that protects
copies of the database, not a full disk image. ``key_source = "keyring"`` (when the optional ``keyring``
package is installed — not a dependency) or full-disk encryption close that gap. Keys are never in the
repository: they are generated on first use.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
_VERSION = b"\x01"  # first byte of every sealed blob, so the format can change without guessing
_AAD_PREFIX = b"mynumber-kiosk/outbox/v1\x00"
KEYRING_SERVICE = "mynumber-kiosk"
KEYRING_USER = "outbox-key"


class AtRestError(Exception):
    """Base of at-rest failures; ``str()`` tells an operator what to do."""


class KeyFileError(AtRestError):
    """The key cannot be obtained safely (bad permissions, malformed file, keyring unusable)."""


class PayloadUnreadable(AtRestError):
    """A sealed payload did not open: wrong key, tampering, or a blob moved from another row."""


class PayloadCipher:
    """Seals and opens payloads for one key. Stateless apart from the key; safe to share across threads."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"an at-rest key is {KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, item_id: str, kind: str, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, _aad(item_id, kind))

    def open(self, item_id: str, kind: str, blob: bytes) -> bytes:
        if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != _VERSION:
            raise PayloadUnreadable("the stored payload is not in a known at-rest format")
        nonce, body = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, _aad(item_id, kind))
        except InvalidTag as exc:
            raise PayloadUnreadable(
                "the stored payload does not open with this key (different key, or the data was altered)"
            ) from exc

    def seal_json(self, item_id: str, kind: str, document: Any) -> bytes:
        return self.seal(item_id, kind, json.dumps(document, separators=(",", ":")).encode("utf-8"))

    def open_json(self, item_id: str, kind: str, blob: bytes) -> Any:
        return json.loads(self.open(item_id, kind, blob))


def _aad(item_id: str, kind: str) -> bytes:
    # NUL-separated: neither part may contain NUL, so ("ab", "c") and ("a", "bc") never collide.
    if "\x00" in item_id or "\x00" in kind:
        raise ValueError("item ids and kinds must not contain NUL")
    return _AAD_PREFIX + item_id.encode("utf-8") + b"\x00" + kind.encode("utf-8")


# --- keys ------------------------------------------------------------------------------------------------


def load_key(source: str, key_file: str | Path) -> bytes:
    """The outbox key from ``source`` ("file" or "keyring"), created on first use.

    There is deliberately no automatic fallback between the two: a key that silently moved from the
    keyring to a new file would leave every queued application unreadable.
    """
    if source == "file":
        return load_key_file(Path(key_file))
    if source == "keyring":
        return load_keyring_key()
    raise KeyFileError(f"unknown key source {source!r}; use 'file' or 'keyring'")


def load_key_file(path: Path) -> bytes:
    """Read the key from ``path`` (created with mode 0600 if missing); refuse group/world access."""
    try:
        info = path.stat()
    except FileNotFoundError:
        _create_key_file(path)
        info = path.stat()
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"{path}: the outbox key must be a regular file")
    if info.st_mode & 0o077:
        raise KeyFileError(
            f"{path}: the outbox key is accessible to group or others (mode {stat.S_IMODE(info.st_mode):04o}); "
            f"it protects residents' data — run `chmod 600 {path}` and check who could have read it"
        )
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"{path}: the outbox key cannot be read ({exc.__class__.__name__})") from exc
    return _decode_key(text, str(path))


def _create_key_file(path: Path) -> None:
    """Write a fresh key atomically: a temp file with 0600 from the start, then link() into place.

    link() fails if another process created the key meanwhile; then that key wins and ours is dropped,
    so two kiosk processes starting together agree on one key.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = base64.b64encode(os.urandom(KEY_BYTES)) + b"\n"
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask cannot widen it, but be explicit
        os.write(fd, text)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temp, path)
    except FileExistsError:
        pass
    finally:
        temp.unlink()
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def load_keyring_key(service: str = KEYRING_SERVICE, user: str = KEYRING_USER) -> bytes:
    """The key from the OS keyring (optional ``keyring`` package), created there on first use."""
    try:
        import keyring  # optional; not a dependency of the kiosk
    except ImportError as exc:
        raise KeyFileError(
            "outbox.key_source = 'keyring' needs the 'keyring' package (pip install keyring), "
            "or use key_source = 'file'"
        ) from exc
    try:
        stored = keyring.get_password(service, user)
        if stored is None:
            keyring.set_password(service, user, base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii"))
            stored = keyring.get_password(service, user)
    except Exception as exc:  # keyring backends raise their own types
        raise KeyFileError(f"the OS keyring cannot be used ({type(exc).__name__}); "
                           "configure a keyring backend or use key_source = 'file'") from exc
    if stored is None:
        raise KeyFileError("the OS keyring did not keep the outbox key; use key_source = 'file'")
    return _decode_key(stored, f"keyring {service}/{user}")


def _decode_key(text: str, where: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFileError(f"{where}: not a base64 outbox key") from exc
    if len(key) != KEY_BYTES:
        raise KeyFileError(f"{where}: an outbox key is {KEY_BYTES} bytes, this one has {len(key)}")
    return key
