"""The staff maintenance menu the staff exit leads to: checks, outbox, reader test, restart — no desktop.

Each check runs on a short-lived thread (a reader probe takes a second or two) and its lines come back on
the UI thread; a second tap while one runs is ignored. "Restart" ends the app with ``EXIT_RESTART``: the
kiosk unit (``Restart=always``) starts a fresh kiosk; "Back to kiosk" closes the menu.
"""

from __future__ import annotations

import threading
from typing import Any

from kivy.clock import Clock
from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty

from kiosk.core.maintenance import Maintenance, MaintenanceLine
from kiosk.ui.keys import STAFF_TEXTS
from kiosk.ui.kv import discard_children, load_sibling_kv
from kiosk.ui.widgets.overlay import Overlay

_TONES = {"ok": "ok", "warn": "warn", "fail": "bad", "info": "muted"}


def line_text(line: MaintenanceLine) -> str:
    """One line as staff read it: status, check, detail, and the fix on its own line."""
    text = f"{STAFF_TEXTS['maint.status.' + line.status]}  {line.check}: {line.detail}"
    return text + (f"\n{STAFF_TEXTS['maint.fix']}{line.fix}" if line.fix else "")


def line_tone(line: MaintenanceLine) -> str:
    return _TONES.get(line.status, "text")


class MaintenanceMenu(Overlay):
    maintenance: Any = ObjectProperty(None, allownone=True)  # kiosk.core.maintenance.Maintenance
    demo = BooleanProperty(False)
    running = BooleanProperty(False)
    section = StringProperty("")
    lines = ListProperty([])  # MaintenanceLine of the last section run

    def __init__(self, **kwargs: Any) -> None:
        self.register_event_type("on_restart")
        super().__init__(**kwargs)

    def run(self, section: str) -> None:
        maintenance: Maintenance | None = self.maintenance
        if maintenance is None or self.running:
            return
        self.running, self.section, self.lines = True, section, []

        def work() -> None:
            lines = maintenance.run(section)
            Clock.schedule_once(lambda _dt: self._done(section, lines), 0)

        threading.Thread(target=work, name=f"maintenance-{section}", daemon=True).start()

    def _done(self, section: str, lines: list[MaintenanceLine]) -> None:
        self.running = False
        if section == self.section:
            self.lines = lines

    def on_lines(self, _instance: object, lines: list[MaintenanceLine]) -> None:
        from kiosk.ui.widgets.base import KioskLabel

        box = self.ids.results
        discard_children(box)
        for line in lines:
            box.add_widget(KioskLabel(text=line_text(line), tone=line_tone(line), role="small"))

    def restart(self) -> None:
        self.dispatch("on_restart")

    def close(self) -> None:
        if self.parent is not None:
            self.parent.remove_widget(self)

    def on_restart(self) -> None:
        """Default handler (Kivy needs one); the app binds the real one."""


load_sibling_kv(__file__)
