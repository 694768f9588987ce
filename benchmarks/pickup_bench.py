"""The counter's card work and its audit trail: what a pickup costs at the card and on the kiosk.

    .venv/bin/python -m benchmarks.pickup_bench [--iterations N]

Card operations run on the simulated new card (config/cards/new-card.toml) through the real driver; every
exchange is recorded and priced with the real-card delay model of card-protocol.md §7
(``drivers.sim.faults.REAL_CARD``), so bytes move the modeled clock as much as APDUs. Host time is the
wall time of the operation in process (it includes the simulator's own work, e.g. hashing the new PINs and
its RSA signature, so it is an upper bound of the driver's overhead). The audit figures are the kiosk's
local chain on this machine's temporary disk. Prints Markdown for the README.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.card_bench import Recorder, modeled_seconds
from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.issuance import InitialPins
from drivers.mynumber.verifier import CardVerifier
from drivers.sim.card import SimulatedCard
from drivers.sim.profile import load_card_image
from drivers.sim.transport import SimTransport

REPO = Path(__file__).resolve().parent.parent
NEW_CARD = REPO / "config" / "cards" / "new-card.toml"


class _Opened:
    def __init__(self, card: MyNumberCard, verifier: CardVerifier) -> None:
        self.card, self.verifier = card, verifier


class _Good:
    """Revocation answered "good" at once: the server round trip is not card time."""

    def check(self, certificate: object) -> object:
        from drivers.mynumber.verifier import RevocationAnswer

        return RevocationAnswer("good")


def _card(trust: object) -> tuple[_Opened, Recorder]:
    recorder = Recorder(SimTransport(SimulatedCard(load_card_image(NEW_CARD))))
    card = MyNumberCard(recorder)
    return _Opened(card, CardVerifier(card, trust, revocation=_Good())), recorder


def card_rows(iterations: int) -> list[str]:
    from drivers.mynumber.trust import TrustStore
    from drivers.sim import pki
    from kiosk.core.flows.pickup.operations import IssuePins, ReadNewCard

    folder = Path(tempfile.mkdtemp())
    pki.write_trust_store(folder)
    trust = TrustStore.from_directory(folder)
    rows = []
    for name in ("first look, no PIN (ReadNewCard)", "set 4 PINs + verify with them + face photo (IssuePins)"):
        hosts, result = [], None
        for _ in range(iterations):
            opened, recorder = _card(trust)
            if name.startswith("set"):
                ReadNewCard().run(opened)
                recorder.exchanges.clear()
                pins = InitialPins(auth=bytearray(b"1357"), card_info=bytearray(b"2468"),
                                   juki=bytearray(b"9753"), sign=bytearray(b"KIOSK2026"))
                operation: object = IssuePins(pins)
            else:
                operation = ReadNewCard()
            started = time.perf_counter()
            result = operation.run(opened)  # type: ignore[attr-defined]
            hosts.append(time.perf_counter() - started)
        exchanges = recorder.exchanges
        sent = sum(len(c) + len(r) for c, r in exchanges)
        ok = getattr(result, "verified", True)
        rows.append(f"| {name} | {len(exchanges)} | {sent} | {statistics.median(hosts) * 1000:.1f} ms | "
                    f"{modeled_seconds(exchanges):.2f} s | {'verified' if ok else 'NOT verified'} |")
    return rows


def audit_rows(count: int) -> list[str]:
    from contract.audit import verify_chain
    from kiosk.services.audit_log import AuditLog

    folder = Path(tempfile.mkdtemp())
    log = AuditLog(folder / "audit.sqlite3", kiosk_id="bench-kiosk")
    times = []
    try:
        for i in range(count):
            started = time.perf_counter()
            log.append("bench-clerk", "clerk", "pickup.checks", "ok", None, {"step": i % 1000})
            times.append(time.perf_counter() - started)
        entries = list(log.entries())
    finally:
        log.close()
    started = time.perf_counter()
    verify_chain(entries)
    verify_ms = (time.perf_counter() - started) * 1000
    times.sort()
    p = [times[int(q * (len(times) - 1))] * 1000 for q in (0.5, 0.95, 0.99)]
    return [f"| audit append (fsync'd), {count} entries | p50 {p[0]:.2f} ms / p95 {p[1]:.2f} ms / p99 {p[2]:.2f} ms |",
            f"| audit chain verified, {count} entries | {verify_ms:.1f} ms |"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--audit-entries", type=int, default=500)
    args = parser.parse_args()
    print("| pickup card step | APDUs | bytes | host | modeled real card | verdict |")
    print("|---|---:|---:|---:|---:|---|")
    for row in card_rows(args.iterations):
        print(row)
    print()
    print("| audit | |")
    print("|---|---:|")
    for row in audit_rows(args.audit_entries):
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
