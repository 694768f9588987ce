"""Benchmark of the reference server: applications per second and latency, SQLite and PostgreSQL.

Run from the repository root::

    .venv/bin/python -m benchmarks.server_bench                  # SQLite and a throw-away PostgreSQL
    .venv/bin/python -m benchmarks.server_bench --backends sqlite --kiosks 1,16,64 --workers 1,2 --modes reuse,new
    .venv/bin/python -m benchmarks.server_bench --pg-url postgresql://user:pw@host/db
    .venv/bin/python -m benchmarks.server_bench --quick          # CI: a few seconds, exit 1 on any error

What it measures: the server runs as its own process (``kiosk server serve --workers N`` over HTTPS with
mTLS), exactly as deployed; K kiosk threads in this process each submit applications back to back —
realistic bodies with 100–300 KB synthetic face photos that pass every server rule (base64), a fresh
application id and Idempotency-Key each. Two connection modes: ``reuse`` (each kiosk keeps one ``requests``
session, as the kiosk's central client does: keep-alive) and ``new`` (a fresh session, so a new TCP
connection and a full TLS handshake with client certificate, for every application — a kiosk whose idle
connection was closed). Reported: applications/second over the whole run, p50/p99 latency per request, the
server's CPU per application (all its processes, from /proc), and how long the background photo checks
(``server/photo_checks.py``) took after the load to catch up with what was received — that is where the
face rules' CPU went. A Markdown table goes to stdout (paste it into the README); the exit status is 1 when
any request failed or a photo check did not finish.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import platform
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests
from PIL import Image
from sqlalchemy import func, select

from contract.photo import validate_photo
from server.db import make_engine
from server.models import Application
from server.pki_demo import DemoPki, create_demo_pki
from server.serve import free_port

MODES = ("reuse", "new")


def photo_pool(count: int = 8) -> list[bytes]:
    """Synthetic face photos (``tests/support/faces.py``: drawn, no real person) of about 100-300 KB,
    1050 x 1350 px, each checked against every rule the server applies, face rules included — a photo the
    server refuses would measure the refusal path instead of the stored one."""
    from tests.support.faces import frame, portrait_head

    size = (1050, 1350)
    picture = Image.fromarray(frame(portrait_head(size), size=size))
    pool = []
    for quality in (80, 82, 84, 86, 88, 90, 91, 92)[:count]:
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality)
        validate_photo(buffer.getvalue(), content=True)
        pool.append(buffer.getvalue())
    return pool


@dataclass
class RunResult:
    backend: str
    kiosks: int
    applications: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    photo_kb: float
    workers: int = 1
    mode: str = "reuse"
    server_cpu_seconds: float = float("nan")
    checks_seconds: float = float("nan")  # after the load, until no photo check was pending
    checks_left: int = 0  # still pending when the bench gave up waiting

    @property
    def cpu_ms_per_application(self) -> float:
        return self.server_cpu_seconds * 1000 / self.applications if self.applications else float("nan")

    @property
    def per_second(self) -> float:
        return self.applications / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
        return ordered[index]


def _session(pki: DemoPki, kiosk: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise replace session.verify
    session.verify = str(pki.ca_cert)
    credentials = pki.kiosks[kiosk]
    session.cert = (str(credentials.cert), str(credentials.key))
    return session


def _cli(*args: str) -> None:
    command = [sys.executable, "-m", "server.cli", *args]
    subprocess.run(command, check=True, capture_output=True, timeout=120)  # noqa: S603 - our own module


@dataclass
class RunningServer:
    base_url: str
    pid: int


@contextmanager
def running_server(db_url: str, pki: DemoPki, workdir: Path, workers: int = 1) -> Iterator[RunningServer]:
    """``kiosk server serve --workers N`` in a child process; stopped (SIGTERM) afterwards."""
    secret = workdir / "server.secret"
    common = ["--db", db_url, "--secret-file", str(secret)]
    for kiosk, credentials in pki.kiosks.items():
        _cli("add-kiosk", kiosk, "--cert", str(credentials.cert), *common)
    port = free_port()
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - fixed argv, our own module
        [
            sys.executable,
            "-m",
            "server.cli",
            "serve",
            *common,
            "--port",
            str(port),
            "--tls-cert",
            str(pki.server_cert),
            "--tls-key",
            str(pki.server_key),
            "--kiosk-ca",
            str(pki.ca_cert),
            "--workers",
            str(workers),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"https://127.0.0.1:{port}"
    try:
        probe = _session(pki, next(iter(pki.kiosks)))
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited; see {workdir / 'server.log'}")
            try:
                if probe.get(base_url + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("server did not start")
            time.sleep(0.1)
        probe.close()
        time.sleep(0.5 if workers > 1 else 0)  # the other workers finish their start-up
        yield RunningServer(base_url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and its children, from /proc (NaN where there is none)."""
    ticks = os.sysconf("SC_CLK_TCK") if platform.system() == "Linux" else 0
    if not ticks:
        return float("nan")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        pending += [int(child) for child in children]
    return total


def pending_checks(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            count = connection.execute(
                select(func.count()).select_from(Application).where(Application.photo_check == "pending")
            ).scalar_one()
    finally:
        engine.dispose()
    return int(count)


def wait_for_checks(db_url: str, timeout: float) -> tuple[float, int]:
    """Seconds until no photo check is pending (the server's background job), and how many were left."""
    began = time.perf_counter()
    left = pending_checks(db_url)
    while left and time.perf_counter() - began < timeout:
        time.sleep(0.2)
        left = pending_checks(db_url)
    return time.perf_counter() - began, left


def _body(photo_b64: str) -> dict[str, object]:
    return {
        "application_id": "".join(secrets.choice("0123456789") for _ in range(23)),
        "photo_jpeg_base64": photo_b64,
        "contact": {"email": "bench@example.invalid"},
        "submitted_at": datetime.now(UTC).isoformat(),
    }


def run_load(
    base_url: str, pki: DemoPki, kiosks: list[str], per_kiosk: int, photos: list[str], *, mode: str = "reuse"
) -> RunResult:
    """K kiosk threads submitting back to back; ``mode`` reuse (one keep-alive session per kiosk) or new (a
    new session, connection and TLS handshake per application)."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    start_line = threading.Barrier(len(kiosks) + 1)

    def post(session: requests.Session, body: dict[str, object]) -> bool:
        response = session.post(
            base_url + "/v1/applications", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=60
        )
        return response.status_code == 201

    def worker(kiosk: str, seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)  # noqa: S311 - load pattern, not a secret
        bodies = [_body(rng.choice(photos)) for _ in range(per_kiosk)]
        kept = _session(pki, kiosk) if mode == "reuse" else None
        if kept is not None:
            kept.get(base_url + "/healthz", timeout=30)  # TLS handshake outside the measurement
        start_line.wait()
        mine: list[float] = []
        failed = 0
        for body in bodies:
            began = time.perf_counter()
            try:
                if kept is not None:
                    ok = post(kept, body)
                else:
                    with _session(pki, kiosk) as fresh:
                        ok = post(fresh, body)
            except requests.RequestException:
                ok = False
            mine.append((time.perf_counter() - began) * 1000)
            failed += not ok
        if kept is not None:
            kept.close()
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [threading.Thread(target=worker, args=(k, i)) for i, k in enumerate(kiosks)]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    sizes = [len(base64.b64decode(p)) / 1000 for p in photos]
    return RunResult(
        backend="",
        kiosks=len(kiosks),
        applications=len(latencies) - errors,
        errors=errors,
        seconds=elapsed,
        latencies_ms=latencies,
        photo_kb=statistics.mean(sizes),
        mode=mode,
    )


@contextmanager
def sqlite_url(workdir: Path) -> Iterator[str]:
    yield f"sqlite:///{workdir / 'bench.db'}"


@contextmanager
def postgres_url(explicit: str | None) -> Iterator[str]:
    if explicit:
        yield explicit
        return
    try:
        from tests.server.pgcluster import start_cluster
    except ImportError as exc:  # run from the repository root, or pass --pg-url
        raise SystemExit("run from the repository root (python -m benchmarks.server_bench) or give --pg-url") from exc
    cluster = start_cluster()
    try:
        yield cluster.create_database("bench")
    finally:
        cluster.stop()


def markdown(results: list[RunResult], per_kiosk: int) -> str:
    lines = [
        "| backend | workers | mode | kiosks | applications | errors | apps/s | p50 ms | p99 ms "
        "| server CPU/app | photo checks after the load |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        checks = f"{r.checks_seconds:.1f} s" + (f" ({r.checks_left} left)" if r.checks_left else "")
        lines.append(
            f"| {r.backend} | {r.workers} | {r.mode} | {r.kiosks} | {r.applications} | {r.errors} | "
            f"{r.per_second:.1f} | {r.percentile(0.50):.1f} | {r.percentile(0.99):.1f} | "
            f"{r.cpu_ms_per_application:.1f} ms | {checks} |"
        )
    cpu = os.cpu_count()
    photo = statistics.mean(r.photo_kb for r in results) if results else 0
    lines.append("")
    lines.append(
        f"{per_kiosk} applications per kiosk, photos {photo:.0f} KB on average; server = `kiosk server serve "
        f"--workers N` (HTTPS + mTLS), clients in another process on the same machine; {cpu} CPUs; "
        f"Python {sys.version.split()[0]}. mode: reuse = keep-alive session per kiosk, new = new TLS "
        "connection per application."
    )
    return "\n".join(lines)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--kiosks", default="1,16", help="comma-separated numbers of concurrent kiosks")
    parser.add_argument("--per-kiosk", type=int, default=50)
    parser.add_argument("--workers", default="1", help="comma-separated numbers of server worker processes")
    parser.add_argument("--modes", default="reuse", help="comma-separated: reuse (keep-alive), new (new connection)")
    parser.add_argument(
        "--new-connection", action="store_true", help="same as --modes new (a new TLS connection per application)"
    )
    parser.add_argument("--checks-timeout", type=float, default=300, help="seconds to wait for the photo checks")
    parser.add_argument("--pg-url", help="use this PostgreSQL database instead of starting a throw-away cluster")
    parser.add_argument(
        "--quick", action="store_true", help="a tiny run for CI (SQLite, 2 kiosks x 5, both modes); exit 1 on error"
    )
    args = parser.parse_args(argv)
    if args.new_connection:
        args.modes = "new"
    if args.quick:
        args.backends, args.kiosks, args.per_kiosk, args.workers, args.modes = "sqlite", "2", 5, "1", "reuse,new"
        args.checks_timeout = min(args.checks_timeout, 60)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if unknown := [m for m in args.modes if m not in MODES]:
        parser.error(f"unknown mode(s) {unknown}; expected {list(MODES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    counts = [int(n) for n in args.kiosks.split(",")]
    worker_counts = [int(n) for n in args.workers.split(",")]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    print("making photos…", file=sys.stderr)
    photos = [base64.b64encode(p).decode("ascii") for p in photo_pool(2 if args.quick else 8)]
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as scratch:
        workdir = Path(scratch)
        pki = create_demo_pki(workdir / "pki", [f"bench-{i:02d}" for i in range(max(counts))])
        for backend in backends:
            if backend == "sqlite":
                context = sqlite_url(workdir)
            elif backend == "postgresql":
                context = postgres_url(args.pg_url)
            else:
                raise SystemExit(f"unknown backend {backend!r}")
            with context as url:
                for workers in worker_counts:
                    with running_server(url, pki, workdir, workers) as server:
                        for mode in args.modes:
                            for count in counts:
                                print(f"{backend}, {workers} worker(s), {mode}: {count} kiosk(s) × {args.per_kiosk}…",
                                      file=sys.stderr)
                                cpu_before = process_tree_cpu(server.pid)
                                result = run_load(
                                    server.base_url, pki, list(pki.kiosks)[:count], args.per_kiosk, photos, mode=mode
                                )
                                result.server_cpu_seconds = process_tree_cpu(server.pid) - cpu_before
                                # the next run starts when the photo checks of this one are done
                                result.checks_seconds, result.checks_left = wait_for_checks(url, args.checks_timeout)
                                result.backend, result.workers = backend, workers
                                results.append(result)
    print(markdown(results, args.per_kiosk))
    return 1 if any(r.errors or r.checks_left for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
