"""A small central server for tests: real HTTPS with required client certificates, and switchable faults.

Why our own and not only the reference server: the outbox must be shown surviving faults a correct
server never produces on purpose — an answer lost after the record was committed, a response slower than
the client's timeout, a burst of 500s, a server that vanishes and comes back on the same port. The
contract part (idempotent storage keyed by ``Idempotency-Key``, 409 rules) follows the reference server.

Modes (``server.mode`` for every request, or ``server.script`` for the next few, first in first out):
``ok``; ``error500`` (nothing stored); ``slow`` (stored, answered after ``slow_seconds``); ``drop``
(stored, connection closed without an answer); ``reject`` (422, nothing stored); ``hold`` (stored, the
answer waits until ``release()``: a client killed meanwhile never learns it was stored).
``stop()`` takes the server down (port closed, storage kept); ``start()`` brings it back on the same port.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import ssl
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.services.certs import LoopbackPki

KEY = re.compile(r"[A-Za-z0-9-]{16,64}")
APPLICATION_ID = re.compile(r"\d{23}")
HANDOVER = re.compile(r"/v1/pickups/([A-Za-z0-9_-]{1,64})/handover")


@dataclass
class Stored:
    body_hash: str
    answer: dict[str, Any]


@dataclass
class Ledger:
    """What the server holds; survives stop()/start() like a database would."""

    by_key: dict[str, Stored] = field(default_factory=dict)
    applications: dict[str, str] = field(default_factory=dict)  # application_id -> idempotency key
    handovers: dict[str, str] = field(default_factory=dict)  # pickup_id -> idempotency key
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)
    peers: set[str] = field(default_factory=set)


class FakeCentral:
    def __init__(self, pki: LoopbackPki, *, ca_for_clients: str | None = None) -> None:
        self.pki = pki
        self.mode = "ok"
        self.script: deque[str] = deque()
        self.slow_seconds = 2.0
        self.ledger = Ledger()
        self.revoked_serials: set[str] = set()
        self.refused_grants: dict[str, str] = {}  # grant -> the 403 code the server answers for it
        self.port = 0
        self._lock = threading.Lock()
        self._stored = threading.Condition(self._lock)
        self._release = threading.Event()
        self._stopping = threading.Event()
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(pki.server_cert, pki.server_key)
        self._context.load_verify_locations(ca_for_clients or pki.ca_cert)
        self._context.verify_mode = ssl.CERT_REQUIRED
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> FakeCentral:
        self._stopping.clear()
        self._release.clear()
        httpd = _Server(("127.0.0.1", self.port), _Handler)
        httpd.central = self
        httpd.socket = self._context.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-central", daemon=False)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Down: stop accepting, cut open connections, wait for every handler thread."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._stopping.set()
        self._release.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()  # joins the handler threads (block_on_close)
        thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> FakeCentral:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def release(self) -> None:
        """Let answers held by ``hold`` mode go out."""
        self._release.set()

    def wait_stored(self, count: int, timeout: float = 20.0) -> bool:
        """Block until at least ``count`` writes are stored (applications + handovers)."""
        with self._stored:
            return self._stored.wait_for(lambda: self.stored_count() >= count, timeout)

    def stored_count(self) -> int:
        return len(self.ledger.applications) + len(self.ledger.handovers)

    def next_mode(self) -> str:
        with self._lock:
            return self.script.popleft() if self.script else self.mode

    # --- the contract ------------------------------------------------------------------------------------

    def store(self, scope: str, key: str, body: dict[str, Any], natural_key: str) -> tuple[int, dict[str, Any]]:
        """Idempotent write: same key + same body → the original answer; every other clash → 409."""
        body_hash = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        ledger = self.ledger
        with self._stored:
            ledger.stats["writes"] += 1
            earlier = ledger.by_key.get(f"{scope}:{key}")
            if earlier is not None:
                if earlier.body_hash != body_hash:
                    ledger.stats["key_reused"] += 1
                    return 409, {"error": "idempotency_key_reused", "message": "key used for another body"}
                ledger.stats["duplicates"] += 1
                return 200, {**earlier.answer, "duplicate": True}
            table = ledger.applications if scope == "application" else ledger.handovers
            if natural_key in table:
                ledger.stats["already_submitted"] += 1
                first = ledger.by_key.get(f"{scope}:{table[natural_key]}")
                receipt = {k: v for k, v in first.answer.items() if k != "duplicate"} if first is not None else {}
                return 409, {"error": "already_submitted", "message": "already submitted under another key",
                             "receipt": receipt}
            count = len(ledger.by_key) + 1
            answer = {"receipt_id": f"R{count:08d}", "status": "received", "received_at": "2026-11-26T10:00:00Z",
                      "duplicate": False}
            if scope == "application":
                answer["application_id_masked"] = "*" * 19 + natural_key[-4:]
            ledger.by_key[f"{scope}:{key}"] = Stored(body_hash, answer)
            table[natural_key] = key
            self._stored.notify_all()
            return 201, answer


class _Server(ThreadingHTTPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    central: FakeCentral

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._open_lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.central.ledger.stats["connection_errors"] += 1  # failed handshakes, cut connections: quiet


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server: the client's pool must cope
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    timeout = 10
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.request.do_handshake()  # here, in the handler thread, not in the accept loop
        peer = self.request.getpeercert() or {}
        for rdn in peer.get("subject", ()):
            for name, value in rdn:
                if name == "commonName":
                    self.server.central.ledger.peers.add(value)

    def _reply(self, status: int, document: dict[str, Any]) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._reply(200, {"status": "ok"})
        else:
            self._reply(404, {"error": "not_found", "message": "no such route"})

    def do_POST(self) -> None:
        central = self.server.central
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        mode = central.next_mode()
        if mode == "error500":
            self._reply(500, {"error": "internal", "message": "injected failure"})
            return
        if mode == "reject":
            self._reply(422, {"error": "invalid_photo", "message": "photo_jpeg_base64 is not a JPEG"})
            return
        try:
            body = json.loads(raw)
        except ValueError:
            self._reply(400, {"error": "invalid_json", "message": "body is not JSON"})
            return
        status, answer = self._route(central, body)
        if mode == "drop" and status in (200, 201):
            self.close_connection = True  # stored, but the answer is lost
            return
        if mode == "slow":
            central._stopping.wait(central.slow_seconds)
        if mode == "hold":
            central._release.wait()
        if central._stopping.is_set():
            self.close_connection = True
            return
        self._reply(status, answer)

    def _route(self, central: FakeCentral, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        key = self.headers.get("Idempotency-Key", "")
        if self.path == "/v1/applications":
            if not KEY.fullmatch(key):
                return 400, {"error": "invalid_idempotency_key", "message": "Idempotency-Key is 16-64 chars"}
            application_id = str(body.get("application_id", ""))
            if not APPLICATION_ID.fullmatch(application_id) or "photo_jpeg_base64" not in body:
                return 422, {"error": "validation_error", "message": "application_id or photo invalid"}
            return central.store("application", key, body, application_id)
        match = HANDOVER.fullmatch(self.path)
        if match:
            grant = str(body.get("grant", ""))
            if not grant:
                return 422, {"error": "validation_error", "message": "grant is required"}
            if grant in central.refused_grants:
                central.ledger.stats["grant_refused"] += 1
                return 403, {"error": central.refused_grants[grant], "message": "the grant is refused"}
            if not KEY.fullmatch(key):
                return 400, {"error": "invalid_idempotency_key", "message": "Idempotency-Key is 16-64 chars"}
            return central.store("handover", key, body, match.group(1))
        if self.path == "/v1/kiosks/heartbeat":
            with central._lock:
                central.ledger.heartbeats.append(body)
            return 200, {"ok": True}
        if self.path == "/v1/certificate-status":
            status = "revoked" if str(body.get("serial")) in central.revoked_serials else "good"
            return 200, {"status": status, "checked_at": "2026-11-26T10:00:00Z"}
        return 404, {"error": "not_found", "message": "no such route"}


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0, step: float = 0.02) -> bool:
    """Poll ``predicate`` until true or ``timeout`` (the tests' only sleep, and a short one)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
