"""Running the server: HTTPS only, through uvicorn with the mTLS-aware protocol (see tls.py).

``serve`` runs in the foreground (the CLI). ``BackgroundServer`` runs the same server in a thread on a
loopback port for tests and the benchmark, and stops it cleanly (no process or thread left behind).
uvicorn's own access log is off: it would print paths and query strings (see middleware.py).

``serve(settings, workers=N)``: the parent migrates (or checks) the database once, binds the port, then
forks N workers that all accept on that one socket, and one more process for the background photo checks
(``server/photo_checks.py``, at the lowest CPU priority: the face rules' ~30 ms per photo then only take CPU
the workers leave, and never their interpreter lock, as a thread inside a worker would). Each worker builds
its own app, engine and uvicorn server with the same ``MutualTLSProtocol`` and SSL context, so the client
certificate reaches the app in every worker exactly as with one. Fork rather than uvicorn's own
``workers=`` (which spawns and pickles its config): the SSL context factory is a closure and the app is
built from a ``Settings`` object, neither of which travels through pickle; a forked child inherits them
(the parent has opened no database connection and started no thread by then). The parent only supervises:
SIGINT/SIGTERM stop every worker gracefully; a worker (or the photo-check process) that dies on its own
stops the others and the parent exits 1, for the service manager (systemd, the container runtime) to
restart the whole server — one decision about restarts, in one place. ``--workers 1`` forks the same way.
Before forking, ``serve`` also sets the log format of every process (``[server] log_format``, server/logs.py)
and makes the private directory in which the workers' metric counters add up (server/metrics.py); the
directory is removed when the server stops.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import ssl
import sys
import threading
import time
from types import FrameType, TracebackType

import uvicorn
from fastapi import FastAPI

from server import logs
from server.app import build_context, create_app, utc_now
from server.db import make_engine, require_head, upgrade_to_head
from server.deps import Clock
from server.keys import load_or_create_secret
from server.metrics import multiprocess_directory
from server.settings import LogFormat, Settings
from server.tls import MutualTLSProtocol, server_ssl_context


def uvicorn_config(
    app: FastAPI,
    settings: Settings,
    *,
    port: int | None = None,
    graceful_seconds: int = 10,
    ssl_context: ssl.SSLContext | None = None,
) -> uvicorn.Config:
    """uvicorn's configuration for our app: the mTLS protocol, no access log, ``[server] keep_alive_seconds``.

    ``ssl_context``: one made earlier (``serve`` makes it in the parent, before forking, so that every worker
    has the same TLS session-ticket keys and a kiosk resuming a session at another worker still skips the
    full handshake); otherwise one is made here."""
    if not settings.tls_enabled:
        raise ValueError("the server runs HTTPS only: set tls_certfile, tls_keyfile and kiosk_ca_file")
    context = ssl_context if ssl_context is not None else server_ssl_context(settings)

    def ssl_factory(_config: uvicorn.Config, _default: object) -> ssl.SSLContext:
        return context

    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port if port is None else port,
        http=MutualTLSProtocol,
        ws="none",
        lifespan="on",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        log_config=None,
        ssl_certfile=str(settings.tls_certfile),  # informative; the factory's context is what is used
        ssl_context_factory=ssl_factory,
        timeout_keep_alive=settings.keep_alive_seconds,
        timeout_graceful_shutdown=graceful_seconds,
    )


log = logging.getLogger("server.serve")
_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_PR_SET_NAME = 15


def configure_logging(level: int = logging.INFO, log_format: LogFormat = "text") -> None:
    """Log lines on standard error, text or JSON (``server/logs.py``); the process id in every line tells
    the workers' lines apart (``--workers N``)."""
    logs.configure(log_format, level)


def prepare_database(settings: Settings) -> str:
    """Migrate to head (``migrate_on_start``) or check the database is there; the revision reached.

    Raises ``server.db.SchemaNotAtHead`` when not migrating and the schema is behind."""
    engine = make_engine(settings.database_url)
    try:
        return upgrade_to_head(engine) if settings.migrate_on_start else require_head(engine)
    finally:
        engine.dispose()


def serve(settings: Settings, *, workers: int = 1) -> None:
    """Run in the foreground until SIGINT/SIGTERM, with ``workers`` processes sharing the port."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    configure_logging(log_format=settings.log_format)  # [server] log_format, for this process and its children
    load_or_create_secret(settings.secret_file)  # created once here, not raced by the workers
    prepare_database(settings)
    ready = settings.replace(migrate_on_start=False)  # migrated once above: each worker only checks
    tls = server_ssl_context(ready)  # before the fork: one set of session-ticket keys for all workers
    listener = _bind(ready)
    try:
        with multiprocess_directory():  # the workers' metric files, added up by whichever answers a scrape
            _supervise(ready, listener, workers, tls)
    finally:
        listener.close()


def _run_worker(settings: Settings, listener: socket.socket | None, tls: ssl.SSLContext | None = None) -> None:
    app = create_app(settings, photo_checks=False)  # the checks have their own process (_checker_main)
    server = uvicorn.Server(uvicorn_config(app, settings, ssl_context=tls))
    server.run(sockets=None if listener is None else [listener])
    if not server.started:
        raise SystemExit(1)


def _worker_main(settings: Settings, listener: socket.socket, parent: int, tls: ssl.SSLContext) -> None:
    """A forked worker: the parent's signal handlers are not ours (uvicorn installs its own in run), and
    a worker must not outlive a supervisor that was killed outright (SIGKILL, OOM): it then gets SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _end_with_parent(parent)
    _run_worker(settings, listener, tls)


def _checker_main(settings: Settings, parent: int) -> None:
    """The forked photo-check process: the job's loop in the foreground at nice 19 until SIGTERM/SIGINT,
    which end it after the photo in hand. Named ``photo-checks`` (``/proc/PID/comm``, ``ps``, ``top``)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_NAME, b"photo-checks", 0, 0, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _end_with_parent(parent)
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, 19)
    context = build_context(settings, utc_now)
    job = context.photo_checks

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        job.request_stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    log.info("photo checks running")
    try:
        job.run_forever()
    finally:
        context.engine.dispose()


def _end_with_parent(parent: int) -> None:
    """Linux ``prctl(PR_SET_PDEATHSIG, SIGTERM)``; elsewhere a worker may be left behind a killed parent."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect
        raise SystemExit(1)


def _bind(settings: Settings) -> socket.socket:
    """The listening socket the workers share, made as asyncio would make it.

    ``proto=IPPROTO_TCP`` matters: asyncio switches Nagle's algorithm off (TCP_NODELAY) only on sockets
    whose ``proto`` says TCP, and an accepted socket inherits the listener's. ``socket.create_server`` leaves
    it 0, and every response written in two parts (headers, then body) then waited for the client's
    delayed ACK: ~40 ms on every request over loopback."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.bind((settings.host, settings.port))
        listener.listen(2048)
    except BaseException:
        listener.close()
        raise
    listener.set_inheritable(True)
    return listener


def _supervise(settings: Settings, listener: socket.socket, workers: int, tls: ssl.SSLContext) -> None:
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    forking = multiprocessing.get_context("fork")  # see the module docstring: nothing is pickled
    processes = [
        forking.Process(
            target=_worker_main, args=(settings, listener, os.getpid(), tls), name=f"kiosk-server-worker-{n}"
        )
        for n in range(1, workers + 1)
    ]
    processes.append(forking.Process(target=_checker_main, args=(settings, os.getpid()), name="photo-checks"))
    failed = False
    try:
        for process in processes:
            process.start()
        log.info("started %d workers on %s:%d and the photo checks (process %s)",
                 workers, settings.host, settings.port, processes[-1].pid)
        while not stopping.is_set():
            ended = multiprocessing.connection.wait([p.sentinel for p in processes], timeout=0.5)
            if ended and not stopping.is_set():
                dead = [p for p in processes if p.sentinel in ended]
                for process in dead:
                    process.join(5)  # the sentinel closes a moment before the exit status can be read
                log.error("worker(s) %s ended (exit %s): stopping the server",
                          ", ".join(str(p.pid) for p in dead), ", ".join(str(p.exitcode) for p in dead))
                failed = True
                break
    finally:
        _stop(processes)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failed:
        raise SystemExit(1)


def _stop(processes: list[multiprocessing.process.BaseProcess], grace: float = 15.0) -> None:
    """SIGTERM (uvicorn's graceful shutdown) to every live worker, SIGKILL to any left after ``grace``."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        if process.pid is not None:
            process.join(max(0.0, deadline - time.monotonic()))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class BackgroundServer:
    """The real HTTPS server in a daemon thread; a context manager that waits for start and stop."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None, port: int | None = None) -> None:
        self.port = port or free_port(settings.host)
        self.settings = settings.replace(port=self.port)
        self.app = create_app(self.settings, clock=clock)
        self._server = uvicorn.Server(uvicorn_config(self.app, self.settings, graceful_seconds=3))
        self._thread = threading.Thread(target=self._server.run, name=f"kiosk-server-{self.port}", daemon=True)

    @property
    def base_url(self) -> str:
        return f"https://{self.settings.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the server thread stopped during start (see the log)")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("the server did not start in time")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("the server thread did not stop")

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
