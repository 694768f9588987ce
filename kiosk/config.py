"""Kiosk configuration: one TOML file, validated strictly, with errors a city's IT staff can act on.

Unknown sections or keys are errors (a typo must not silently fall back to a default), and the message
names the file, the key, what was expected and the closest valid key.

This module is also the one place that decides where files are, so that an installed kiosk works like a
checkout and never writes into its own package:

* the shipped configuration files (``DEFAULTS_DIR``): package data of ``kiosk.defaults``, found through
  ``importlib.resources``; in a checkout its files are links to the repository's ``config/`` folder and
  resolve to it;
* state (outbox, audit trail, demo PKI, demo server database): ``state_dir()``; a config names it as
  ``{state}/...``;
* the configuration ``kiosk run`` reads: ``run_config_path()`` (``/etc/mynumber-kiosk/kiosk.toml`` on a deployed
  kiosk, the shipped ``kiosk.toml`` otherwise);
* other relative paths in a config file are relative to that file's folder.

Under systemd the unit's ``StateDirectory=`` and ``ConfigurationDirectory=`` (``$STATE_DIRECTORY``,
``$CONFIGURATION_DIRECTORY``) decide, so a deployed kiosk keeps state in ``/var/lib/mynumber-kiosk`` and reads
``/etc/mynumber-kiosk``; ``$KIOSK_STATE_DIR`` and ``$KIOSK_CONFIG`` override both.
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

# The checkout's root when running from one; for an installed kiosk this is site-packages, so nothing
# may be looked up relative to it (use DEFAULTS_DIR and state_dir()).
REPO_ROOT = Path(__file__).resolve().parent.parent

DEFAULTS_PACKAGE = "kiosk.defaults"
STATE = "{state}"  # a config path starting with this is inside state_dir()
STATE_ENV = "KIOSK_STATE_DIR"
CONFIG_ENV = "KIOSK_CONFIG"
STATE_FOLDER_NAME = "mynumber-kiosk"
SYSTEM_CONFIG_DIR = Path("/etc") / STATE_FOLDER_NAME  # a deployed kiosk's configuration (scripts/install-kiosk)


def _defaults_dir() -> Path:
    """The folder of the shipped configuration files: config/ in a checkout, kiosk/defaults installed.

    The package's files are links to config/ in a checkout; resolving one names the documented folder,
    so messages and relative paths there read as before.
    """
    folder = resources.files(DEFAULTS_PACKAGE)
    if not isinstance(folder, Path):  # a zipped install: files have no path the kiosk could show or open
        raise RuntimeError(f"{DEFAULTS_PACKAGE} is not on the file system ({folder}); install the kiosk unpacked")
    return (folder / "demo.toml").resolve().parent


DEFAULTS_DIR = _defaults_dir()
DEFAULT_CONFIG = DEFAULTS_DIR / "demo.toml"
PRODUCTION_CONFIG = DEFAULTS_DIR / "kiosk.toml"


def running_from_checkout() -> bool:
    """True when this kiosk package is the repository's own source folder, not an installed copy."""
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "config" / "demo.toml").is_file()


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the kiosk's state goes (``{state}`` in a config): writable, never inside the package.

    ``$KIOSK_STATE_DIR`` when set; under systemd the unit's ``StateDirectory=`` (``$STATE_DIRECTORY``, the
    first entry when it lists several: /var/lib/mynumber-kiosk for the shipped unit); from a checkout the
    repository's git-ignored ``var/`` folder (as always); installed, ``$XDG_STATE_HOME/mynumber-kiosk``, by
    default ``~/.local/state/mynumber-kiosk``. Not created here: whoever writes first creates it (the outbox
    with mode 0700).
    """
    env = os.environ if environ is None else environ
    override = env.get(STATE_ENV, "").strip()
    if override:
        return Path(override).expanduser().absolute()
    systemd = _systemd_directory(env, "STATE_DIRECTORY")
    if systemd is not None:
        return systemd
    if running_from_checkout():
        return REPO_ROOT / "var"
    xdg = env.get("XDG_STATE_HOME", "").strip()
    if xdg and Path(xdg).is_absolute():  # the XDG spec: a relative value is invalid and ignored
        return Path(xdg) / STATE_FOLDER_NAME
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return home / ".local" / "state" / STATE_FOLDER_NAME


def _systemd_directory(env: Mapping[str, str], name: str) -> Path | None:
    """The first folder systemd put in ``$STATE_DIRECTORY`` / ``$CONFIGURATION_DIRECTORY`` (a unit may list
    several, colon-separated); None when unset or not absolute (then it is not systemd's)."""
    first = env.get(name, "").split(":")[0].strip()
    return Path(first) if first and Path(first).is_absolute() else None


def run_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The configuration ``kiosk run`` reads when ``--config`` is not given.

    ``$KIOSK_CONFIG``; else ``kiosk.toml`` in the unit's ``ConfigurationDirectory=``
    (``$CONFIGURATION_DIRECTORY``); else ``/etc/mynumber-kiosk/kiosk.toml`` when it exists (a deployed kiosk);
    else the shipped ``kiosk.toml``, whose example values make ``kiosk doctor`` say what to configure.
    """
    env = os.environ if environ is None else environ
    named = env.get(CONFIG_ENV, "").strip()
    if named:
        return Path(named).expanduser().absolute()
    systemd = _systemd_directory(env, "CONFIGURATION_DIRECTORY")
    if systemd is not None:
        return systemd / PRODUCTION_CONFIG.name
    system = SYSTEM_CONFIG_DIR / PRODUCTION_CONFIG.name
    return system if system.is_file() else PRODUCTION_CONFIG


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message says where and how to fix it."""


@dataclass(frozen=True)
class KioskSection:
    id: str = "kiosk-unnamed"
    # "unattended": residents alone (never spends a PIN's last try); "attended": a clerk at the counter.
    mode: str = "unattended"
    # "resident": the self-service tasks on the attract screen. "counter": the clerk's pickup desk (交付) —
    # clerk sign-in first, nothing a resident could start alone; a resident kiosk never offers it.
    station: str = "resident"
    languages: tuple[str, ...] = ("ja", "ja-easy", "en", "zh-Hans", "ko", "vi", "pt-BR", "es", "tl", "id")


@dataclass(frozen=True)
class CardSection:
    # Reader names (or parts of names) the kiosk may use; empty: any reader.
    readers: tuple[str, ...] = ()
    # Extended-length APDUs: "auto" probes the reader once, "yes"/"no" force it.
    extended_apdus: str = "auto"

    @property
    def extended(self) -> bool | None:
        """The card driver's setting: None probes the reader once, True/False force it."""
        return {"yes": True, "no": False}.get(self.extended_apdus)


@dataclass(frozen=True)
class StaffSection:
    # PBKDF2 hash of the staff exit PIN (``python -m kiosk.ui.staff`` prints it). Empty: in ``kiosk run``
    # there is no exit from the full-screen kiosk but stopping the service.
    exit_pin_hash: str = ""


@dataclass(frozen=True)
class ClerkSection:
    # A counter kiosk signs its clerk out after this long without a touch (and at the server token's end).
    sign_out_after_seconds: float = 300.0
    # How often the clerk's list of open "call staff" requests of the office is refreshed.
    staff_calls_refresh_seconds: float = 15.0


@dataclass(frozen=True)
class SimulatorSection:
    enabled: bool = False
    profile: str = "cards/adult.toml"
    reader_index: int = 0
    delay: str = "off"
    state_file: str = ""


@dataclass(frozen=True)
class TimeoutSection:
    idle_seconds: float = 90.0
    idle_warning_seconds: float = 20.0
    pin_entry_seconds: float = 60.0
    card_operation_seconds: float = 30.0
    http_connect_seconds: float = 5.0
    http_read_seconds: float = 15.0


@dataclass(frozen=True)
class ServerSection:
    url: str = "https://127.0.0.1:8443"
    ca_bundle: str = ""
    client_cert: str = ""
    client_key: str = ""
    # How often the kiosk reports its health (reader, outbox, version, last error code) to the central server,
    # in seconds; 0 turns heartbeats off. One is sent at start. The server calls a kiosk silent after its
    # heartbeat_stale_seconds (default 180) without one, so keep this well below that.
    heartbeat_seconds: int = 60

    @property
    def configured(self) -> bool:
        """Enough to reach the central server over mutual TLS (URL, CA bundle, client certificate)."""
        return bool(self.url and self.ca_bundle and self.client_cert and self.client_key)


@dataclass(frozen=True)
class OutboxSection:
    # Where applications wait for the network: SQLite (WAL; -wal and -shm files appear beside it).
    path: str = f"{STATE}/outbox.sqlite3"
    # "file": a 0600 key file, created on first use; "keyring": the OS keyring (needs the keyring package).
    key_source: str = "file"
    key_file: str = f"{STATE}/outbox.key"
    # Retries: exponential backoff with full jitter between these bounds.
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 300.0
    # How often the flusher looks for items queued by another process while it has nothing to do.
    poll_seconds: float = 30.0


@dataclass(frozen=True)
class AuditSection:
    # The kiosk's hash-chained audit trail of clerk actions (SQLite; -wal and -shm files appear beside it),
    # shipped to the central server when it is reachable. Check it with `kiosk audit verify`.
    path: str = f"{STATE}/audit.sqlite3"


MAX_ANCHOR_WARN_MONTHS = 120  # a CA lives ten years: a warning longer before its end would never stop

_DEFAULT_REQUIRED_CHECKS = ("auth_chain", "auth_validity", "auth_key_usage", "possession", "revocation")


@dataclass(frozen=True)
class VerificationSection:
    # Folder holding the J-LIS CA certificates (every generation cards may chain to) and card-info CV root keys.
    # "{bundled}/jlis": the J-LIS certificates shipped with the kiosk (config/trust/jlis, inside the installed
    # package), wherever this file is copied to; any other relative path is relative to this file; or an
    # operator's own folder such as /etc/mynumber-kiosk/jpki-trust. Empty: only with the simulator, which then
    # trusts its generated test PKI. kiosk/app/wiring.py trust_store_from_config resolves it.
    trust_store: str = ""
    # Checks that must pass for a card to count as verified (names: drivers/mynumber/verifier.py ALL_CHECKS).
    # A check that could not run (revocation with the server offline) is "not checked", never "passed".
    required_checks: tuple[str, ...] = _DEFAULT_REQUIRED_CHECKS
    # Renewal advice starts this many months before the certificate expires (J-LIS: 3).
    renewal_months: int = 3
    # SHA-256 fingerprints (64 hex digits, colons or spaces allowed) of every certificate (and CV root key's
    # SPKI) in trust_store. With any listed, a file not listed or a listed one missing refuses the folder
    # (fail closed: a file slipped into the folder is never trusted). Empty: not pinned; kiosk doctor warns.
    anchor_sha256: tuple[str, ...] = ()
    # kiosk doctor warns this many months before a trust anchor expires (0–120).
    anchor_warn_months: int = 6


@dataclass(frozen=True)
class StaffCallSection:
    # "Call staff" always goes to the central server; these reach someone locally too (kiosk.services.staff_call).
    hook_command: tuple[str, ...] = ()  # argv run without a shell; env KIOSK_ID, STAFF_CALL=call|cancel
    webhook_url: str = ""  # https:// only; gets a POST of {"kiosk_id", "event", "at"}
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class CameraSection:
    # "none": no camera (the application and QR scanning are not offered); "opencv": a V4L2/UVC camera through
    # OpenCV's VideoCapture; "files": image files played in turn (demo and tests; "files" below).
    kind: str = "none"
    device: str = "0"  # "0", "1"… for /dev/videoN, or a device path such as /dev/v4l/by-id/…
    width: int = 1920
    height: int = 1080
    files: tuple[str, ...] = ()  # for kind = "files": pictures (or folders of them), played in turn
    countdown_seconds: int = 3  # "3, 2, 1" before the photo is taken (0: at once)


@dataclass(frozen=True)
class PrinterSection:
    # "none": no receipt printer (the receipt is on screen only); "pdf": a PDF file per receipt in pdf_dir (demo);
    # "cups": a CUPS queue (`lp -d destination`, no shell); "escpos": a USB/serial receipt printer's device file.
    kind: str = "none"
    pdf_dir: str = f"{STATE}/receipts"
    destination: str = ""  # the CUPS queue name, for kind = "cups"
    device: str = ""  # e.g. /dev/usb/lp0, for kind = "escpos"
    paper_mm: int = 80  # 58 or 80 mm roll


@dataclass(frozen=True)
class KioskConfig:
    kiosk: KioskSection = field(default_factory=KioskSection)
    card: CardSection = field(default_factory=CardSection)
    simulator: SimulatorSection = field(default_factory=SimulatorSection)
    staff: StaffSection = field(default_factory=StaffSection)
    clerk: ClerkSection = field(default_factory=ClerkSection)
    timeouts: TimeoutSection = field(default_factory=TimeoutSection)
    server: ServerSection = field(default_factory=ServerSection)
    outbox: OutboxSection = field(default_factory=OutboxSection)
    audit: AuditSection = field(default_factory=AuditSection)
    verification: VerificationSection = field(default_factory=VerificationSection)
    staff_call: StaffCallSection = field(default_factory=StaffCallSection)
    camera: CameraSection = field(default_factory=CameraSection)
    printer: PrinterSection = field(default_factory=PrinterSection)
    source: Path | None = None

    def resolve(self, relative: str) -> Path:
        """A path from the config: ``{state}/...`` is inside state_dir(); any other relative path is
        relative to the config file's folder, so a file and the inputs it names can move together."""
        if _is_state_path(relative):
            return state_dir() / relative[len(STATE):].lstrip("/")
        base = self.source.parent if self.source else DEFAULTS_DIR
        path = Path(relative)
        return path if path.is_absolute() else (base / path)


def _is_state_path(value: str) -> bool:
    return value == STATE or value.startswith(STATE + "/")


_CHOICES = {
    ("kiosk", "mode"): ("unattended", "attended"),
    ("kiosk", "station"): ("resident", "counter"),
    ("card", "extended_apdus"): ("auto", "yes", "no"),
    ("simulator", "delay"): ("off", "real-card"),
    ("simulator", "reader_index"): (0, 1),
    ("outbox", "key_source"): ("file", "keyring"),
    ("camera", "kind"): ("none", "opencv", "files"),
    ("printer", "kind"): ("none", "pdf", "cups", "escpos"),
    ("printer", "paper_mm"): (58, 80),
}


def load_config(path: str | Path | None = None) -> KioskConfig:
    """Read and validate ``path`` (default: the embedded demo configuration)."""
    source = Path(path) if path else DEFAULT_CONFIG
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{source}: configuration file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    return parse_config(raw, source)


def parse_config(raw: dict[str, Any], source: Path | None = None) -> KioskConfig:
    where = str(source) if source else "<config>"
    sections: dict[str, Any] = {}
    hints = get_type_hints(KioskConfig)
    known = [f.name for f in fields(KioskConfig) if f.name != "source"]
    for name, value in raw.items():
        if name not in known:
            raise ConfigError(_unknown(where, name, known, "section"))
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: [{name}] must be a table (a [{name}] section)")
        sections[name] = _section(where, name, hints[name], value)
    kiosk = sections.get("kiosk")
    if kiosk is not None and kiosk.station == "counter" and kiosk.mode != "attended":
        raise ConfigError(f"{where}: kiosk.station = \"counter\" needs kiosk.mode = \"attended\" (a clerk is there)")
    outbox = sections.get("outbox")
    if outbox is not None and outbox.backoff_max_seconds < outbox.backoff_base_seconds:
        raise ConfigError(f"{where}: outbox.backoff_max_seconds ({outbox.backoff_max_seconds}) must be at least "
                          f"outbox.backoff_base_seconds ({outbox.backoff_base_seconds})")
    audit = sections.get("audit")
    if audit is not None and not audit.path.strip():
        raise ConfigError(f"{where}: audit.path must name the audit trail's file, e.g. \"{STATE}/audit.sqlite3\"")
    verification = sections.get("verification")
    if verification is not None:
        _check_verification(where, verification)
    camera = sections.get("camera")
    if camera is not None and not 0 <= camera.countdown_seconds <= 10:
        raise ConfigError(f"{where}: camera.countdown_seconds must be between 0 and 10, got "
                          f"{camera.countdown_seconds}")
    printer = sections.get("printer")
    if printer is not None:
        _check_printer(where, printer)
    return KioskConfig(**sections, source=source)


def _check_printer(where: str, section: PrinterSection) -> None:
    """A printer kind without the one setting it needs would fail on the resident's first receipt."""
    if section.kind == "cups" and not section.destination:
        raise ConfigError(f"{where}: printer.kind = \"cups\" needs printer.destination (the CUPS queue name)")
    if section.kind == "escpos" and not section.device:
        raise ConfigError(f"{where}: printer.kind = \"escpos\" needs printer.device (e.g. /dev/usb/lp0)")


def _check_verification(where: str, section: VerificationSection) -> None:
    from drivers.mynumber.verifier import ALL_CHECKS  # lazy: only configs that set the section pay for it

    for name in section.required_checks:
        if name not in ALL_CHECKS:
            close = difflib.get_close_matches(name, ALL_CHECKS, n=1)
            hint = f" — did you mean '{close[0]}'?" if close else f"; valid: {', '.join(ALL_CHECKS)}"
            raise ConfigError(f"{where}: unknown check '{name}' in verification.required_checks{hint}")
    if len(set(section.required_checks)) != len(section.required_checks):
        raise ConfigError(f"{where}: verification.required_checks lists a check twice")
    if not 0 <= section.renewal_months <= 12:
        raise ConfigError(f"{where}: verification.renewal_months must be between 0 and 12, got "
                          f"{section.renewal_months}")
    if not 0 <= section.anchor_warn_months <= MAX_ANCHOR_WARN_MONTHS:
        raise ConfigError(f"{where}: verification.anchor_warn_months must be between 0 and "
                          f"{MAX_ANCHOR_WARN_MONTHS}, got {section.anchor_warn_months} (default 6)")


def _section(where: str, name: str, cls: type, values: dict[str, Any]) -> Any:
    hints = get_type_hints(cls)
    known = [f.name for f in fields(cls)]
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(_unknown(where, f"{name}.{key}", [f"{name}.{k}" for k in known], "key"))
        out[key] = _coerce(where, f"{name}.{key}", hints[key], value)
        if isinstance(value, str) and STATE in value and not _is_state_path(value):
            raise ConfigError(f"{where}: {name}.{key} = {value!r}: {STATE} may only begin a path, "
                              f"as in \"{STATE}/outbox.sqlite3\"")
        choices = _CHOICES.get((name, key))
        if choices is not None and out[key] not in choices:
            allowed = ", ".join(repr(c) for c in choices)
            raise ConfigError(f"{where}: {name}.{key} = {value!r} is not allowed; use one of {allowed}")
    return cls(**out)


def _coerce(where: str, key: str, hint: Any, value: Any) -> Any:
    origin = get_origin(hint)
    if origin is tuple:
        (item_type, _) = get_args(hint)
        if not isinstance(value, list) or not all(isinstance(v, item_type) for v in value):
            raise ConfigError(f"{where}: {key} must be a list of {item_type.__name__} values")
        return tuple(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if hint is float and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: {key} must be a finite number, got {value}")  # TOML allows nan and inf
    if hint is float and isinstance(value, float) and value <= 0:
        raise ConfigError(f"{where}: {key} must be greater than zero, got {value}")
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: {key} must be {_kind(hint)}, got {value!r}")
    return value


def _kind(hint: type) -> str:
    return {str: "a string", int: "a whole number", float: "a number", bool: "true or false"}.get(
        hint, hint.__name__
    )


def _unknown(where: str, name: str, known: list[str], what: str) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" — did you mean '{close[0]}'?" if close else f"; valid: {', '.join(known)}"
    return f"{where}: unknown {what} '{name}'{hint}"
