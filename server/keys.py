"""The server secret and the keys derived from it.

One 32-byte secret lives in a 0600 file outside the database, so a copy of the database alone reveals
neither photos, contact data, application ids nor anything a basic-4 match key could be tested against.
Separate keys are derived per purpose (HKDF-SHA256 with distinct labels) so that, for instance, the key that
makes application ids searchable can never decrypt a photo.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_BYTES = 32
_NONCE_BYTES = 12
_SEAL_VERSION = b"\x01"


class SecretFileError(RuntimeError):
    """The secret file is unusable (unsafe permissions, wrong length, unreadable)."""


def load_or_create_secret(path: Path) -> bytes:
    """Read the secret, creating it with mode 0600 first when it does not exist yet."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_bytes(SECRET_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race; read theirs
            return load_or_create_secret(path)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(value.hex() + "\n")
        return value
    mode = path.stat().st_mode
    if stat.S_IMODE(mode) & 0o077:
        raise SecretFileError(f"{path} is readable by group or others; run: chmod 600 {path}")
    text = path.read_text(encoding="ascii").strip()
    try:
        value = bytes.fromhex(text)
    except ValueError as exc:
        raise SecretFileError(f"{path} does not hold hex") from exc
    if len(value) != SECRET_BYTES:
        raise SecretFileError(f"{path} must hold {SECRET_BYTES} bytes in hex")
    return value


def _derive(secret: bytes, label: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label.encode()).derive(secret)


@dataclass(frozen=True, slots=True)
class ServerKeys:
    """Purpose-bound keys: basic-4 matching, searchable ids, and encryption at rest."""

    matching: bytes
    lookup: bytes
    at_rest: bytes

    @classmethod
    def from_secret(cls, secret: bytes) -> ServerKeys:
        return cls(
            matching=_derive(secret, "kiosk-server/basic4-match/v1"),
            lookup=_derive(secret, "kiosk-server/lookup/v1"),
            at_rest=_derive(secret, "kiosk-server/at-rest/v1"),
        )

    def lookup_key(self, kind: str, value: str) -> str:
        """A stable keyed hash to find a record by an identifier without storing the identifier in clear."""
        return hmac.new(self.lookup, f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()

    def seal(self, plaintext: bytes, *, purpose: str) -> bytes:
        """AES-256-GCM with a random nonce; ``purpose`` is bound as associated data so blobs cannot be swapped."""
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _SEAL_VERSION + nonce + AESGCM(self.at_rest).encrypt(nonce, plaintext, purpose.encode())

    def unseal(self, blob: bytes, *, purpose: str) -> bytes:
        if blob[:1] != _SEAL_VERSION:
            raise ValueError("unknown sealed-blob version")
        nonce = blob[1 : 1 + _NONCE_BYTES]
        return AESGCM(self.at_rest).decrypt(nonce, blob[1 + _NONCE_BYTES :], purpose.encode())
