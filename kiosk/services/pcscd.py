"""Manage the local pcscd daemon for ``kiosk demo``, ``kiosk doctor`` and the test session.

Why this exists: on a production kiosk systemd starts pcscd on demand and nothing here is needed. The demo
machine, CI and test containers have no systemd, and the simulated card only shows up in a real reader
(vpcd) when pcscd runs. Starting it by hand has pitfalls this module takes care of:

* the pid file holds ``"PID\\n\\0"`` (strip non-digits), and a pid may be reused: check ``/proc`` too;
* after a crash or ``kill -9``, a stale ``/run/pcscd/pcscd.comm`` and pid file make the next pcscd exit
  with "Another pcscd seems to be running": remove them when no pcscd is alive;
* a child pcscd that died stays a zombie until reaped, and a zombie still has a ``/proc`` entry.

No ``smartcard`` import here (only ``drivers.pcsc`` may import it): the readiness probe is a callable the
caller passes in, e.g. ``drivers.pcsc.list_readers``. Subprocesses never go through a shell.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

RUN_DIR = Path("/run/pcscd")
PID_FILE = RUN_DIR / "pcscd.pid"
COMM_FILE = RUN_DIR / "pcscd.comm"
VPCD_CONF = Path("/etc/reader.conf.d/vpcd")
DEFAULT_VPCD_PORT = 0x8C7B  # 35963, Debian's vsmartcard-vpcd default
VPCD_READER_PREFIX = "Virtual PCD"
LOG_NAME = "pcscd.log"

# The pcscd we started ourselves (so that stop() can reap it and is_running() sees its death at once).
_child: subprocess.Popen[bytes] | None = None


class PcscdError(RuntimeError):
    """pcscd could not be managed; ``str()`` says what to do, for an operator."""


class PcscdNotInstalled(PcscdError):
    """The pcscd binary is missing."""


class PcscdPermissionDenied(PcscdError):
    """Starting or stopping the system pcscd needs root."""


class PcscdStartFailed(PcscdError):
    """pcscd was started but never became ready."""


# --- discovery -----------------------------------------------------------------------------------------


def pcscd_binary() -> str | None:
    """Path of the pcscd executable; /usr/sbin is searched even when it is not on PATH (non-root shells)."""
    found = shutil.which("pcscd")
    if found:
        return found
    for candidate in ("/usr/sbin/pcscd", "/usr/local/sbin/pcscd", "/sbin/pcscd"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def read_pid(pid_file: Path = PID_FILE) -> int | None:
    """The pid in pcscd's pid file (which holds ``PID\\n\\0``), or None."""
    try:
        digits = re.sub(r"\D", "", pid_file.read_text(encoding="ascii", errors="ignore"))
    except OSError:
        return None
    return int(digits) if digits else None


def _is_live_pcscd(pid: int) -> bool:
    """True when ``pid`` is a running (not zombie) process whose executable is pcscd."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    # /proc/PID/stat is "pid (comm) state ..."; comm may contain spaces or parentheses.
    comm = stat[stat.find("(") + 1 : stat.rfind(")")]
    state = stat[stat.rfind(")") + 2 : stat.rfind(")") + 3]
    return comm == "pcscd" and state not in ("Z", "X")


def _pcscd_pids() -> list[int]:
    """Every live pcscd on the machine, pid file or not."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _is_live_pcscd(int(entry.name)):
            pids.append(int(entry.name))
    return pids


def _reap_child() -> None:
    global _child
    if _child is not None and _child.poll() is not None:
        _child = None


def is_running() -> bool:
    """True when the pcscd named by the pid file is alive (checked in ``/proc``, zombies excluded)."""
    _reap_child()
    pid = read_pid()
    return pid is not None and _is_live_pcscd(pid)


def running_pid() -> int | None:
    """The pid of the running pcscd (pid file first, then a scan of ``/proc``), or None."""
    _reap_child()
    pid = read_pid()
    if pid is not None and _is_live_pcscd(pid):
        return pid
    others = _pcscd_pids()
    return others[0] if others else None


# --- vpcd ------------------------------------------------------------------------------------------------


def vpcd_configured(conf: Path = VPCD_CONF) -> bool:
    """True when vsmartcard-vpcd's reader configuration is installed."""
    return conf.is_file()


def vpcd_port(reader_index: int = 0, conf: Path = VPCD_CONF) -> int:
    """TCP port on which vpcd waits for the card of reader ``reader_index`` (0 or 1).

    pcscd hands vpcd the ``CHANNELID`` of ``/etc/reader.conf.d/vpcd``; vpcd opens one port per reader
    slot, counting up from it. Without the file or the line, Debian's default 0x8C7B (35963) is assumed.
    """
    if reader_index < 0:
        raise ValueError("reader_index must be >= 0")
    base = DEFAULT_VPCD_PORT
    with contextlib.suppress(OSError):
        for line in conf.read_text(encoding="utf-8", errors="replace").splitlines():
            fields = line.split()
            if len(fields) >= 2 and fields[0].upper() == "CHANNELID":
                with contextlib.suppress(ValueError):
                    base = int(fields[1], 0)
                break
    return base + reader_index


# --- start / stop ----------------------------------------------------------------------------------------


def _require_root(action: str) -> None:
    if os.geteuid() != 0:
        raise PcscdPermissionDenied(
            f"{action} pcscd needs root (it creates /run/pcscd and talks to reader devices). Run this as "
            "root, or start the service yourself: `sudo systemctl start pcscd.socket`, or `sudo pcscd` on "
            "a system without systemd."
        )


def remove_stale_files() -> bool:
    """Delete the pid and socket files left by a pcscd that died; True when something was removed.

    Does nothing while any pcscd is alive: its socket is not stale.
    """
    if running_pid() is not None:
        return False
    removed = False
    for path in (COMM_FILE, PID_FILE):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed = True
        log.info("removed stale %s", path)
    return removed


def ensure_running(
    timeout: float = 10.0,
    *,
    log_dir: Path | str | None = None,
    ready: Callable[[], Sequence[str]] | None = None,
    want_vpcd: bool | None = None,
    extra_args: Sequence[str] = (),
) -> bool:
    """Make sure pcscd runs and answers; return True when this call started it.

    ``ready`` lists the readers through the PC/SC client library (pass ``drivers.pcsc.list_readers``);
    we wait until it answers and, when vpcd is configured (or ``want_vpcd``), until the vpcd readers are
    listed. Without ``ready`` we only wait for pcscd's socket file. pcscd is started as
    ``pcscd --foreground --info`` in its own process group (a Ctrl-C meant for the caller does not kill it
    mid-way), its output appended to ``log_dir/pcscd.log`` (default: discarded).
    """
    global _child
    if want_vpcd is None:
        want_vpcd = vpcd_configured()
    if running_pid() is not None:
        _wait_ready(timeout, ready, want_vpcd, None)
        return False
    binary = pcscd_binary()
    if binary is None:
        raise PcscdNotInstalled(
            "pcscd (the PC/SC smart-card service) is not installed: `apt-get install pcscd` "
            "(and `vsmartcard-vpcd` for the simulated card)"
        )
    _require_root("starting")
    remove_stale_files()
    command = [binary, "--foreground", "--info", *extra_args]
    log_path = Path(log_dir) / LOG_NAME if log_dir is not None else None
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as out:  # the child keeps its own descriptor
            _child = _spawn(command, out)
    else:
        _child = _spawn(command, subprocess.DEVNULL)
    log.info("started pcscd (pid %d)%s", _child.pid, f", log in {log_path}" if log_path else "")
    try:
        _wait_ready(timeout, ready, want_vpcd, log_path)
    except PcscdStartFailed:
        stop()
        raise
    return True


def _spawn(command: list[str], out: IO[bytes] | int) -> subprocess.Popen[bytes]:
    # Fixed argv (pcscd's absolute path + our own flags), no shell. process_group=0: own process group.
    return subprocess.Popen(  # noqa: S603
        command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, process_group=0
    )


def _wait_ready(
    timeout: float,
    ready: Callable[[], Sequence[str]] | None,
    want_vpcd: bool,
    log_path: Path | None,
) -> None:
    deadline = time.monotonic() + timeout
    last_problem = "no answer yet"
    while time.monotonic() < deadline:
        if _child is not None and _child.poll() is not None:
            hint = f"; see {log_path}" if log_path else ""
            raise PcscdStartFailed(f"pcscd exited at start with status {_child.returncode}{hint}")
        if ready is None:
            if COMM_FILE.exists():
                return
        else:
            try:
                readers = list(ready())
            except Exception as exc:  # ServiceUnavailable while it starts: keep waiting
                last_problem = str(exc)
            else:
                if not want_vpcd or any(name.startswith(VPCD_READER_PREFIX) for name in readers):
                    return
                last_problem = f"readers listed: {readers or 'none'}; the vpcd readers are missing"
        time.sleep(0.05)
    hint = f" (pcscd log: {log_path})" if log_path else ""
    raise PcscdStartFailed(f"pcscd did not become ready within {timeout:.0f} s: {last_problem}{hint}")


def stop(timeout: float = 5.0) -> bool:
    """Stop pcscd: SIGTERM, wait, SIGKILL after ``timeout``; then remove stale files. True if it ran."""
    global _child
    pid = running_pid()
    child = _child
    if pid is None and (child is None or child.poll() is not None):
        _child = None
        remove_stale_files()
        return False
    _require_root("stopping")
    if pid is None:
        pid = child.pid  # type: ignore[union-attr]  # the early return above covers child is None
    _signal(pid, signal.SIGTERM)
    if not _wait_gone(pid, child, timeout):
        log.warning("pcscd (pid %d) ignored SIGTERM for %.0f s; sending SIGKILL", pid, timeout)
        _signal(pid, signal.SIGKILL)
        _wait_gone(pid, child, 5.0)
    if child is not None and child.pid == pid:
        _child = None
    remove_stale_files()
    log.info("stopped pcscd (pid %d)", pid)
    return True


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _wait_gone(pid: int, child: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and child.pid == pid:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=0.05)  # reaps our own child so it does not linger as a zombie
            if child.returncode is not None:
                return True
        elif not _is_live_pcscd(pid):
            return True
        else:
            time.sleep(0.05)
    return False
