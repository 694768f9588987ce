"""The kiosk's card code and OpenSC side by side, through the same pcscd + vpcd, on the same simulated card
with real-card delays, in one run; and insertion → verdict against the physical floor.

    .venv/bin/python -m benchmarks.card_side_by_side [--runs N] [--quick]

What is measured, per operation and tool:
- at the card (``CardClock`` wraps the served card): APDUs, bytes both ways, and *card time* — the span from
  the first command to the last answer, which holds the card's modeled work (``REAL_CARD``: SELECT 45 ms,
  VERIFY 60 ms, READ 200 ms per 256 bytes, signature 700 ms) plus everything the host does between APDUs;
- at the host: the process's wall time (``kiosk card …`` is a Python process, OpenSC's tools are C; start-up
  is shown, not hidden, but the comparison the issue asks for is card time).

Insertion → verdict runs the kiosk's own ``CardService`` (the worker the UI uses) over ``drivers.pcsc``: the
card check's operations as the flow submits them when both PINs are given at once. Its floor is computed from
the card's content and the delay model (``floor_seconds``), so it moves if the card or the model does.
The benchmark needs root for pcscd (it starts it if none runs) and OpenSC (``apt-get install opensc``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from drivers import tlv
from drivers.mynumber import aids
from drivers.mynumber.surface import field_span
from drivers.sim.card import SimulatedCard
from drivers.sim.faults import REAL_CARD, DelayModel, FaultPlan, FaultyCard, IccWrapper
from drivers.sim.model import CardImage
from drivers.sim.profile import load_card_image, load_profile

REPO = Path(__file__).resolve().parent.parent
ADULT = REPO / "config" / "cards" / "adult.toml"
KIOSK = [str(Path(sys.executable).with_name("kiosk"))]


# --- the card's clock ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class Exchange:
    command: bytes
    response: bytes
    began: float
    ended: float


@dataclass(slots=True)
class CardLog:
    """What the card saw of one operation."""

    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def apdus(self) -> int:
        return len(self.exchanges)

    @property
    def bytes_moved(self) -> int:
        return sum(len(e.command) + len(e.response) for e in self.exchanges)

    @property
    def card_seconds(self) -> float:
        """First command in → last answer out: the card's time, host gaps between APDUs included."""
        if not self.exchanges:
            return 0.0
        return self.exchanges[-1].ended - self.exchanges[0].began

    @property
    def modeled_seconds(self) -> float:
        """The card's own work under the delay model (no host time at all)."""
        return sum(REAL_CARD.seconds_for(e.command, e.response) for e in self.exchanges)


class CardClock(IccWrapper):
    """A served card (``VirtualIcc`` shape) that sleeps the real-card delays and logs every exchange."""

    def __init__(self, card: SimulatedCard, delay: DelayModel = REAL_CARD) -> None:
        super().__init__(FaultyCard(card, FaultPlan(delay=delay)))
        self._lock = threading.Lock()
        self.log = CardLog()

    def process(self, command: bytes) -> bytes:
        began = time.perf_counter()
        response = self.card.process(command)
        with self._lock:
            self.log.exchanges.append(Exchange(command, response, began, time.perf_counter()))
        return response

    def take(self) -> CardLog:
        with self._lock:
            log, self.log = self.log, CardLog()
        return log


# --- the floor ----------------------------------------------------------------------------------------------


def _tlv_size(content: bytes) -> int:
    """The TLV's own length; 0 for an EF of padding (FF FF… — a TLV such as FF20 may start with FF)."""
    return 0 if content[:2] in (b"", b"\xff\xff", b"\x00\x00") else tlv.total_length(content)


def floor_seconds(image: CardImage, delay: DelayModel = REAL_CARD) -> float:
    """The least card time insertion → verdict can take with this card and delay model.

    What the verdict and its screen need, each counted once: SELECT of the four applications it touches
    (JPKI, card-info, card face, 住基); SELECT of each EF that is not read by short id; the retry query right
    before each VERIFY (kept by design) and one query for each PIN only shown (sign, 住基); the three
    VERIFYs (auth PIN, card-info PIN, PIN A for the card face); READ of exactly the content of the auth
    certificate, My Number, basic 4, EF 0003 and EF 0004, and of the card-face EF's offset header plus its
    expiry field (DF29); the SELECT of the auth key and one signature. Nothing else.
    """
    jpki, info = image.application("jpki"), image.application("card_info")
    surface = image.application("card_surface").efs[aids.EF_SURFACE_ENTRIES].content
    expiry_field, first_field = field_span(surface[:64], 0xDF29), field_span(surface[:64], 0xDF22)
    if expiry_field is None or first_field is None:
        raise ValueError("the benchmark card's card-face EF has no DF21 offsets")
    face_header = first_field[0]  # FF20 and DF21 with its offsets end where the first field begins
    read_bytes = (_tlv_size(jpki.efs[aids.EF_AUTH_CERT].content) + aids.MY_NUMBER_EF_SIZE
                  + _tlv_size(info.efs[aids.EF_BASIC4].content) + aids.INTEGRITY_EF_SIZE + aids.CV_CERT_EF_SIZE
                  + face_header + expiry_field[1])
    # 4 APs; auth cert, auth PIN, sign PIN, auth key, 住基 PIN, PIN A, card-face EFs
    selects = 4 + 7
    queries = 3 + 2  # before the three VERIFYs; sign and 住基 shown
    return (selects * delay.select + (queries + 3) * delay.verify + delay.sign
            + delay.read_per_256 * read_bytes / 256)


# --- running tools ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Measured:
    tool: str
    operation: str
    log: CardLog
    wall_seconds: float
    ok: bool
    note: str = ""


def _run_tool(command: list[str]) -> tuple[float, bool, str]:
    """Wall time, success, and the last line of stderr when it failed."""
    began = time.perf_counter()
    result = subprocess.run(command, capture_output=True, timeout=120, check=False)  # noqa: S603 - fixed argv
    wall = time.perf_counter() - began
    lines = result.stderr.decode(errors="replace").strip().splitlines()
    return wall, result.returncode == 0, "" if result.returncode == 0 or not lines else lines[-1]


PKCS11_MODULES = (Path("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"),
                  Path("/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so"),
                  Path("/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so"))


def tool_operations(reader: str, workdir: Path) -> dict[str, dict[str, list[str]]]:
    """The same data asked of the card by each tool: operation → tool → command. The PIN for signing is
    the synthetic test card's (never a real one): the kiosk reads it from an environment variable,
    pkcs11-tool only takes it on its command line."""
    data = workdir / "data.bin"
    data.write_bytes(b"side by side " * 10)
    module = next((str(m) for m in PKCS11_MODULES if m.exists()), str(PKCS11_MODULES[0]))
    pin = load_profile(ADULT).pins.auth
    return {
        "certificates (auth, auth CA, sign CA)": {
            "kiosk": [*KIOSK, "card", "certs", "--reader", reader, "--json"],
            "OpenSC": ["pkcs15-tool", "--reader", reader, "--list-certificates"],
        },
        "auth certificate (read, DER out)": {
            "kiosk": [*KIOSK, "card", "certs", "--reader", reader, "--only", "auth", "--json"],
            "OpenSC": ["pkcs15-tool", "--reader", reader, "--read-certificate", "01"],
        },
        "PIN counters (kiosk: 4 PINs, OpenSC: its 2)": {
            "kiosk": [*KIOSK, "card", "pins", "--reader", reader, "--json"],
            "OpenSC": ["pkcs15-tool", "--reader", reader, "--list-pins"],
        },
        "sign a SHA-256 hash with the auth key (PIN given)": {
            "kiosk": [*KIOSK, "card", "sign", "--reader", reader, "--key", "auth", "--in", str(data),
                      "--out", str(workdir / "kiosk.sig"), "--pin-env", "BENCH_AUTH_PIN", "--json"],
            "OpenSC": ["pkcs11-tool", "--module", module, "--slot-index", "0", "--login", "--pin", pin, "--sign",
                       "-m", "SHA256-RSA-PKCS", "--id", "01", "-i", str(data), "-o", str(workdir / "opensc.sig")],
        },
    }


def measure_tools(clock: CardClock, reader: str, runs: int) -> list[Measured]:
    rows: list[Measured] = []
    workdir = Path(tempfile.mkdtemp(prefix="bench-side-by-side-"))
    os.environ["BENCH_AUTH_PIN"] = load_profile(ADULT).pins.auth
    for operation, by_tool in tool_operations(reader, workdir).items():
        for tool, command in by_tool.items():
            if shutil.which(command[0]) is None and tool != "kiosk":
                rows.append(Measured(tool, operation, CardLog(), 0.0, False, f"{command[0]} not installed"))
                continue
            samples: list[tuple[float, CardLog, bool, str]] = []
            for _ in range(runs):
                clock.take()
                wall, ok, note = _run_tool(command)
                samples.append((wall, clock.take(), ok, note))
            samples.sort(key=lambda sample: sample[1].card_seconds)
            wall, log, ok, note = samples[len(samples) // 2]
            rows.append(Measured(tool, operation, log, wall, ok and all(s[2] for s in samples), note))
    return rows


# --- insertion → verdict through the kiosk's card service ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerdictTiming:
    """Where insertion → verdict goes: pcscd noticing the card (its reader polling, not ours), the kiosk
    reaching the card, the card session, and the kiosk after the last answer."""

    detection: float
    to_first_apdu: float
    card: float
    after_last_answer: float
    total: float


def insertion_to_verdict(server, clock: CardClock, reader: str) -> tuple[VerdictTiming, CardLog, bool]:
    """Insert the card, run the card check's operations (both PINs given at once) on the kiosk's
    ``CardService`` over pcscd, and time until the details are in; the card is removed after."""
    from drivers import pcsc
    from kiosk.core.events import CardFailed, CardInserted, CardResult
    from kiosk.core.flows.card_check.operations import Prefetch, ReadDetails, Recognise, VerifyWithPin
    from kiosk.services.card_service import CardService

    pins = load_profile(ADULT).pins
    events: list[object] = []
    arrived = threading.Condition()

    def post(event: object) -> None:
        with arrived:
            events.append(event)
            arrived.notify_all()

    def wait_for(predicate: Callable[[object], bool], timeout: float = 60.0) -> object:
        deadline = time.monotonic() + timeout
        with arrived:
            while True:
                for event in events:
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("the card service did not answer")
                arrived.wait(left)

    from drivers.mynumber.verifier import CHECK_REVOCATION, DEFAULT_REQUIRED, CardVerifier, VerifierConfig
    from drivers.pcsc.watcher import CardWatcher
    from kiosk.core.dispatch import MonotonicClock

    store = _trust_store()
    # Revocation is a question to the central server, not card time: not required here.
    settings = VerifierConfig(required=DEFAULT_REQUIRED - {CHECK_REVOCATION})
    service = CardService(pcsc.connect, post, verifier_factory=lambda card: CardVerifier(card, store, config=settings),
                          watcher=CardWatcher(), clock=MonotonicClock(), readers=(reader,))
    with service:
        clock.take()
        began = time.perf_counter()
        server.insert()
        inserted = wait_for(lambda e: isinstance(e, CardInserted))
        detected = time.perf_counter()
        insertion = inserted.insertion  # type: ignore[attr-defined]
        tickets = [service.submit(Recognise(), insertion=insertion), service.submit(Prefetch(), insertion=insertion),
                   service.submit(VerifyWithPin(bytearray(pins.auth.encode())), insertion=insertion),
                   service.submit(ReadDetails(bytearray(pins.card_info.encode())), insertion=insertion)]
        outcomes = [wait_for(lambda e, t=t: isinstance(e, CardResult | CardFailed) and e.ticket == t)
                    for t in tickets]
        done = time.perf_counter()
        log = clock.take()
        timing = VerdictTiming(detected - began, log.exchanges[0].began - detected if log.exchanges else 0.0,
                               log.card_seconds, done - log.exchanges[-1].ended if log.exchanges else 0.0,
                               done - began)
        ok = all(isinstance(o, CardResult) for o in outcomes) and outcomes[2].result.verified  # type: ignore[attr-defined]
        for outcome in outcomes:
            value = getattr(outcome, "result", None)
            if hasattr(value, "wipe"):
                value.wipe()
        server.remove()
    return timing, log, ok


def _trust_store():
    from drivers.mynumber.trust import TrustStore
    from drivers.sim import pki

    folder = Path(tempfile.mkdtemp(prefix="bench-trust-"))
    pki.write_trust_store(folder)
    return TrustStore.from_directory(folder)


# --- pcscd ---------------------------------------------------------------------------------------------------


@contextmanager
def served(clock: CardClock) -> Iterator[tuple[object, str]]:
    from drivers import pcsc
    from drivers.sim.vpicc import VpiccServer
    from kiosk.services import pcscd

    started = pcscd.ensure_running(ready=pcsc.list_readers, want_vpcd=True)
    try:
        with VpiccServer(clock, port=pcscd.vpcd_port(0)) as server:
            reader = sorted(n for n in pcsc.list_readers() if n.startswith(pcscd.VPCD_READER_PREFIX))[0]
            yield server, reader
    finally:
        if started:
            pcscd.stop()


def _wait_present(reader: str, present: bool, timeout: float = 10.0) -> None:
    from drivers import pcsc

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(s.name == reader and s.card_present == present for s in pcsc.reader_states()):
            return
        time.sleep(0.05)
    raise TimeoutError(f"reader {reader!r} never showed the card {'in' if present else 'out'}")


# --- report --------------------------------------------------------------------------------------------------


def markdown(rows: list[Measured], verdict: tuple[float, CardLog, bool], floor: float) -> str:
    lines = ["| operation | tool | APDUs | bytes | card time | modeled card work | process wall | ok |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    for row in rows:
        lines.append(f"| {row.operation} | {row.tool} | {row.log.apdus} | {row.log.bytes_moved:,} | "
                     f"{row.log.card_seconds:.2f} s | {row.log.modeled_seconds:.2f} s | {row.wall_seconds:.2f} s | "
                     f"{'yes' if row.ok else 'NO ' + row.note} |")
    timing, log, ok = verdict

    def times_floor(seconds: float) -> str:
        return f" ({seconds / floor:.2f}× floor)" if floor > 0 else ""

    from_detection = timing.total - timing.detection
    lines += ["", "| insertion → verdict (kiosk CardService, auth + card-info PIN at once) | value |", "|---|---:|",
              f"| floor from the card's content and the delay model | {floor:.2f} s |",
              f"| card session: first APDU → last answer ({log.apdus} APDUs, {log.bytes_moved:,} bytes; "
              f"modeled card work {log.modeled_seconds:.2f} s) | {timing.card:.2f} s{times_floor(timing.card)} |",
              f"| card reported by pcscd → verdict and details in hand | {from_detection:.2f} s"
              f"{times_floor(from_detection)} |",
              f"| of which: reaching the card / after the last answer | {timing.to_first_apdu * 1000:.0f} ms / "
              f"{timing.after_last_answer * 1000:.0f} ms |",
              f"| card put in (vpcd) → reported by pcscd (pcscd's reader polling) | {timing.detection:.2f} s |",
              f"| verdict verified | {'yes' if ok else 'NO'} |"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per tool and operation (median by card time)")
    parser.add_argument("--quick", action="store_true", help="one run, no real-card delays (for CI: it cannot rot)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else args.runs
    image = load_card_image(ADULT)
    clock = CardClock(SimulatedCard(image), DelayModel() if args.quick else REAL_CARD)
    with served(clock) as (server, reader):
        server.insert()
        _wait_present(reader, True)
        rows = measure_tools(clock, reader, runs)
        server.remove()
        _wait_present(reader, False)
        verdict = insertion_to_verdict(server, clock, reader)
    floor = floor_seconds(image, DelayModel() if args.quick else REAL_CARD)
    if args.json:
        print(json.dumps({"rows": [{"tool": r.tool, "operation": r.operation, "apdus": r.log.apdus,
                                    "bytes": r.log.bytes_moved, "card_seconds": r.log.card_seconds,
                                    "wall_seconds": r.wall_seconds, "ok": r.ok} for r in rows],
                          "verdict": {"seconds": verdict[0].total, "card_seconds": verdict[1].card_seconds,
                                      "apdus": verdict[1].apdus, "verified": verdict[2], "floor": floor}}))
    else:
        print(markdown(rows, verdict, floor))
    failed = [r for r in rows if not r.ok] + ([] if verdict[2] else ["verdict"])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
