"""A kiosk's network worker in a process of its own, so that a test can ``kill -9`` it mid-flush.

Run as ``python tests/services/flusher_proc.py --db ... --key-file ... --url ... --ca ... --cert ...
--client-key ...``. Prints ``ready`` once the flusher runs; SIGTERM stops it cleanly. Nothing else.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from kiosk.services.at_rest import load_key_file  # noqa: E402
from kiosk.services.central import CentralClient  # noqa: E402
from kiosk.services.outbox import Backoff, Flusher, Outbox, central_delivery  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ("--db", "--key-file", "--url", "--ca", "--cert", "--client-key"):
        parser.add_argument(name, required=True)
    parser.add_argument("--lease", type=float, default=1.5)
    parser.add_argument("--read-timeout", type=float, default=2.0)
    args = parser.parse_args()
    outbox = Outbox(args.db, load_key_file(Path(args.key_file)), backoff=Backoff(0.05, 0.2),
                    lease_seconds=args.lease)
    client = CentralClient(args.url, ca_bundle=args.ca, client_cert=args.cert, client_key=args.client_key,
                           connect_timeout=1.0, read_timeout=args.read_timeout)
    flusher = Flusher(outbox, central_delivery(client), poll_seconds=0.1)
    signal.signal(signal.SIGTERM, lambda *_: flusher.stop())
    flusher.start()
    print("ready", flush=True)
    while not flusher.join(0.2):
        pass
    client.close()
    outbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
