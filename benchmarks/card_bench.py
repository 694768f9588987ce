"""Card driver benchmark: APDUs, bytes, host CPU, time through pcscd + vpcd, modeled real-card time.

    .venv/bin/python -m benchmarks.card_bench [--iterations N] [--no-pcsc]

Host CPU is measured by replaying recorded card answers (so the simulated card's own work, e.g. its RSA
signature, is not counted as driver overhead). The modeled real-card time applies the measured delays of
card-protocol.md §7 (drivers.sim.faults.REAL_CARD) to the recorded exchanges. pcscd is started if needed
(root), and the card is served through vpcd.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.verifier import CardVerifier
from drivers.sim.card import SimulatedCard
from drivers.sim.faults import REAL_CARD
from drivers.sim.profile import load_card_image, load_profile
from drivers.sim.transport import SimTransport
from drivers.transport import Transport

REPO = Path(__file__).resolve().parent.parent
ADULT = REPO / "config" / "cards" / "adult.toml"

# card-protocol.md §2.3 (auth cert L = 1583 bytes); "n/a" where the tool has no such operation.
OTHER_TOOLS = {
    "read auth certificate": "NFCPY 3, C3 ≈4, PYMYNA 6, PYJPKI ≥9, JPKI-RS/OSC/GEBO/MNB 10, MYNA-RS 12",
    "read sign certificate": "NFCPY 5, JPKI-RS/GEBO 4+⌈Ls/256⌉, MYNA-RS 5+⌈(Ls−7)/256⌉",
    "read card info": "JSAPDU 4, MYNA-RS ≈11 (two runs), PYJPKI 6 (no My Number), MNB 10",
    "full verify": "no tool does it (jpki/myna reads + chain-checks only)",
    "status of all PINs": "OSC 4 (2 PINs at bind); no tool reads all four",
}


class Recorder(Transport):
    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.exchanges: list[tuple[bytes, bytes]] = []

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    @property
    def reader_name(self) -> str:
        return self.inner.reader_name

    @property
    def supports_extended_apdus(self) -> bool | None:
        return self.inner.supports_extended_apdus

    def transmit(self, command: bytes) -> bytes:
        response = self.inner.transmit(command)
        self.exchanges.append((command, response))
        return response

    def close(self) -> None:
        self.inner.close()


class Replay(Transport):
    """Answers with recorded responses in order: the card costs nothing, only the driver runs."""

    def __init__(self, exchanges: list[tuple[bytes, bytes]], extended: bool) -> None:
        self._answers = [response for _, response in exchanges]
        self._index = 0
        self._extended = extended

    @property
    def atr(self) -> bytes:
        return bytes.fromhex("3BE000FF8131FE4514")

    @property
    def reader_name(self) -> str:
        return "replay"

    @property
    def supports_extended_apdus(self) -> bool | None:
        return self._extended

    def transmit(self, command: bytes) -> bytes:
        answer = self._answers[self._index]
        self._index += 1
        return answer

    def close(self) -> None:
        return None


def operations(store) -> dict[str, Callable[[MyNumberCard], object]]:
    resident = load_profile(ADULT)
    pins = resident.pins

    def full_verify(card: MyNumberCard) -> object:
        verifier = CardVerifier(card, store, nonce=lambda n: b"\x00" * n)
        verifier.prefetch()
        return verifier.verify(pins.auth, card_info_pin=pins.card_info)

    return {
        "read auth certificate": lambda card: card.jpki.read_auth_certificate(),
        "read sign certificate": lambda card: card.jpki.read_sign_certificate(pins.sign),
        "read card info": lambda card: card.card_info.read(pins.card_info, integrity=False),
        "full verify": full_verify,
        "status of all PINs": lambda card: card.pin_statuses(),
    }


def modeled_seconds(exchanges: list[tuple[bytes, bytes]]) -> float:
    return sum(REAL_CARD.seconds_for(command, response) for command, response in exchanges)


def host_cpu(operation, exchanges, extended: bool, iterations: int) -> float:
    samples = []
    for _ in range(iterations):
        card = MyNumberCard(Replay(exchanges, extended))
        began = time.process_time()
        operation(card)  # a replayed signature does not verify (new nonce): possession fails, CPU is the same
        samples.append(time.process_time() - began)
    return statistics.median(samples)


def through_pcsc(image, operation, iterations: int) -> float | None:
    try:
        from drivers import pcsc
        from drivers.sim.vpicc import VpiccServer
        from kiosk.services import pcscd
    except ImportError:
        return None
    started = pcscd.ensure_running(ready=pcsc.list_readers, want_vpcd=True)
    samples = []
    try:
        card = SimulatedCard(image)
        with VpiccServer(card, port=pcscd.vpcd_port(0)) as server:
            server.insert()
            deadline = time.monotonic() + 5
            while not any(s.card_present for s in pcsc.reader_states()) and time.monotonic() < deadline:
                time.sleep(0.05)
            reader = next(s.name for s in pcsc.reader_states() if s.card_present)
            for _ in range(iterations):
                with pcsc.connect(reader) as transport:
                    began = time.perf_counter()
                    operation(MyNumberCard(transport))
                    samples.append(time.perf_counter() - began)
    finally:
        if started:
            pcscd.stop()
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--no-pcsc", action="store_true")
    args = parser.parse_args()

    from drivers.mynumber.trust import TrustStore
    from drivers.sim import pki

    folder = Path(tempfile.mkdtemp(prefix="bench-trust-"))
    pki.write_trust_store(folder)
    store = TrustStore.from_directory(folder)
    image = load_card_image(ADULT)
    rows = []
    for name, operation in operations(store).items():
        for extended in (True, False):
            recorder = Recorder(SimTransport(SimulatedCard(image), extended=extended))
            card = MyNumberCard(recorder)
            operation(card)
            exchanges = recorder.exchanges
            apdus = len(exchanges)
            sent = sum(len(c) for c, _ in exchanges)
            received = sum(len(r) for _, r in exchanges)
            model = modeled_seconds(exchanges)
            cpu = host_cpu(operation, exchanges, extended, args.iterations)
            pcsc_time = None if args.no_pcsc or not extended else through_pcsc(image, operation, args.iterations)
            rows.append((name, "ext" if extended else "short", apdus, sent + received, cpu, pcsc_time, model))
    print("| operation | APDUs ext / short | bytes ext / short | host CPU | via pcscd+vpcd | modeled real card "
          "| overhead | other tools (APDUs, §2.3) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in operations(store):
        ext, short = (r for r in rows if r[0] == name)
        overhead = ext[4] / ext[6] * 100 if ext[6] else 0.0
        pcsc_text = f"{ext[5] * 1000:.1f} ms" if ext[5] is not None else "—"
        print(f"| {name} | {ext[2]} / {short[2]} | {ext[3]} / {short[3]} | {ext[4] * 1000:.2f} ms | {pcsc_text} "
              f"| {ext[6]:.2f} s | {overhead:.2f} % | {OTHER_TOOLS[name]} |")


if __name__ == "__main__":
    main()
