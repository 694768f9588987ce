"""Server settings: one frozen object built once and handed to ``create_app`` (nothing read at import time).

Why a dataclass and not environment magic: the same server runs under tests (temp files, a fake clock), the
benchmark and production, and each caller must see exactly what it configured. ``Settings.from_toml`` reads
the documented file shape (``server/server.example.toml``); the CLI then overrides single values.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

ClientCertMode = Literal["required", "optional"]
PhotoStoreKind = Literal["filesystem", "database"]
PhotoChecksIn = Literal["background", "request"]
PHOTO_STORES: tuple[PhotoStoreKind, ...] = ("filesystem", "database")
PHOTO_CHECKS_IN: tuple[PhotoChecksIn, ...] = ("background", "request")
LogFormat = Literal["auto", "text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("auto", "text", "json")

KIOSK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_KIOSK_ID = re.compile(KIOSK_ID_PATTERN)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def normalise_fingerprint(text: str) -> str:
    """A SHA-256 fingerprint as 64 lower-case hex digits (``AB:CD:…`` as printed by openssl is accepted)."""
    value = text.strip().replace(":", "").lower()
    if not _HEX64.fullmatch(value):
        raise ValueError("a certificate fingerprint is 32 bytes of SHA-256 in hex")
    return value


def _network(text: str) -> str:
    """One ``[metrics] allow`` entry as a network (an address alone is a /32 or /128)."""
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        raise ValueError(f"metrics.allow: {text!r} is not an IP address or network (e.g. 10.0.0.0/8)") from None


def check_kiosk_id(kiosk_id: str) -> str:
    if not _KIOSK_ID.fullmatch(kiosk_id):  # fullmatch: "$" alone would let "kiosk-01\n" through
        raise ValueError("a kiosk id is 1-64 characters: letters, digits, '_', '.', '-' (not first)")
    return kiosk_id


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server needs; defaults suit a single-machine demo, never secrets."""

    database_url: str = "sqlite:///kiosk-server.db"
    # Migrate the database to head at start (behind a PostgreSQL advisory lock, see server/db.py). False for
    # deployments that run ``kiosk server migrate`` as its own step first: the server then only checks the
    # revision and refuses to start on a database that is not at head.
    migrate_on_start: bool = True
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
    # Failed sign-ins at one kiosk across all user names, per window: a kiosk left alone cannot be used to
    # try one password on many accounts (each account's own lockout would never trigger).
    kiosk_sign_in_failures: int = 10
    kiosk_sign_in_window: timedelta = timedelta(minutes=15)
    heartbeat_stale_after: timedelta = timedelta(minutes=3)
    # A kiosk that still sends heartbeats is unhealthy (server/fleet.py) when its outbox's oldest item has
    # waited longer than ``kiosk_outbox_age_limit``, or when it reported an error within ``kiosk_error_window``.
    # Both defaults are UNCONFIRMED (no city's numbers yet): an outbox that has not drained for half an hour
    # means delivery is stuck; an error a quarter of an hour old is still worth a look.
    kiosk_outbox_age_limit: timedelta = timedelta(minutes=30)
    kiosk_error_window: timedelta = timedelta(minutes=15)
    # A 7 MB photo is 9.4 MB in base64; anything far beyond that is refused before it is read.
    max_body_bytes: int = 10 * 1024 * 1024
    # Application-status lookups that find nothing, per kiosk (server/ratelimit.py): a burst, then one more
    # every refill interval. Lookups that find an application cost nothing.
    status_lookup_burst: int = 5
    status_lookup_refill: timedelta = timedelta(seconds=12)
    # Renewals with an existing card (server/routes/renewals.py). The JPKI *authentication* CA certificates
    # a card's auth certificate must chain to: files (PEM, several certificates allowed, or DER) and/or
    # folders (every *.pem/.crt/.cer/.der in them). Empty: renewals are refused (503 renewals_not_configured).
    jpki_auth_ca_files: tuple[Path, ...] = ()
    # A renewal nonce stays usable this long: an application may wait in a kiosk's outbox overnight.
    renewal_nonce_lifetime: timedelta = timedelta(hours=24)
    # A certificate may be renewed from this many calendar months before it expires (JPKI: 3).
    renewal_window_months: int = 3
    # Nonces issued per kiosk: a burst, then one more every refill interval (one renewal needs one nonce).
    renewal_nonce_burst: int = 20
    renewal_nonce_refill: timedelta = timedelta(seconds=30)
    # The face rules of contract/photo.py (one face, centred, size, eyes, background, light, sharpness) on
    # top of the official upload rules (JPEG, RGB, 20 KB–7 MB, 480–6000 px), for applications and renewals:
    # the kiosk checked the same rules before sending. Their thresholds are UNCONFIRMED (no public numbers);
    # a city that wants only the upload rules sets [photos] face_checks = false.
    photo_face_checks: bool = True
    # Where the pixel checks run (server/photo_checks.py). "background": the request checks only what the
    # JPEG's headers say (format, size, dimensions, colour mode, not truncated) and answers 201 with
    # ``photo_check: "pending"``; a job in every server process decodes the photo and applies the face rules
    # afterwards, and marks a failing application ``retake_needed`` (status lookups show it). "request": all
    # of it inside the request, a failing photo is a 422 (the behaviour before issue 11; ~25-40 ms each).
    photo_checks_in: PhotoChecksIn = "background"
    # Where application photos (sealed) live (server/photo_store.py): "filesystem", one 0600 file per photo
    # named by a random id in ``photo_directory`` (0700; default: "photos" next to the secret file, i.e. in
    # the server's state folder), its SHA-256 in the row; or "database", the sealed bytes in the row.
    photo_store: PhotoStoreKind = "filesystem"
    photo_directory: Path | None = None
    # How long an idle kiosk connection stays open (uvicorn's keep-alive). Longer than a kiosk's usual gap
    # between calls (outbox poll 30 s, heartbeats), so a kiosk rarely pays a new TLS handshake; each idle
    # connection costs the server a socket and some buffers (~100 KB).
    keep_alive_seconds: int = 120
    # How log lines look (server/logs.py): "text" for a person at a terminal, "json" (one object per line:
    # time, level, logger, message, request id, route template, status, duration) for the journal or a log
    # shipper, "auto": json when standard error is the systemd journal (JOURNAL_STREAM), text otherwise.
    log_format: LogFormat = "auto"
    # GET /metrics (server/metrics.py), Prometheus text. Who may scrape: a peer address inside one of
    # ``metrics_allow`` (default: this machine only) and, when ``metrics_token_file`` is set, with
    # ``Authorization: Bearer <the file's content>``. Metrics hold counts only, never personal data.
    metrics_enabled: bool = True
    metrics_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    metrics_token_file: Path | None = None

    def __post_init__(self) -> None:
        if self.client_cert_mode not in ("required", "optional"):
            raise ValueError("client_cert_mode must be 'required' or 'optional'")
        if self.lockout_threshold < 1:
            raise ValueError("lockout_threshold must be at least 1")
        if self.kiosk_sign_in_failures < 1:
            raise ValueError("kiosk_sign_in_failures must be at least 1")
        if self.kiosk_sign_in_window <= timedelta(0) or self.lockout_duration <= timedelta(0):
            raise ValueError("kiosk_sign_in_window and lockout_duration must be positive")
        if self.clerk_token_lifetime <= timedelta(0):
            raise ValueError("clerk_token_lifetime must be positive")
        if self.handover_grant_lifetime <= timedelta(0):
            raise ValueError("handover_grant_lifetime must be positive")
        if self.status_lookup_burst < 1:
            raise ValueError("status_lookup_burst must be at least 1")
        if self.status_lookup_refill <= timedelta(0):
            raise ValueError("status_lookup_refill must be positive")
        if self.heartbeat_stale_after <= timedelta(0):
            raise ValueError("server.heartbeat_stale_seconds must be positive")
        if self.kiosk_outbox_age_limit <= timedelta(0) or self.kiosk_error_window <= timedelta(0):
            raise ValueError("server.kiosk_outbox_age_limit_seconds and kiosk_error_window_seconds must be positive")
        if self.renewal_nonce_lifetime <= timedelta(0):
            raise ValueError("renewal_nonce_lifetime must be positive")
        if not 0 <= self.renewal_window_months <= 24:
            raise ValueError("renewal_window_months must be 0-24")
        if self.renewal_nonce_burst < 1:
            raise ValueError("renewal_nonce_burst must be at least 1")
        if self.renewal_nonce_refill <= timedelta(0):
            raise ValueError("renewal_nonce_refill must be positive")
        if self.photo_store not in PHOTO_STORES:
            raise ValueError(f"photos.store must be one of {', '.join(PHOTO_STORES)}")
        if self.photo_checks_in not in PHOTO_CHECKS_IN:
            raise ValueError(f"photos.checks must be one of {', '.join(PHOTO_CHECKS_IN)}")
        if not 1 <= self.keep_alive_seconds <= 3600:
            raise ValueError("server.keep_alive_seconds must be 1-3600")
        if self.log_format not in LOG_FORMATS:
            raise ValueError(f"server.log_format must be one of {', '.join(LOG_FORMATS)}")
        object.__setattr__(self, "metrics_allow", tuple(_network(n) for n in self.metrics_allow))
        object.__setattr__(self, "jpki_auth_ca_files", tuple(Path(p) for p in self.jpki_auth_ca_files))
        checked = {check_kiosk_id(k): normalise_fingerprint(v) for k, v in self.kiosks.items()}
        object.__setattr__(self, "kiosks", checked)

    @property
    def photo_folder(self) -> Path:
        """The folder of the filesystem photo store: as configured, else ``photos`` beside the secret file."""
        return self.photo_directory if self.photo_directory is not None else self.secret_file.parent / "photos"

    @property
    def tls_enabled(self) -> bool:
        return self.tls_certfile is not None

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_toml(cls, path: str | Path) -> Settings:
        """Read ``[server]``, ``[tls]``, ``[clerks]``, ``[status_lookup]``, ``[renewals]``, ``[photos]`` and
        ``[kiosks]`` (server.example.toml)."""
        source = Path(path)
        data = tomllib.loads(source.read_text(encoding="utf-8"))
        return cls.from_mapping(data, base_dir=source.parent)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, base_dir: Path = Path()) -> Settings:
        allowed = {"server", "tls", "clerks", "status_lookup", "renewals", "photos", "metrics", "kiosks"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown section(s) {sorted(unknown)}; expected {sorted(allowed)}")
        server = dict(data.get("server", {}))
        tls = dict(data.get("tls", {}))
        clerks = dict(data.get("clerks", {}))
        lookups = dict(data.get("status_lookup", {}))
        renewals = dict(data.get("renewals", {}))
        photos = dict(data.get("photos", {}))
        metrics = dict(data.get("metrics", {}))
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
        if "migrate_on_start" in server:
            value = server.pop("migrate_on_start")
            if not isinstance(value, bool):
                raise ValueError("server.migrate_on_start must be true or false")
            kwargs["migrate_on_start"] = value
        if "max_body_bytes" in server:
            kwargs["max_body_bytes"] = int(server.pop("max_body_bytes"))
        if "keep_alive_seconds" in server:
            kwargs["keep_alive_seconds"] = int(server.pop("keep_alive_seconds"))
        if "log_format" in server:
            kwargs["log_format"] = str(server.pop("log_format"))
        if "enabled" in metrics:
            value = metrics.pop("enabled")
            if not isinstance(value, bool):
                raise ValueError("metrics.enabled must be true or false")
            kwargs["metrics_enabled"] = value
        if "allow" in metrics:
            value = metrics.pop("allow")
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError('metrics.allow must be a list of networks, e.g. ["127.0.0.1/32", "10.0.0.0/8"]')
            kwargs["metrics_allow"] = tuple(value)
        if "token_file" in metrics:
            kwargs["metrics_token_file"] = path(str(metrics.pop("token_file")))
        if "heartbeat_stale_seconds" in server:
            kwargs["heartbeat_stale_after"] = timedelta(seconds=int(server.pop("heartbeat_stale_seconds")))
        for key, name in (("kiosk_outbox_age_limit_seconds", "kiosk_outbox_age_limit"),
                          ("kiosk_error_window_seconds", "kiosk_error_window")):
            if key in server:
                kwargs[name] = timedelta(seconds=int(server.pop(key)))
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
        if "kiosk_failure_limit" in clerks:
            kwargs["kiosk_sign_in_failures"] = int(clerks.pop("kiosk_failure_limit"))
        if "kiosk_failure_window_seconds" in clerks:
            kwargs["kiosk_sign_in_window"] = timedelta(seconds=int(clerks.pop("kiosk_failure_window_seconds")))
        if "burst" in lookups:
            kwargs["status_lookup_burst"] = int(lookups.pop("burst"))
        if "refill_seconds" in lookups:
            kwargs["status_lookup_refill"] = timedelta(seconds=float(lookups.pop("refill_seconds")))
        if "auth_ca" in renewals:
            value = renewals.pop("auth_ca")
            kwargs["jpki_auth_ca_files"] = tuple(path(str(v)) for v in ([value] if isinstance(value, str) else value))
        if "nonce_lifetime_seconds" in renewals:
            kwargs["renewal_nonce_lifetime"] = timedelta(seconds=int(renewals.pop("nonce_lifetime_seconds")))
        if "window_months" in renewals:
            kwargs["renewal_window_months"] = int(renewals.pop("window_months"))
        if "nonce_burst" in renewals:
            kwargs["renewal_nonce_burst"] = int(renewals.pop("nonce_burst"))
        if "nonce_refill_seconds" in renewals:
            kwargs["renewal_nonce_refill"] = timedelta(seconds=float(renewals.pop("nonce_refill_seconds")))
        if "face_checks" in photos:
            value = photos.pop("face_checks")
            if not isinstance(value, bool):
                raise ValueError("photos.face_checks must be true or false")
            kwargs["photo_face_checks"] = value
        for key, name in (("store", "photo_store"), ("checks", "photo_checks_in")):
            if key in photos:
                kwargs[name] = str(photos.pop(key))
        if "directory" in photos:
            kwargs["photo_directory"] = path(str(photos.pop("directory")))
        leftovers = [f"server.{k}" for k in server] + [f"tls.{k}" for k in tls] + [f"clerks.{k}" for k in clerks]
        leftovers += [f"status_lookup.{k}" for k in lookups] + [f"renewals.{k}" for k in renewals]
        leftovers += [f"photos.{k}" for k in photos] + [f"metrics.{k}" for k in metrics]
        if leftovers:
            raise ValueError(f"unknown key(s): {', '.join(sorted(leftovers))}")
        kwargs["kiosks"] = {str(k): str(v) for k, v in dict(data.get("kiosks", {})).items()}
        return cls(**kwargs)
