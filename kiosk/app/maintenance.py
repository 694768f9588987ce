"""The maintenance menu's checks, made by the same code as ``kiosk doctor`` (kiosk.app.doctor).

Staff reach it through the staff exit PIN; it shows what a city's IT staff would otherwise need a terminal
for. Nothing here touches a card or the camera while the kiosk runs: a probe's own connection would reset
the card under a resident's session (PC/SC shares the reader, and closing resets the card), and the kiosk
holds the camera. So the reader test lists each reader, its card (from the reader's state and ATR),
contact or contactless, and what the kiosk's own card reads found out about extended APDUs; the full probe
is ``kiosk doctor`` with the kiosk stopped.
"""

from __future__ import annotations

from drivers.mynumber.session import CardSession
from kiosk.app import doctor
from kiosk.app.private_files import file_mode_problems
from kiosk.config import KioskConfig
from kiosk.core.maintenance import SECTIONS, MaintenanceLine

_STATUS = {doctor.OK: "ok", doctor.WARN: "warn", doctor.FAIL: "fail"}


class DoctorMaintenance:
    """``Maintenance`` for a running kiosk with ``config`` (read from ``config.source``)."""

    def __init__(self, config: KioskConfig) -> None:
        self._config = config

    def run(self, section: str) -> list[MaintenanceLine]:
        if section not in SECTIONS:
            raise ValueError(f"unknown maintenance section {section!r}; one of {', '.join(SECTIONS)}")
        try:
            findings = self._findings(section)
        except Exception as exc:
            return [MaintenanceLine(section, "fail", f"the check itself failed: {type(exc).__name__}: {exc}")]
        return [MaintenanceLine(f.check, _STATUS.get(f.status, "info"), f.detail, f.fix) for f in findings]

    def _findings(self, section: str) -> list[doctor.Finding]:
        config = self._config
        if section == "outbox":
            found = doctor.check_outbox(config)
            return [found] if found is not None else []
        if section == "readers":
            pcscd = doctor.check_pcscd()
            if pcscd.status != doctor.OK:
                return [pcscd]
            return [pcscd, *doctor.check_readers(probe=False, learnt=CardSession.known_extended_support)]
        source = str(config.source) if config.source else None
        return [*doctor.run_checks(source, probe=False), *file_mode_findings(config)]


def file_mode_findings(config: KioskConfig) -> list[doctor.Finding]:
    """One finding for the secret files: ok, or a failure per file that others can read."""
    problems = file_mode_problems(config)
    if not problems:
        return [doctor.Finding("file modes", doctor.OK, "keys and databases are private to this user (0600)")]
    return [doctor.Finding("file modes", doctor.FAIL, f"{p.path}: {p.problem}", p.fix) for p in problems]


__all__ = ["DoctorMaintenance", "file_mode_findings"]
