"""What the staff maintenance menu can ask of the kiosk, as plain data (no Kivy, no services here).

After the staff exit PIN the kiosk shows a maintenance menu, never a desktop: the checks ``kiosk doctor``
makes, the outbox's state, a reader test, and a restart. The composition root (kiosk.app.maintenance)
implements this port with the doctor; the UI (kiosk.ui.widgets.maintenance) draws the lines. A line says
what was found, never a resident's data (the outbox reports counts and ages only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

SECTIONS = ("checks", "outbox", "readers")  # the menu's buttons, in order
STATUSES = ("ok", "warn", "fail", "info")


@dataclass(frozen=True)
class MaintenanceLine:
    check: str  # "pcscd", "outbox", "reader ACS ACR39U 00 00", …
    status: str  # one of STATUSES
    detail: str
    fix: str = ""


class Maintenance(Protocol):
    """Runs off the UI thread (a check may probe a reader or a camera for a second or two)."""

    def run(self, section: str) -> list[MaintenanceLine]:
        """The lines of ``section`` (one of ``SECTIONS``); a check that fails is a "fail" line, not a raise."""
        ...


__all__ = ["SECTIONS", "STATUSES", "Maintenance", "MaintenanceLine"]
