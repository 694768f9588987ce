"""Server settings: one frozen object built once and handed to ``create_app`` (nothing read at import time).

Why a dataclass and not environment magic: the same server runs under tests (temp files, a fake clock), the
benchmark and production, and each caller must see exactly what it configured. ``Settings.from_toml`` reads
the documented file shape (``server/server.example.toml``); the CLI then overrides single values.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

ClientCertMode = Literal["required", "optional"]

KIOSK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_KIOSK_ID = re.compile(KIOSK_ID_PATTERN)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def normalise_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as 64 lower-case hex digits (``AB:CD:…`` as printed by openssl is accepted)."""
    value = text.strip().replace(":", "").lower()
    if not _HEX64.match(value):
        raise ValueError("a certificate fingerprint is 32 bytes of SHA-256 in hex")
    return value


def check_kiosk_id(kiosk_id: str) -> str:
    if not _KIOSK_ID.match(kiosk_id):
        raise ValueError("a kiosk id is 1-64 characters: letters, digits, '_', '.', '-' (not first)")
    return kiosk_id


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server needs; defaults suit a single-machine demo, never secrets."""

    database_url: str = "sqlite:///kiosk-server.db"
    # 32 random bytes (hex) used to derive the basic-4 matching key, the lookup key and the at-rest key.
    # Created with mode 0600 at first start when missing; refused when group/world readable.
    secret_file: Path = Path("kiosk-server.secret")
    host: str = "127.0.0.1"
    port: int = 8443
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None
    # The CA that signs kiosk client certificates; TLS verifies against it and the app checks again.
    kiosk_ca_file: Path | None = None
    # "required": no TLS session without a kiosk certificate. "optional": /healthz is reachable without one
    # (e.g. for a load balancer) and /v1 answers 403 kiosk_certificate_required instead.
    client_cert_mode: ClientCertMode = "required"
    # Kiosks registered at start (id -> SHA-256 fingerprint of the client certificate, DER). The CLI
    # ``add-kiosk`` registers into the database the same way; the database is the registry that is checked.
    kiosks: Mapping[str, str] = field(default_factory=dict)
    clerk_token_lifetime: timedelta = timedelta(minutes=30)
    # A handover grant outlives the clerk session that asked for it: the handover may wait in the kiosk's
    # outbox through a long outage. Single use, bound to one pickup and one kiosk.
    handover_grant_lifetime: timedelta = timedelta(days=7)
    lockout_threshold: int = 5
    lockout_duration: timedelta = timedelta(minutes=15)
    heartbeat_stale_after: timedelta = timedelta(minutes=3)
    # A 7 MB photo is 9.4 MB in base64; anything far beyond that is refused before it is read.
    max_body_bytes: int = 10 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.client_cert_mode not in ("required", "optional"):
            raise ValueError("client_cert_mode must be 'required' or 'optional'")
        if self.lockout_threshold < 1:
            raise ValueError("lockout_threshold must be at least 1")
        if self.clerk_token_lifetime <= timedelta(0):
            raise ValueError("clerk_token_lifetime must be positive")
        if self.handover_grant_lifetime <= timedelta(0):
            raise ValueError("handover_grant_lifetime must be positive")
        checked = {check_kiosk_id(k): normalise_fingerprint(v) for k, v in self.kiosks.items()}
        object.__setattr__(self, "kiosks", checked)

    @property
    def tls_enabled(self) -> bool:
        return self.tls_certfile is not None

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_toml(cls, path: str | Path) -> Settings:
        """Read ``[server]``, ``[tls]``, ``[clerks]`` and ``[kiosks]`` (see server.example.toml)."""
        source = Path(path)
        data = tomllib.loads(source.read_text(encoding="utf-8"))
        return cls.from_mapping(data, base_dir=source.parent)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, base_dir: Path = Path()) -> Settings:
        allowed = {"server", "tls", "clerks", "kiosks"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown section(s) {sorted(unknown)}; expected {sorted(allowed)}")
        server = dict(data.get("server", {}))
        tls = dict(data.get("tls", {}))
        clerks = dict(data.get("clerks", {}))
        kwargs: dict[str, Any] = {}

        def path(value: str) -> Path:
            candidate = Path(value)
            return candidate if candidate.is_absolute() else base_dir / candidate

        for key in ("database_url", "host"):
            if key in server:
                kwargs[key] = str(server.pop(key))
        if "port" in server:
            kwargs["port"] = int(server.pop("port"))
        if "secret_file" in server:
            kwargs["secret_file"] = path(server.pop("secret_file"))
        if "max_body_bytes" in server:
            kwargs["max_body_bytes"] = int(server.pop("max_body_bytes"))
        if "heartbeat_stale_seconds" in server:
            kwargs["heartbeat_stale_after"] = timedelta(seconds=int(server.pop("heartbeat_stale_seconds")))
        for key, name in (("certfile", "tls_certfile"), ("keyfile", "tls_keyfile"), ("kiosk_ca", "kiosk_ca_file")):
            if key in tls:
                kwargs[name] = path(tls.pop(key))
        if "client_cert" in tls:
            kwargs["client_cert_mode"] = tls.pop("client_cert")
        if "token_lifetime_seconds" in clerks:
            kwargs["clerk_token_lifetime"] = timedelta(seconds=int(clerks.pop("token_lifetime_seconds")))
        if "handover_grant_seconds" in clerks:
            kwargs["handover_grant_lifetime"] = timedelta(seconds=int(clerks.pop("handover_grant_seconds")))
        if "lockout_threshold" in clerks:
            kwargs["lockout_threshold"] = int(clerks.pop("lockout_threshold"))
        if "lockout_seconds" in clerks:
            kwargs["lockout_duration"] = timedelta(seconds=int(clerks.pop("lockout_seconds")))
        leftovers = [f"server.{k}" for k in server] + [f"tls.{k}" for k in tls] + [f"clerks.{k}" for k in clerks]
        if leftovers:
            raise ValueError(f"unknown key(s): {', '.join(sorted(leftovers))}")
        kwargs["kiosks"] = {str(k): str(v) for k, v in dict(data.get("kiosks", {})).items()}
        return cls(**kwargs)
