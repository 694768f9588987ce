"""Running the server: HTTPS only, through uvicorn with the mTLS-aware protocol (see tls.py).

``serve`` runs in the foreground (the CLI). ``BackgroundServer`` runs the same server in a thread on a
loopback port for tests and the benchmark, and stops it cleanly (no process or thread left behind).
uvicorn's own access log is off: it would print paths and query strings (see middleware.py).
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from server.app import create_app
from server.deps import Clock
from server.settings import Settings
from server.tls import MutualTLSProtocol, server_ssl_context


def uvicorn_config(
    app: FastAPI, settings: Settings, *, port: int | None = None, graceful_seconds: int = 10
) -> uvicorn.Config:
    if not settings.tls_enabled:
        raise ValueError("the server runs HTTPS only: set tls_certfile, tls_keyfile and kiosk_ca_file")
    context = server_ssl_context(settings)

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
        timeout_keep_alive=30,
        timeout_graceful_shutdown=graceful_seconds,
    )


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("uvicorn.access").disabled = True


def serve(settings: Settings) -> None:
    """Run in the foreground until SIGINT/SIGTERM."""
    server = uvicorn.Server(uvicorn_config(create_app(settings), settings))
    server.run()
    if not server.started:
        raise SystemExit(1)


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
