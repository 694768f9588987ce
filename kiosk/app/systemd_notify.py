"""Telling systemd how the kiosk is doing: ready, alive (the watchdog), stopping — the sd_notify protocol.

The kiosk unit (deploy/systemd/mynumber-kiosk.service) is ``Type=notify`` with ``WatchdogSec=``: systemd
restarts the kiosk when it stops hearing ``WATCHDOG=1``. The pings are sent from the UI thread's clock, so
a UI thread that hangs (a frozen screen a resident cannot use) stops them even while the card and network
threads still run. The protocol is one datagram of ``KEY=value`` lines to the ``$NOTIFY_SOCKET`` socket
(sd_notify(3) documents it as stable and meant to be reimplemented; no libsystemd needed). Outside systemd
(no ``$NOTIFY_SOCKET``) every call does nothing.

``cage`` (the kiosk compositor) is the unit's main process and the kiosk its child, so systemd's
``$WATCHDOG_PID`` names cage: a watchdog meant for our parent is ours too (the unit has ``NotifyAccess=all``).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any

LOG = logging.getLogger(__name__)


class SystemdNotifier:
    """Datagrams to ``$NOTIFY_SOCKET``; a failed send is logged once and never raised (the kiosk goes on)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        # "@name" is Linux's abstract namespace: a leading NUL byte on the wire
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.watchdog_seconds = _watchdog_seconds(env)
        self._socket: socket.socket | None = None
        self._failed = False

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def notify(self, **fields: str) -> bool:
        """Send ``KEY=value`` lines (``READY="1"`` → ``READY=1``); True when the datagram went out."""
        if not self.enabled:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode("utf-8")
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.sendto(message, self.address)
        except OSError as exc:
            if not self._failed:
                LOG.warning("could not notify systemd at %s: %s", self.address.replace("\0", "@"), exc)
                self._failed = True
            return False
        self._failed = False
        return True

    def ready(self, status: str = "ready") -> bool:
        return self.notify(READY="1", STATUS=status)

    def status(self, status: str) -> bool:
        return self.notify(STATUS=status)

    def watchdog(self) -> bool:
        return self.notify(WATCHDOG="1")

    def stopping(self) -> bool:
        return self.notify(STOPPING="1", STATUS="stopping")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _watchdog_seconds(env: Mapping[str, str]) -> float | None:
    """The unit's ``WatchdogSec=`` as seconds, or None when no watchdog is asked of this process."""
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = env.get("WATCHDOG_PID", "").strip()
    if pid and pid not in (str(os.getpid()), str(os.getppid())):
        return None  # meant for another process of the unit
    return usec / 1_000_000


def feed_watchdog_from(notifier: SystemdNotifier, schedule_interval: Callable[[Callable[[float], Any], float], Any]
                       ) -> Any:
    """Ping the watchdog from the thread that runs ``schedule_interval``'s callbacks (Kivy's ``Clock``: the
    UI thread), twice per ``WatchdogSec`` as sd_watchdog_enabled(3) advises. Returns the scheduled event
    (``.cancel()`` stops it), or None when systemd asked for no watchdog."""
    if not notifier.enabled or notifier.watchdog_seconds is None:
        return None
    notifier.watchdog()
    return schedule_interval(lambda _dt: notifier.watchdog(), notifier.watchdog_seconds / 2)


__all__ = ["SystemdNotifier", "feed_watchdog_from"]
