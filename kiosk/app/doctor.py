"""Health checks for a kiosk machine: each finding says what is wrong and how to fix it.

Used by ``kiosk doctor`` (operators, the README's first command) and by tests. Checks never raise: a
failure becomes a finding.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from drivers.channel import ApduChannel
from drivers.errors import CardError
from drivers.mynumber.probe import describe_atr, is_my_number_card, probe_applications
from kiosk.config import PRODUCTION_CONFIG, ConfigError, KioskConfig, load_config

OK, WARN, FAIL = "ok", "warn", "fail"

CJK_FONT_CANDIDATES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJKjp-Regular.otf"),
)


@dataclass
class Finding:
    check: str
    status: str
    detail: str
    fix: str = ""
    data: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def check_config(path: str | None) -> tuple[Finding, KioskConfig | None]:
    try:
        config = load_config(path)
    except ConfigError as exc:
        fix = f"correct the file; {PRODUCTION_CONFIG} documents every key"
        return Finding("configuration", FAIL, str(exc), fix), None
    detail = f"{config.source} (kiosk id {config.kiosk.id}, {config.kiosk.mode})"
    return Finding("configuration", OK, detail), config


def check_fonts() -> Finding:
    for candidate in CJK_FONT_CANDIDATES:
        if candidate.exists():
            return Finding("fonts", OK, f"Japanese/Chinese/Korean font: {candidate}")
    return Finding("fonts", FAIL, "no font covering Japanese, Chinese and Korean was found",
                   "apt-get install fonts-noto-cjk")


def check_pcscd() -> Finding:
    from kiosk.services import pcscd

    if shutil.which("pcscd") is None and not Path("/usr/sbin/pcscd").exists():
        return Finding("pcscd", FAIL, "pcscd (the PC/SC service) is not installed", "apt-get install pcscd")
    if not pcscd.is_running():
        return Finding("pcscd", FAIL, "pcscd is installed but not running",
                       "start it: `systemctl start pcscd` (or `pcscd` as root on a machine without systemd)")
    return Finding("pcscd", OK, "pcscd is running")


def check_vpcd(config: KioskConfig | None) -> Finding | None:
    from kiosk.services import pcscd

    if config is None or not config.simulator.enabled:
        return None
    if not pcscd.vpcd_configured():
        return Finding("vpcd", FAIL, "the virtual reader driver for the simulated card is missing",
                       "apt-get install vsmartcard-vpcd, then restart pcscd")
    port = pcscd.vpcd_port(config.simulator.reader_index)
    return Finding("vpcd", OK, f"virtual reader {config.simulator.reader_index} listens on 127.0.0.1:{port}")


def check_readers(probe: bool = True, learnt: Callable[[str], bool | None] | None = None) -> list[Finding]:
    """Each reader and its card. ``probe`` reads the card (applications by SELECT, the extended-APDU probe);
    without it, ``learnt`` may say what the running kiosk's own card reads found out about a reader."""
    from drivers import pcsc

    try:
        states = pcsc.reader_states()
    except CardError as exc:
        return [Finding("readers", FAIL, str(exc), "check that pcscd runs and the reader is plugged in")]
    if not states:
        return [Finding("readers", FAIL, "no card reader found",
                        "plug in a PC/SC reader (e.g. a contact or NFC reader) and check `pcsc_scan`")]
    findings = [Finding("readers", OK, f"{len(states)} reader(s): " + "; ".join(s.name for s in states))]
    for state in states:
        findings.extend(_reader_findings(state, probe, learnt))
    return findings


def _reader_findings(state, probe: bool, learnt: Callable[[str], bool | None] | None = None) -> list[Finding]:
    """The card in a reader (its applications, by SELECT) and what the reader can do: contact or contactless,
    and whether it passes extended APDUs (probed by the card driver's own read, on a My Number card only)."""
    from drivers import pcsc
    from drivers.pcsc.capability import probe_extended_apdus, reader_interface

    name = state.name
    interface = reader_interface(name, state.atr)
    if not state.card_present:
        return [Finding(f"card in {name}", OK, "no card inserted", data={"reader": name, "card": False}),
                _capability(name, interface, None, "unknown — insert a card" if learnt is None or learnt(name) is None
                            else _unprobed(name, learnt))]
    atr = state.atr or b""
    data: dict = {"reader": name, "card": True, "atr": atr.hex(" ").upper(), "atr_label": describe_atr(atr)}
    if not probe:
        return [Finding(f"card in {name}", OK, f"card present, ATR {data['atr']}", data=data),
                _capability(name, interface, None, _unprobed(name, learnt))]
    try:
        with pcsc.connect(name) as transport:
            found = probe_applications(ApduChannel(transport))
            extended = probe_extended_apdus(transport) if is_my_number_card(found) else None
    except CardError as exc:
        return [Finding(f"card in {name}", WARN, f"card present but could not be read: {exc}",
                        "take the card out and insert it again", data=data),
                _capability(name, interface, None, "unknown — the card could not be read")]
    data["applications"] = [app.key for app in found]
    data["my_number_card"] = is_my_number_card(found)
    if data["my_number_card"]:
        apps = ", ".join(app.label for app in found)
        card = Finding(f"card in {name}", OK, f"My Number card: {apps}", data=data)
    else:
        card = Finding(f"card in {name}", WARN, "the card is not a My Number card (no JPKI and card-info AP)",
                       "insert a My Number card", data=data)
    return [card, _capability(name, interface, extended, "unknown — insert a My Number card")]


def _unprobed(name: str, learnt: Callable[[str], bool | None] | None) -> str:
    if learnt is None:
        return "not probed (--no-probe)"
    known = learnt(name)
    if known is None:
        return "not known yet (no card read by this kiosk since it started)"
    return "yes (seen in this kiosk's card reads)" if known else "no (seen in this kiosk's card reads)"


def _capability(name: str, interface, extended, unknown: str) -> Finding:
    """``reader NAME``: contact/contactless (always a heuristic) and the extended-APDU probe's outcome."""
    from drivers.pcsc.capability import CUT, FAILED, NOT_PROBED, REFUSED

    status, detail, apdus = (NOT_PROBED, unknown, 0) if extended is None else (
        extended.status, extended.detail, extended.apdus)
    data = {"reader": name, "interface": interface.kind, "interface_basis": interface.basis,
            "extended_apdus": status, "extended_detail": detail, "probe_apdus": apdus}
    text = f"{interface.kind} ({interface.basis}); extended APDUs: {detail}"
    if status == FAILED:
        return Finding(f"reader {name}", FAIL, text, "use another reader (docs/hardware.md lists known-good "
                       "families) and report this one", data=data)
    if status in (REFUSED, CUT):
        return Finding(f"reader {name}", WARN, text, "cards work, with more APDUs per certificate; a reader that "
                       "passes extended APDUs reads them faster (docs/hardware.md)", data=data)
    return Finding(f"reader {name}", OK, text, data=data)


STALE_OUTBOX_SECONDS = 3600.0  # an application waiting longer than this means the server is not reached


def check_outbox(config: KioskConfig | None) -> Finding | None:
    """Applications and handovers waiting for the central server: depth, oldest age, refused items."""
    from kiosk.services.outbox import OutboxError, peek_status

    if config is None:
        return None
    path = config.resolve(config.outbox.path)
    try:
        status = peek_status(path)
    except OutboxError as exc:
        return Finding("outbox", FAIL, str(exc), "restore the outbox from its backup, or move it aside")
    central = config.server.configured
    if status is None:
        detail = f"{path}: empty (created when the first application is queued)"
        if not central:
            return Finding("outbox", WARN, detail + "; no central server configured, nothing would be sent",
                           "set [server] url, ca_bundle, client_cert and client_key")
        return Finding("outbox", OK, detail, data={"depth": 0, "oldest_age_seconds": None, "dead": 0})
    data = {"depth": status.depth, "oldest_age_seconds": status.oldest_age_seconds, "dead": len(status.dead),
            "last_error": status.last_error}
    age = status.oldest_age_seconds
    detail = f"{path}: {status.depth} waiting" + (f", oldest {age / 60:.0f} min" if age is not None else "")
    detail += f", {len(status.dead)} refused by the server"
    if status.dead:
        return Finding("outbox", WARN, detail, "staff: `kiosk outbox status` lists the refused items", data=data)
    if age is not None and age > STALE_OUTBOX_SECONDS:
        why = f" (last error: {status.last_error})" if status.last_error else ""
        return Finding("outbox", WARN, detail + why, "check the network and the central server; "
                       "`kiosk outbox flush` retries at once", data=data)
    if not central and status.depth:
        return Finding("outbox", WARN, detail + "; no central server configured",
                       "set [server] url, ca_bundle, client_cert and client_key", data=data)
    return Finding("outbox", OK, detail, data=data)


def check_audit(config: KioskConfig | None) -> Finding | None:
    """The clerk actions' hash chain: intact, and how much of it the central server has (read-only)."""
    from kiosk.services.audit_log import AuditError, read_trail, verify_rows

    if config is None or not config.server.configured:
        return None
    path = config.resolve(config.audit.path)
    if not path.exists():
        return Finding("audit", OK, f"{path}: empty (created with the first clerk action)",
                       data={"entries": 0, "unshipped": 0})
    try:
        rows, shipped_seq, shipped_hash, _kiosk = read_trail(path)
    except AuditError as exc:
        return Finding("audit", FAIL, str(exc), "keep the file for the auditor and call IT support")
    summary = verify_rows(rows, shipped_seq, shipped_hash)
    unshipped = max(0, (summary.last_seq or 0) - shipped_seq)
    data = {"entries": summary.count, "unshipped": unshipped, "intact": summary.valid}
    if summary.problem is not None:
        return Finding("audit", FAIL, f"{path}: {summary.problem.message}",
                       "do not delete it: `kiosk audit export` for the auditor, then call IT support", data=data)
    return Finding("audit", OK, f"{path}: {summary.count} entries, intact, {unshipped} not yet on the central "
                   "server", data=data)


def check_camera(config: KioskConfig | None, probe: bool = True) -> Finding | None:
    """The camera the application needs (none configured: the kiosk offers no application, by design)."""
    if config is None:
        return None
    camera = config.camera
    if camera.kind == "none":
        return Finding("camera", WARN, "no camera configured: residents cannot apply for a card at this kiosk",
                       "set [camera] kind = \"opencv\" and device in kiosk.toml")
    if camera.kind == "files":
        missing = [path for path in camera.files if not config.resolve(path).exists()]
        if missing:
            return Finding("camera", FAIL, f"demo camera picture(s) missing: {', '.join(missing)}",
                           "fix [camera] files in the configuration")
        played = f"{len(camera.files)} picture file(s)" if camera.files else "the synthetic demo residents"
        return Finding("camera", OK, f"demo camera playing {played}")
    if not probe:
        return Finding("camera", OK, f"camera {camera.device!r} configured (not opened: --no-probe)")
    from kiosk.services.camera import probe_camera

    answer = probe_camera(camera.device, width=camera.width, height=camera.height)
    return Finding("camera", OK if answer.ok else FAIL, answer.message,
                   None if answer.ok else "check the camera cable, and camera.device in kiosk.toml (ls /dev/video*)",
                   data={"width": answer.width, "height": answer.height, "fps": answer.fps})


def check_printer(config: KioskConfig | None) -> Finding | None:
    """Where receipts go. A missing printer only costs the paper slip: the receipt is on screen anyway."""
    if config is None:
        return None
    printer = config.printer
    if printer.kind == "none":
        return Finding("printer", OK, "no receipt printer: receipts are shown on screen only")
    if printer.kind == "pdf":
        return Finding("printer", OK, f"receipts are written as PDF files to {config.resolve(printer.pdf_dir)}")
    if printer.kind == "cups":
        if shutil.which("lp") is None:
            return Finding("printer", FAIL, "printer.kind = \"cups\" but the lp command is missing",
                           "apt-get install cups-client")
        return Finding("printer", OK, f"receipts go to the CUPS queue {printer.destination!r}")
    device = Path(printer.device)
    if not device.exists():
        return Finding("printer", FAIL, f"the receipt printer {device} is not there",
                       "plug the printer in (USB) or fix printer.device")
    if not os.access(device, os.W_OK):
        return Finding("printer", FAIL, f"the receipt printer {device} is not writable by this user",
                       "add the kiosk user to the 'lp' group")
    return Finding("printer", OK, f"receipt printer {device} (ESC/POS, {printer.paper_mm} mm)")


def run_checks(config_path: str | None = None, probe: bool = True,
               extra: list[Callable[[], Finding]] | None = None) -> list[Finding]:
    config_finding, config = check_config(config_path)
    findings = [config_finding, check_fonts(), check_pcscd()]
    for optional in (check_vpcd(config), check_outbox(config), check_audit(config), check_camera(config, probe),
                     check_printer(config)):
        if optional is not None:
            findings.append(optional)
    from kiosk.app.doctor_anchors import check_anchors  # it builds on this module's Finding

    findings.extend(check_anchors(config))
    if findings[2].status == OK:  # pcscd
        findings.extend(check_readers(probe))
    for check in extra or []:
        findings.append(check())
    return findings
