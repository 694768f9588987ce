"""Benchmark of the reference server: applications per second and latency, SQLite and PostgreSQL.

Run from the repository root::

    .venv/bin/python -m benchmarks.server_bench                  # SQLite and a throw-away PostgreSQL
    .venv/bin/python -m benchmarks.server_bench --backends sqlite --kiosks 1,4,16 --per-kiosk 100
    .venv/bin/python -m benchmarks.server_bench --pg-url postgresql://user:pw@host/db

What it measures: the server runs as its own process (``kiosk server serve`` over HTTPS with mTLS), exactly
as deployed; N kiosk threads in this process each hold a ``requests`` session with their own client
certificate and submit applications back to back — realistic bodies with 100–300 KB synthetic face photos
that pass every server rule (base64), a fresh application id and Idempotency-Key each. Reported:
applications/second over the whole run and p50/p99 latency per request. A Markdown table goes to stdout
(paste it into the README); the exit status is 1 when any request failed.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
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

from contract.photo import validate_photo
from server.pki_demo import DemoPki, create_demo_pki
from server.serve import free_port


def photo_pool() -> list[bytes]:
    """Eight synthetic face photos (``tests/support/faces.py``: drawn, no real person) of about 100-300 KB,
    1050 x 1350 px, each checked against every rule the server applies, face rules included — a photo the
    server refuses would measure the refusal path instead of the stored one."""
    from tests.support.faces import frame, portrait_head

    size = (1050, 1350)
    picture = Image.fromarray(frame(portrait_head(size), size=size))
    pool = []
    for quality in (80, 82, 84, 86, 88, 90, 91, 92):
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


@contextmanager
def running_server(db_url: str, pki: DemoPki, workdir: Path) -> Iterator[str]:
    """``kiosk server serve`` in a child process; yields the base URL; stopped (SIGTERM) afterwards."""
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
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _body(photo_b64: str) -> dict[str, object]:
    return {
        "application_id": "".join(secrets.choice("0123456789") for _ in range(23)),
        "photo_jpeg_base64": photo_b64,
        "contact": {"email": "bench@example.invalid"},
        "submitted_at": datetime.now(UTC).isoformat(),
    }


def run_load(base_url: str, pki: DemoPki, kiosks: list[str], per_kiosk: int, photos: list[str]) -> RunResult:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    start_line = threading.Barrier(len(kiosks) + 1)

    def worker(kiosk: str, seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)  # noqa: S311 - load pattern, not a secret
        session = _session(pki, kiosk)
        bodies = [_body(rng.choice(photos)) for _ in range(per_kiosk)]
        session.get(base_url + "/healthz", timeout=30)  # TLS handshake outside the measurement
        start_line.wait()
        mine: list[float] = []
        failed = 0
        for body in bodies:
            began = time.perf_counter()
            response = session.post(
                base_url + "/v1/applications", json=body, headers={"Idempotency-Key": str(uuid.uuid4())}, timeout=60
            )
            mine.append((time.perf_counter() - began) * 1000)
            if response.status_code != 201:
                failed += 1
        session.close()
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
        "| backend | kiosks | applications | errors | apps/s | p50 ms | p99 ms | photo (avg) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.kiosks} | {r.applications} | {r.errors} | {r.per_second:.1f} | "
            f"{r.percentile(0.50):.1f} | {r.percentile(0.99):.1f} | {r.photo_kb:.0f} KB |"
        )
    cpu = os.cpu_count()
    lines.append("")
    lines.append(
        f"{per_kiosk} applications per kiosk; server = `kiosk server serve` (one uvicorn process, HTTPS + mTLS), "
        f"clients in another process; {cpu} CPUs; Python {sys.version.split()[0]}."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--kiosks", default="1,8", help="comma-separated numbers of concurrent kiosks")
    parser.add_argument("--per-kiosk", type=int, default=50)
    parser.add_argument("--pg-url", help="use this PostgreSQL database instead of starting a throw-away cluster")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.kiosks.split(",")]
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    print("making photos…", file=sys.stderr)
    photos = [base64.b64encode(p).decode("ascii") for p in photo_pool()]
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
            with context as url, running_server(url, pki, workdir) as base_url:
                for count in counts:
                    print(f"{backend}: {count} kiosk(s) × {args.per_kiosk}…", file=sys.stderr)
                    result = run_load(base_url, pki, list(pki.kiosks)[:count], args.per_kiosk, photos)
                    result.backend = backend
                    results.append(result)
    print(markdown(results, args.per_kiosk))
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
