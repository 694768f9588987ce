"""How fast does a kiosk's outbox empty once the central server is back after an outage?

N applications with ~150 KB photos are queued while the server is away (each ``enqueue`` is timed: it is
what a resident waits for at the counter), then the server comes back and one flusher drains the queue
over loopback HTTPS with client certificates. Run against the test suite's fake server and, when it can
be imported, the reference server (``server/``). Prints a Markdown table for the README.

    .venv/bin/python benchmarks/outbox_drain.py [--items 200] [--quality 77] [--server fake|real|both]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from kiosk.services.central import CentralClient  # noqa: E402
from kiosk.services.outbox import Backoff, Flusher, Outbox, central_delivery  # noqa: E402
from tests.services import synthetic  # noqa: E402
from tests.services.certs import make_pki  # noqa: E402
from tests.services.fake_central import FakeCentral, wait_until  # noqa: E402
from tests.services.real_central import RealCentral, unavailable_reason  # noqa: E402


@dataclass
class Row:
    server: str
    items: int
    photo_kb: float
    enqueue_p50_ms: float
    enqueue_p95_ms: float
    enqueue_p99_ms: float
    outbox_mb: float
    drain_s: float

    @property
    def rate(self) -> float:
        return self.items / self.drain_s

    @property
    def mb_per_s(self) -> float:
        return self.items * self.photo_kb * 4 / 3 / 1024 / self.drain_s


def run(kind: str, items: int, quality: int) -> Row:
    with tempfile.TemporaryDirectory(prefix="outbox-bench-") as tmp:
        folder = Path(tmp)
        server: Any
        if kind == "fake":
            pki = make_pki(folder / "pki")
            server = FakeCentral(pki)
            tls = {"ca_bundle": pki.ca_cert, "client_cert": pki.client_cert, "client_key": pki.client_key}
        else:
            server = RealCentral(folder / "server")
            tls = server.client_options()
        applications = [synthetic.application(n, jpeg_quality=quality) for n in range(items)]
        outbox = Outbox(folder / "outbox.sqlite3", bytes(range(32)), backoff=Backoff(0.05, 0.5))
        latencies = []
        for application in applications:  # the outage: nothing is listening yet
            started = time.perf_counter()
            outbox.enqueue("application", application)
            latencies.append((time.perf_counter() - started) * 1000)
        size = sum(p.stat().st_size for p in folder.glob("outbox.sqlite3*")) / 1e6
        server.start()
        try:
            client = CentralClient(server.url, connect_timeout=5, read_timeout=30, **tls)
            started = time.perf_counter()
            with Flusher(outbox, central_delivery(client), poll_seconds=0.2):
                if not wait_until(lambda: outbox.status().depth == 0, timeout=600, step=0.01):
                    raise RuntimeError("the outbox did not drain within 10 minutes")
            drain = time.perf_counter() - started
            client.close()
            status = outbox.status()
            if status.dead or status.delivered != items:  # a refusal also empties the queue: not a delivery
                raise RuntimeError(f"{len(status.dead)} items refused, {status.delivered} of {items} delivered")
        finally:
            server.stop()
            outbox.close()
        latencies.sort()
        return Row(kind, items, len(synthetic.jpeg_photo(quality)) / 1024, statistics.median(latencies),
                   _quantile(latencies, 0.95), _quantile(latencies, 0.99), size, drain)


def _quantile(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted samples (nearest rank)."""
    return ordered[max(0, min(len(ordered) - 1, int(len(ordered) * q + 0.5) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--quality", type=int, default=77, help="JPEG quality; 77 gives ~150 KB photos")
    parser.add_argument("--server", choices=("fake", "real", "both"), default="both")
    args = parser.parse_args()
    kinds = ["fake", "real"] if args.server == "both" else [args.server]
    if "real" in kinds and unavailable_reason():
        print(f"skipping the reference server: {unavailable_reason()}", file=sys.stderr)
        kinds.remove("real")
    rows = [run(kind, args.items, args.quality) for kind in kinds]
    print("| server | items | photo | enqueue p50 | enqueue p95 | enqueue p99 | outbox on disk | drain | rate | "
          "payload |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r.server} | {r.items} | {r.photo_kb:.0f} KB | {r.enqueue_p50_ms:.1f} ms | "
              f"{r.enqueue_p95_ms:.1f} ms | {r.enqueue_p99_ms:.1f} ms | {r.outbox_mb:.1f} MB | {r.drain_s:.1f} s | "
              f"{r.rate:.1f} items/s | "
              f"{r.mb_per_s:.1f} MB/s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
