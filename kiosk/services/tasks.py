"""The task worker: disk and network work of the flows, off the UI thread (``kiosk.core.ports.TaskJobs``).

Storing an application is an fsync'd SQLite commit and a status lookup an HTTPS round trip; either can take
seconds on a busy or failing machine, and the UI thread must never wait for one. One worker thread runs the
tasks in order and posts ``TaskResult``/``TaskFailed`` with the ticket ``submit`` gave out. Like the card
worker, it knows no task: it calls ``task.run(services)``. A task still queued at ``stop()`` is wiped, not
run; ``stop()`` joins the thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.core.events import Event, TaskFailed, TaskResult
from kiosk.core.ports import AuditPort, CentralPort, OutboxPort, PrinterPort, Task, TicketCounter

LOG = logging.getLogger(__name__)

_STOP = object()


@dataclass(slots=True)
class Services:
    """``kiosk.core.ports.ServiceContext``: the outbox, the receipt printer (if any), the counter's audit trail
    (if any), and a central client made on first use (on the worker: a requests session belongs to one
    thread)."""

    outbox: OutboxPort
    central_factory: Callable[[], CentralPort]
    printer: PrinterPort | None = None
    audit: AuditPort | None = None
    _central: CentralPort | None = None

    def central(self) -> CentralPort:
        if self._central is None:
            self._central = self.central_factory()
        return self._central

    def close(self) -> None:
        central, self._central = self._central, None
        close = getattr(central, "close", None)
        if callable(close):
            close()


class TaskWorker:
    def __init__(self, services: Services, post: Callable[[Event], None], *,
                 tickets: Callable[[], int] | None = None) -> None:
        self._services = services
        self._post_event = post
        self._tickets = tickets or TicketCounter()
        self._queue: queue.Queue[tuple[int, Task[Any]] | object] = queue.Queue()
        self._lock = threading.Lock()
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name="task-worker", daemon=False)

    def start(self) -> TaskWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Skip what is queued (wiping it), let the task in hand finish, join the thread."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
        self._queue.put(_STOP)
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._drain()

    def submit(self, task: Task[Any]) -> int:
        ticket = self._tickets()
        with self._lock:
            if not self._stopping:
                self._queue.put((ticket, task))
                return ticket
        task.wipe()
        raise RuntimeError("the task worker is stopped")

    def _post(self, event: Event) -> None:
        try:
            self._post_event(event)
        except Exception:
            LOG.exception("posting %s failed", type(event).__name__)

    def _work(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                ticket, task = item  # type: ignore[misc]
                self._run(ticket, task)
        finally:
            self._services.close()

    def _run(self, ticket: int, task: Task[Any]) -> None:
        name = type(task).__name__
        try:
            result = task.run(self._services)
        except Exception as exc:  # a failing task must not end the worker (and every later task)
            LOG.info("task %s (%d) failed: %s", name, ticket, getattr(exc, "code", type(exc).__name__))
            self._post(TaskFailed(ticket, exc))
        else:
            self._post(TaskResult(ticket, result))
        finally:
            task.wipe()

    def _drain(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                _, task = item  # type: ignore[misc]
                task.wipe()


__all__ = ["Services", "TaskWorker"]
