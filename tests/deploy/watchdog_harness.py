"""What systemd does for the kiosk unit, reduced to the part under test: ``Type=notify`` + ``WatchdogSec=`` +
``Restart=always``.

It owns a notify socket, starts the kiosk with ``NOTIFY_SOCKET`` and ``WATCHDOG_USEC`` set, waits for
READY=1, and when no WATCHDOG=1 arrives for ``WatchdogSec`` it aborts the process (SIGABRT, then SIGKILL
after a grace period, like systemd's ``WatchdogSignal=``/``TimeoutAbortSec=``) and starts a new one.
Every process it started is reaped by ``close()``.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Incarnation:
    process: subprocess.Popen[bytes]
    ready_at: float | None = None
    pings: list[float] = field(default_factory=list)
    killed_by_watchdog: bool = False


class WatchdogSupervisor:
    def __init__(self, command: Sequence[str], env: Mapping[str, str], folder: Path, *, watchdog_seconds: float,
                 abort_grace_seconds: float = 3.0) -> None:
        self.command = list(command)
        self.watchdog_seconds = watchdog_seconds
        self.abort_grace = abort_grace_seconds
        self.socket_path = folder / "notify"
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.listener.bind(str(self.socket_path))
        self.listener.settimeout(0.05)
        self.env = dict(env, NOTIFY_SOCKET=str(self.socket_path), WATCHDOG_USEC=str(int(watchdog_seconds * 1e6)))
        self.folder = folder
        self.incarnations: list[Incarnation] = []
        self.start()

    @property
    def current(self) -> Incarnation:
        return self.incarnations[-1]

    def start(self) -> None:
        log = (self.folder / f"kiosk-{len(self.incarnations)}.log").open("wb")
        process = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.incarnations.append(Incarnation(process))

    def log(self, index: int = -1) -> str:
        number = index if index >= 0 else len(self.incarnations) + index
        return (self.folder / f"kiosk-{number}.log").read_text(errors="replace")

    def run_until(self, condition, timeout: float) -> bool:
        """Serve the socket (and the watchdog) until ``condition()`` holds or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._serve_once()
            if condition():
                return True
        return False

    def _serve_once(self) -> None:
        try:
            message = self.listener.recv(4096).decode("utf-8", "replace").splitlines()
        except TimeoutError:
            message = []
        now = time.monotonic()
        current = self.current
        if "READY=1" in message and current.ready_at is None:
            current.ready_at = now
        if "WATCHDOG=1" in message:
            current.pings.append(now)
        if current.process.poll() is not None:
            self.start()  # Restart=always
            return
        if current.ready_at is None:
            return
        last = max([current.ready_at, *current.pings])
        if now - last > self.watchdog_seconds:
            current.killed_by_watchdog = True
            current.process.send_signal(signal.SIGABRT)
            try:
                current.process.wait(self.abort_grace)
            except subprocess.TimeoutExpired:
                current.process.kill()  # a stopped or wedged process ignores SIGABRT
                current.process.wait(10)
            self.start()

    def close(self) -> None:
        for incarnation in self.incarnations:
            process = incarnation.process
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)
        self.listener.close()
