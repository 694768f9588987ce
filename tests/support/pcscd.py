"""pcscd for a test session: start it when needed, stop it at the end only if the session started it.

The rule "leave the machine as you found it" matters twice here: a developer may have a pcscd running for
``kiosk demo`` (we must not kill it at session end), and a pcscd we started must not outlive the session
(CI would otherwise leak a daemon per run, and the next run would find a stranger's pcscd).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from drivers.pcsc import list_readers
from kiosk.services import pcscd


def stack_problem() -> str | None:
    """Why the real PC/SC tier cannot run here, or None when it can."""
    if pcscd.pcscd_binary() is None:
        return "pcscd is not installed (apt-get install pcscd)"
    if not pcscd.vpcd_configured():
        return f"vsmartcard-vpcd is missing: no {pcscd.VPCD_CONF} (apt-get install vsmartcard-vpcd)"
    if pcscd.running_pid() is None and os.geteuid() != 0:
        return "pcscd is not running and starting it needs root"
    return None


LOCK_FILE = Path(tempfile.gettempdir()) / "kiosk-pcsc-tier.lock"


class TierLock:
    """One test session at a time on pcscd and the vpcd readers (machine-wide, via ``flock``).

    Why: pcscd and the two vpcd readers are shared by every process on the machine. Two sessions at once
    (two developers, or pytest-xdist workers) would insert cards into each other's readers, and the one
    that started pcscd would stop it under the other's feet at its end. With the lock they take turns.
    """

    def __init__(self, path: Path = LOCK_FILE) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, timeout: float) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            with contextlib.suppress(OSError):  # let other users' sessions take turns too
                os.fchmod(fd, 0o666)
        except PermissionError:  # created by another user: a read-only descriptor can still be locked
            fd = os.open(self.path, os.O_RDONLY)
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                    os.close(fd)
                    raise TimeoutError(
                        f"another test session (pid {holder}) has used pcscd and the vpcd readers for "
                        f"more than {timeout:.0f} s ({self.path})"
                    ) from None
                time.sleep(0.2)
        with contextlib.suppress(OSError):  # who holds it, for the timeout message of the next session
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


@dataclass
class PcscdSession:
    """One test session's view of pcscd. ``log_dir`` receives pcscd.log when we start it."""

    log_dir: Path
    ready_timeout: float = 10.0
    lock_timeout: float = 240.0
    was_running: bool = False  # a pcscd was already there when the session began
    started_by_us: bool = False  # the pcscd running now is our child
    lock: TierLock = field(default_factory=TierLock)

    def start(self) -> None:
        self.lock.acquire(self.lock_timeout)
        try:
            self._start()
        except BaseException:
            self.lock.release()
            raise

    def _start(self) -> None:
        self.was_running = pcscd.running_pid() is not None
        self.started_by_us = pcscd.ensure_running(
            self.ready_timeout, log_dir=self.log_dir, ready=list_readers, want_vpcd=True
        )

    @property
    def may_restart(self) -> bool:
        """Restarting someone else's pcscd would break their demo; in CI the machine is ours."""
        return self.started_by_us or os.environ.get("CI", "").lower() in ("1", "true", "yes")

    def stop_service(self) -> None:
        pcscd.stop()

    def start_service(self) -> float:
        """Start pcscd again; returns seconds until the vpcd readers were listed."""
        began = time.monotonic()
        if pcscd.ensure_running(self.ready_timeout, log_dir=self.log_dir, ready=list_readers, want_vpcd=True):
            self.started_by_us = True
        return time.monotonic() - began

    def restart(self) -> float:
        self.stop_service()
        return self.start_service()

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """pcscd is down inside the block and always up again after it, even if the block fails."""
        self.stop_service()
        try:
            yield
        finally:
            self.start_service()

    def finish(self) -> None:
        """Stop pcscd if it was not running before the session (whoever's child it is now)."""
        try:
            if not self.was_running:
                pcscd.stop()
        finally:
            self.lock.release()
