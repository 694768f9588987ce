""""Call staff" that reaches a person: the central server, plus an optional local hook and webhook.

Why it looks like this:

* **The UI thread never waits.** ``StaffCallChannel`` is the shell's ``staff_caller``: calling it only
  queues the request; one worker thread (``start()``/``stop()``, non-daemon, joined) does the network and
  process work, bounded by timeouts, and reports through ``post`` (the UI's thread-safe scheduler) with
  ``StaffCallUpdated("sent" | "failed" | "cancelled")``.
* **Several channels, because one may be down.** The central server (``POST /v1/staff-calls``: clerks see
  the call on their screens and acknowledge it), a local command (a buzzer, a lamp, a pager gateway) and a
  webhook (a chat room). The call is "sent" as soon as one channel confirmed it, "failed" only when all
  did not; the resident can then press again (a new call).
* **Taking a call back only undoes what was done.** A cancel goes to the channels that confirmed the
  call. A call still waiting in the queue is simply dropped: nobody was told, so nobody is told otherwise.
* **Nothing personal can leak, by construction.** The channel is never given anything about the resident;
  what it sends is this kiosk's id, "call"/"cancel", the call's id (a random UUID) and the time. The hook
  gets a small fixed environment (not the kiosk's, which may hold paths and secrets) and no shell; its
  output is discarded. Errors are logged by type or code only.
* **The central client is made by ``client_factory`` on the worker** (lazily, again after a failure), so a
  missing certificate is a failed channel, not a crash at start, and the client never crosses threads.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from kiosk.core.events import StaffCallUpdated
from kiosk.services.errors import CentralError

log = logging.getLogger(__name__)

SENT, FAILED, CANCELLED = "sent", "failed", "cancelled"
# The only variables of the kiosk's own environment a hook inherits: enough to find programs and speak
# the right locale, nothing that could carry a secret or a path to personal data.
_INHERITED_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "SYSTEMROOT")


class StaffCallClient(Protocol):
    """What the channel needs of ``kiosk.services.central.CentralClient``."""

    def report_staff_call(self, call_id: str, *, called_at: str) -> Any: ...

    def cancel_staff_call(self, call_id: str) -> Any: ...

    def close(self) -> None: ...


@dataclass(eq=False)  # identity: a job is this press, not an equal-looking one
class _Call:
    """One press of "call staff", and which channels confirmed it (those are told about a cancel)."""

    call_id: str
    at: str
    central: bool = False
    hook: bool = False
    webhook: bool = False
    settled: bool = False  # every channel has answered: a new press is a new call

    @property
    def delivered(self) -> bool:
        return self.central or self.hook or self.webhook


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class StaffCallChannel:
    """The shell's ``staff_caller``: ``channel(True)`` calls staff, ``channel(False)`` takes the call back."""

    def __init__(
        self,
        post: Callable[[StaffCallUpdated], None],
        *,
        client_factory: Callable[[], StaffCallClient],
        kiosk_id: str,
        hook_command: Sequence[str] = (),
        webhook_url: str = "",
        timeout_seconds: float = 5.0,
        webhook_ca_bundle: str | None = None,
        clock: Callable[[], datetime] = _utc_now,
        name: str = "staff-call",
    ) -> None:
        if not kiosk_id:
            raise ValueError("a staff-call channel needs this kiosk's id")
        if not timeout_seconds > 0:
            raise ValueError("staff_call.timeout_seconds must be greater than zero")
        command = tuple(hook_command)
        if not all(isinstance(part, str) and part for part in command):
            raise ValueError("staff_call.hook_command is a list of non-empty strings (argv, no shell)")
        if webhook_url:
            parts = urlsplit(webhook_url)
            if parts.scheme != "https" or not parts.hostname:
                raise ValueError("staff_call.webhook_url must be an https:// URL (TLS is always verified)")
        self._post = post
        self._client_factory = client_factory
        self._kiosk_id = kiosk_id
        self._command = command
        self._webhook_url = webhook_url
        self._timeout = float(timeout_seconds)
        # True: the system trust store (requests' default). A path: that CA bundle (a city's own CA).
        self._verify: str | bool = webhook_ca_bundle or True
        self._clock = clock
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._jobs: deque[tuple[str, _Call]] = deque()
        self._current: _Call | None = None  # the call the resident has open, as the UI sees it
        self._stopping = False
        self._client: StaffCallClient | None = None  # worker thread only
        self._session: requests.Session | None = None  # worker thread only
        self._thread = threading.Thread(target=self._run, name=name, daemon=False)

    @classmethod
    def from_config(cls, config: Any, post: Callable[[StaffCallUpdated], None]) -> StaffCallChannel:
        """The channel a ``KioskConfig`` describes: its ``[staff_call]`` section, this kiosk's id, and a
        ``CentralClient`` from ``[server]`` (made on the worker). Not started: call ``start()``."""
        from kiosk.services.central import CentralClient

        section = config.staff_call
        return cls(
            post,
            client_factory=lambda: CentralClient.from_config(config),
            kiosk_id=config.kiosk.id,
            hook_command=section.hook_command,
            webhook_url=section.webhook_url,
            timeout_seconds=section.timeout_seconds,
        )

    # --- lifecycle --------------------------------------------------------------------------------------

    def start(self) -> StaffCallChannel:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> bool:
        """End the worker and wait for it; True when it has ended. Work in flight finishes (it is bounded
        by the timeouts); calls still queued are dropped."""
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> StaffCallChannel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # --- the UI thread's side: queue and return ---------------------------------------------------------

    def __call__(self, call: bool) -> None:
        """Call staff (True) or take the call back (False). Returns at once; the answer comes via ``post``."""
        answer: str | None = None
        with self._lock:
            if not self._thread.is_alive() or self._stopping:
                log.warning("staff-call: the channel is not running")
                answer = FAILED if call else CANCELLED
            elif call:
                # A press while a call is on its way adds nothing: its answer is coming. A press after the
                # answer is a new call (the shell forgets a call at the end of a session, and the staff
                # may have come and gone): the earlier one stays open for the staff, as the shell says.
                if self._current is None or self._current.settled:
                    self._current = _Call(call_id=str(uuid.uuid4()), at=_stamp(self._clock()))
                    self._jobs.append(("call", self._current))
                    self._wake.notify()
            else:
                taken_back, self._current = self._current, None
                if taken_back is None:
                    answer = CANCELLED
                else:
                    with contextlib.suppress(ValueError):
                        self._jobs.remove(("call", taken_back))  # never sent: drop it, nobody to tell
                    self._jobs.append(("cancel", taken_back))
                    self._wake.notify()
        if answer is not None:  # outside the lock: ``post`` may run the shell synchronously (tests)
            self._post(StaffCallUpdated(answer))

    # --- the worker -------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._lock:
                    while not self._jobs and not self._stopping:
                        self._wake.wait()
                    if self._stopping:
                        if self._jobs:
                            log.info("staff-call: %d request(s) dropped at shutdown", len(self._jobs))
                        self._jobs.clear()
                        return
                    kind, job = self._jobs.popleft()
                try:
                    if kind == "call":
                        self._call(job)
                    else:
                        self._cancel(job)
                except Exception as exc:  # never lose the worker: the next press must still work
                    log.error("staff-call: unexpected %s", type(exc).__name__)
        finally:
            self._close()

    def _still_current(self, job: _Call) -> bool:
        with self._lock:
            return self._current is job

    def _call(self, job: _Call) -> None:
        # Local first (quickest to reach someone nearby), then the city's server, then the webhook; the
        # resident hears "sent" as soon as one of them confirmed.
        told = False
        for channel in ("hook", "central", "webhook"):
            if not self._still_current(job):
                break  # taken back meanwhile: the cancel that follows undoes what was done
            if not self._configured(channel):
                continue
            confirmed = self._send(channel, "call", job)
            setattr(job, channel, confirmed)
            if confirmed and not told and self._still_current(job):
                self._post(StaffCallUpdated(SENT))
                told = True
        with self._lock:
            job.settled = True
            failed = not job.delivered and self._current is job
            if failed:
                self._current = None
        if failed:
            log.warning("staff-call from kiosk %s reached nobody", self._kiosk_id)
            self._post(StaffCallUpdated(FAILED))

    def _cancel(self, job: _Call) -> None:
        for channel in ("hook", "central", "webhook"):
            if getattr(job, channel):
                self._send(channel, "cancel", job)
        with self._lock:
            newer = self._current is not None
        if not newer:  # a cancel must not wipe the state of a call made after it
            self._post(StaffCallUpdated(CANCELLED))

    def _configured(self, channel: str) -> bool:
        if channel == "hook":
            return bool(self._command)
        if channel == "webhook":
            return bool(self._webhook_url)
        return True

    def _send(self, channel: str, event: str, job: _Call) -> bool:
        """One channel, one event; True when it confirmed. Failures are logged by type or code only."""
        at = job.at if event == "call" else _stamp(self._clock())
        try:
            if channel == "hook":
                return self._run_hook(event, job, at)
            if channel == "webhook":
                return self._post_webhook(event, at)
            return self._tell_central(event, job)
        except CentralError as exc:
            reason = exc.code
        except Exception as exc:  # requests, OSError from a missing hook program, a client factory's error
            reason = type(exc).__name__
        log.warning("staff-call %s via %s failed: %s", event, channel, reason)
        if channel == "central":
            self._drop_client()
        return False

    def _tell_central(self, event: str, job: _Call) -> bool:
        if self._client is None:
            self._client = self._client_factory()
        if event == "call":
            self._client.report_staff_call(job.call_id, called_at=job.at)
        else:
            self._client.cancel_staff_call(job.call_id)
        return True

    def _run_hook(self, event: str, job: _Call, at: str) -> bool:
        env = {name: os.environ[name] for name in _INHERITED_ENV if name in os.environ}
        env.update(KIOSK_ID=self._kiosk_id, STAFF_CALL=event, STAFF_CALL_ID=job.call_id, STAFF_CALL_AT=at)
        process = subprocess.Popen(  # noqa: S603 - argv from the kiosk's configuration, never a shell
            self._command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            start_new_session=True,  # its own process group: a timeout ends the hook and its children
        )
        try:
            code = process.wait(self._timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            log.warning("staff-call %s via hook failed: timeout after %.1f s", event, self._timeout)
            return False
        if code != 0:
            log.warning("staff-call %s via hook failed: exit status %d", event, code)
            return False
        return True

    def _post_webhook(self, event: str, at: str) -> bool:
        if self._session is None:
            self._session = _new_session()
        response = self._session.post(
            self._webhook_url,
            json={"kiosk_id": self._kiosk_id, "event": event, "at": at},
            timeout=(self._timeout, self._timeout),
            verify=self._verify,
            allow_redirects=False,
        )
        with response:
            if 200 <= response.status_code < 300:
                return True
        log.warning("staff-call %s via webhook failed: HTTP %d", event, response.status_code)
        return False

    def _drop_client(self) -> None:
        """Make a fresh client next time (after a TLS or connection failure the old one may be stale)."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def _close(self) -> None:
        self._drop_client()
        if self._session is not None:
            self._session.close()
            self._session = None


def _new_session() -> requests.Session:
    """No proxies, ``.netrc`` or CA bundle from the environment, and no automatic re-sends."""
    session = requests.Session()
    session.trust_env = False
    adapter = HTTPAdapter(max_retries=0)
    session.mount("https://", adapter)
    return session


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:  # pragma: no cover - the kiosk runs on Linux
            process.kill()
    process.wait()
