"""Kiosk responsiveness: cold start to the attract screen, UI frame gaps, tap (PIN OK) to verdict.

    .venv/bin/python -m benchmarks.ui_bench [--runs 3]

Cold start and frame gaps come from running the real app offscreen in a child process
(``tests/ui/frame_probe.py``: one card check by touch with the real-card delay preset) on Kivy's mock GL
backend — this machine has no GPU, and Mesa's software rasteriser would measure itself. Tap to verdict is
measured on the card worker's work with the real-card delays (card-protocol.md §7) slept for real: after
the prefetch (the auth certificate read and chain-checked while the resident typed) and without it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.trust import TrustStore
from drivers.mynumber.verifier import CardVerifier, RevocationAnswer
from drivers.sim import pki
from drivers.sim.card import SimulatedCard
from drivers.sim.faults import REAL_CARD, FaultPlan, FaultyCard
from drivers.sim.profile import load_card_image, load_profile
from drivers.sim.transport import SimTransport

REPO = Path(__file__).resolve().parent.parent
ADULT = REPO / "config" / "cards" / "adult.toml"


class Good:
    def check(self, certificate: object) -> RevocationAnswer:
        return RevocationAnswer("good")


def frame_probe() -> dict:
    env = dict(os.environ, KIVY_GL_BACKEND="mock", SDL_VIDEODRIVER="offscreen")
    result = subprocess.run([sys.executable, "-m", "tests.ui.frame_probe", "--delay", "real-card"], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def tap_to_verdict(store: TrustStore, prefetch: bool) -> float:
    image = load_card_image(ADULT)
    card = FaultyCard(SimulatedCard(image), FaultPlan(delay=REAL_CARD))
    verifier = CardVerifier(MyNumberCard(SimTransport(card)), store, revocation=Good())
    if prefetch:
        verifier.prefetch()  # happens while the resident types the PIN
    began = time.perf_counter()
    verdict = verifier.verify(load_profile(ADULT).pins.auth)
    elapsed = time.perf_counter() - began
    if not verdict.verified:
        raise SystemExit(f"the benchmark card did not verify: {verdict}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-trust-"))
    pki.write_trust_store(folder)
    store = TrustStore.from_directory(folder)
    probes = [frame_probe() for _ in range(args.runs)]
    with_prefetch = [tap_to_verdict(store, True) for _ in range(args.runs)]
    without = [tap_to_verdict(store, False) for _ in range(args.runs)]
    print("| measure | median of runs | runs |")
    print("|---|---:|---:|")
    first = statistics.median(p["seconds_to_first_frame"] for p in probes)
    print(f"| cold start to the attract screen (first frame) | {first:.2f} s | {args.runs} |")
    longest = statistics.median(p["longest_frame_interval"] for p in probes)
    print(f"| longest UI frame gap during a card check (real-card delays) | {longest * 1000:.0f} ms | {args.runs} |")
    print(f"| PIN OK to verdict, with prefetch | {statistics.median(with_prefetch):.2f} s | {args.runs} |")
    print(f"| PIN OK to verdict, without prefetch | {statistics.median(without):.2f} s | {args.runs} |")


if __name__ == "__main__":
    main()
