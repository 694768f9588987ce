"""The real PC/SC path: pyscard → pcscd → vpcd → a card served from this process.

Needs pcscd and vsmartcard-vpcd (the session starts pcscd when it is not running, and stops it at the end
only in that case). Outside CI a missing stack skips these tests; under CI it fails them.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from drivers import errors
from drivers.pcsc import (
    CardWatcher,
    PcscTransport,
    ReaderState,
    connect,
    list_readers,
    reader_states,
    service_available,
)
from drivers.pcsc import watcher as ev
from drivers.sim.vpicc import VirtualIcc, VpiccServer
from kiosk.services import pcscd
from tests.pcsc.conftest import (
    JPKI_ATR,
    FakeIcc,
    ServedCard,
    pattern,
    read_binary,
    select_jpki,
    wait_for_card,
)
from tests.support.pcscd import PcscdSession

if TYPE_CHECKING:
    from drivers.sim.model import CardImage

pytestmark = pytest.mark.pcsc


def read_all(transport: PcscTransport, size: int, chunk: int = 256) -> bytes:
    data = b""
    while len(data) < size:
        answer = transport.transmit(read_binary(len(data), min(chunk, size - len(data))))
        assert answer[-2:] == b"\x90\x00", answer[-2:].hex()
        data += answer[:-2]
    return data


def next_event(events: queue.Queue[ev.WatchEvent], kind: type, timeout: float = 5.0) -> ev.WatchEvent:
    """The next event of type ``kind``; fails on timeout. Other events on the way are skipped."""
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {kind.__name__} within {timeout} s; saw {seen}")
        try:
            event = events.get(timeout=remaining)
        except queue.Empty:
            continue
        if isinstance(event, kind):
            return event
        seen.append(event)


@pytest.fixture
def watcher() -> Iterator[CardWatcher]:
    with CardWatcher(poll_timeout=0.2) as started:
        yield started


def drain_startup(events: queue.Queue[ev.WatchEvent], readers: list[str]) -> None:
    """Consume the start-up ReaderAdded events (one per reader); leaves the queue empty."""
    missing = set(readers)
    while missing:
        missing.discard(next_event(events, ev.ReaderAdded).name)  # type: ignore[attr-defined]
    time.sleep(0.1)
    while not events.empty():
        events.get_nowait()


def test_the_vpcd_readers_are_listed(vpcd_readers: list[str]) -> None:
    assert vpcd_readers == sorted(n for n in list_readers() if n.startswith("Virtual PCD"))
    assert service_available()


def test_pcscd_management_sees_the_running_daemon(pcscd_session: PcscdSession) -> None:
    assert pcscd.is_running()
    pid = pcscd.read_pid()
    assert pid is not None and pcscd.running_pid() == pid
    assert pcscd.vpcd_configured()
    assert (pcscd.vpcd_port(0), pcscd.vpcd_port(1)) == (0x8C7B, 0x8C7C)  # Debian's CHANNELID


def test_pid_file_and_vpcd_config_parsing(tmp_path: Path) -> None:
    pid_file = tmp_path / "pcscd.pid"
    pid_file.write_bytes(b"4755\n\x00")  # what pcscd really writes
    assert pcscd.read_pid(pid_file) == 4755
    assert pcscd.read_pid(tmp_path / "missing") is None
    conf = tmp_path / "vpcd"
    conf.write_text('FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:0x9000\nCHANNELID   0x9000\n')
    assert (pcscd.vpcd_port(0, conf), pcscd.vpcd_port(1, conf)) == (0x9000, 0x9001)
    assert pcscd.vpcd_port(1, tmp_path / "absent") == 35964
    assert not pcscd.vpcd_configured(tmp_path / "absent")


def test_select_and_a_long_read_binary_through_pcscd(
    served_card: ServedCard, vpcd_readers: list[str]
) -> None:
    card = FakeIcc(ef_size=3000)
    with served_card(card, 0), connect(vpcd_readers[0]) as transport:
        assert transport.atr == JPKI_ATR
        assert transport.reader_name == vpcd_readers[0]
        assert transport.protocol == "T=1"
        assert transport.transmit(select_jpki()) == b"\x90\x00"
        assert transport.transmit(bytes.fromhex("00A4040C03A00000")) == b"\x6a\x82"
        assert read_all(transport, 3000) == pattern(0, 3000)  # 12 chunked READ BINARYs
        extended = transport.transmit(read_binary(0, 3000))  # one extended-length READ BINARY
        assert extended == pattern(0, 3000) + b"\x90\x00"
        tail = transport.transmit(read_binary(2900, 200))  # past the end: short answer + 62 82
        assert tail == pattern(2900, 100) + b"\x62\x82"


def test_connect_without_a_reader_name_finds_the_card(
    served_card: ServedCard, vpcd_readers: list[str]
) -> None:
    with served_card(FakeIcc(), 1):
        states = {s.name: s for s in reader_states()}
        assert states[vpcd_readers[0]] == ReaderState(vpcd_readers[0], False, None)
        assert states[vpcd_readers[1]] == ReaderState(vpcd_readers[1], True, JPKI_ATR)
        with connect() as transport:
            assert transport.reader_name == vpcd_readers[1]


def test_connect_to_an_empty_reader_is_no_card(vpcd_readers: list[str]) -> None:
    wait_for_card(vpcd_readers[0], present=False)
    with pytest.raises(errors.NoCard, match="no card in the reader"):
        connect(vpcd_readers[0])


def test_connect_to_an_unknown_reader_is_no_reader(pcscd_session: PcscdSession) -> None:
    with pytest.raises(errors.NoReader, match="not known"):
        connect("No Such Reader 00 00")


def test_vpicc_control_bytes_through_pcscd(served_card: ServedCard, vpcd_readers: list[str]) -> None:
    """pcscd powers the card, polls its ATR, resets and power-cycles it through vpcd's control bytes."""
    card = FakeIcc()
    with served_card(card, 0):
        assert card.power_ons >= 1 and card.atr_requests >= 1
        time.sleep(0.9)  # vpcd asks for the ATR every ~400 ms to see whether the card is still there
        polled = card.atr_requests
        assert polled >= 2
        transport = connect(vpcd_readers[0])
        assert transport.transmit(select_jpki()) == b"\x90\x00" and card.ap_selected
        resets = card.resets
        assert transport.reset() == JPKI_ATR
        assert card.resets == resets + 1 and not card.ap_selected
        ons, offs = card.power_ons, card.power_offs
        assert transport.reset(unpower=True) == JPKI_ATR
        assert (card.power_ons, card.power_offs) == (ons + 1, offs + 1)
        assert transport.transmit(select_jpki()) == b"\x90\x00"
        resets = card.resets
        transport.close()  # disconnect resets the card: no verified PIN survives the session
        assert card.resets == resets + 1 and not card.ap_selected
        transport.close()


def test_a_card_pulled_mid_read_is_card_removed(
    served_card: ServedCard, vpcd_readers: list[str], watcher: CardWatcher
) -> None:
    drain_startup(watcher.events, vpcd_readers)
    card = FakeIcc(pull_after=4)  # SELECT + 3 READs answered, the 4th READ never is
    with served_card(card, 0) as server:
        next_event(watcher.events, ev.CardInserted)
        with connect(vpcd_readers[0]) as transport:
            assert transport.transmit(select_jpki()) == b"\x90\x00"
            with pytest.raises(errors.CardRemoved) as caught:
                read_all(transport, 3000)
            assert "card" in str(caught.value) and "insert the card again" in str(caught.value)
            assert server.wait_removed(2.0)
            removed = next_event(watcher.events, ev.CardRemoved)
            assert removed == ev.CardRemoved(vpcd_readers[0])
            with pytest.raises(errors.CardRemoved):  # stays typed on the next try too
                transport.transmit(select_jpki())
    assert card.apdus == 5


def test_the_watcher_sees_insert_and_remove(
    served_card: ServedCard, vpcd_readers: list[str], watcher: CardWatcher
) -> None:
    drain_startup(watcher.events, vpcd_readers)
    for index in (0, 1):
        with served_card(FakeIcc(), index, wait_present=False):
            inserted = next_event(watcher.events, ev.CardInserted, timeout=3)
            assert inserted == ev.CardInserted(vpcd_readers[index], JPKI_ATR)
        removed = next_event(watcher.events, ev.CardRemoved, timeout=3)
        assert removed == ev.CardRemoved(vpcd_readers[index])
    time.sleep(0.3)
    assert watcher.events.empty()  # no duplicates, no noise from vpcd's ATR polling


def test_the_watcher_reports_cards_already_inserted_at_start(
    served_card: ServedCard, vpcd_readers: list[str]
) -> None:
    with served_card(FakeIcc(), 1), CardWatcher() as watcher:
        events = [watcher.events.get(timeout=3) for _ in range(3)]
        assert events == [
            ev.ReaderAdded(vpcd_readers[0]),
            ev.ReaderAdded(vpcd_readers[1]),
            ev.CardInserted(vpcd_readers[1], JPKI_ATR),
        ]
        watcher.stop()
        watcher.stop()  # idempotent
    assert not watcher.running


def test_pcscd_stopped_is_service_unavailable_and_everything_recovers(
    pcscd_session: PcscdSession, vpcd_readers: list[str]
) -> None:
    if not pcscd_session.may_restart:
        pytest.skip("pcscd was already running before the tests (not ours to restart); CI always runs this")
    card = FakeIcc()
    server = VpiccServer(card, port=pcscd.vpcd_port(0))
    stop_serving = threading.Event()
    serving = threading.Thread(target=server.serve_forever, args=(stop_serving,), name="vpicc-forever")
    serving.start()
    watcher = CardWatcher(poll_timeout=0.2)
    try:
        wait_for_card(vpcd_readers[0], present=True)
        watcher.start()
        drain_startup(watcher.events, vpcd_readers)
        transport = connect(vpcd_readers[0])
        assert transport.transmit(select_jpki()) == b"\x90\x00"
        survivor = connect(vpcd_readers[0])  # kept open across the restart (shared mode: two handles)

        with pcscd_session.stopped():
            assert not pcscd.is_running()
            with pytest.raises(errors.ServiceUnavailable) as caught:
                transport.transmit(select_jpki())
            for call in (list_readers, reader_states, connect):
                with pytest.raises(errors.ServiceUnavailable) as caught:
                    call()
                message = str(caught.value)
                assert "pcscd" in message and "not running" in message and "start it" in message
            assert service_available() is False
            transport.close()  # must not raise with the daemon gone
            lost = next_event(watcher.events, ev.ServiceLost, timeout=3)
            assert "pcscd" in lost.message  # type: ignore[attr-defined]
            assert server.wait_removed(3.0)  # vpcd went away with pcscd
        back = time.monotonic()

        next_event(watcher.events, ev.ServiceRestored, timeout=5)
        next_event(watcher.events, ev.CardInserted, timeout=5)  # serve_forever re-inserted the card
        recovered = time.monotonic() - back
        with connect(vpcd_readers[0]) as again:
            assert again.transmit(select_jpki()) == b"\x90\x00"
        assert recovered < 5.0
        with pytest.raises(errors.ServiceUnavailable, match="was restarted"):  # old handle, new daemon
            survivor.transmit(select_jpki())
        survivor.close()
    finally:
        watcher.stop()
        stop_serving.set()
        serving.join(10)
        wait_for_card(vpcd_readers[0], present=False)
    assert not serving.is_alive()


# --- the product's simulated card through the same path ----------------------------------------------------


@pytest.fixture(scope="module")
def adult_image(repo_root: Path) -> CardImage:
    """The bundled adult profile's card image (built once: it generates RSA keys)."""
    try:
        from drivers.sim.profile import load_card_image
    except ImportError as exc:  # the simulated card is developed in parallel; keep this tier usable
        pytest.skip(f"drivers.sim.profile is not available: {exc}")
    return load_card_image(repo_root / "config" / "cards" / "adult.toml")


def _simulated_card(image: CardImage) -> VirtualIcc:
    from drivers.sim.card import SimulatedCard

    return SimulatedCard(image)


def _jpki_ef(image: CardImage, fid: int) -> bytes:
    jpki = next(app for app in image.applications if app.aid == bytes.fromhex("D392F000260100000001"))
    return jpki.efs[fid].content


def test_the_simulated_card_serves_its_auth_certificate_through_pcscd(
    served_card: ServedCard, vpcd_readers: list[str], adult_image: CardImage
) -> None:
    from cryptography import x509

    with served_card(_simulated_card(adult_image), 0), connect(vpcd_readers[0]) as transport:
        assert transport.atr == adult_image.atr
        assert transport.transmit(select_jpki()) == b"\x90\x00"
        assert transport.transmit(bytes.fromhex("00A4020C02000A")) == b"\x90\x00"
        head = transport.transmit(read_binary(0, 4))
        assert head[:2] == b"\x30\x82" and head[-2:] == b"\x90\x00"
        size = 4 + int.from_bytes(head[2:4], "big")
        der = read_all(transport, size)
    assert der == _jpki_ef(adult_image, 0x000A)[:size]
    certificate = x509.load_der_x509_certificate(der)
    assert certificate.public_key().key_size == 2048


def test_a_faulty_simulated_card_pulled_mid_read_is_card_removed(
    served_card: ServedCard, vpcd_readers: list[str], adult_image: CardImage
) -> None:
    """drivers.sim.faults raises the same CardPulled the server handles."""
    from drivers.sim.faults import FaultPlan, FaultyCard

    card = FaultyCard(_simulated_card(adult_image), FaultPlan(remove_at=4))
    with served_card(card, 1) as server, connect(vpcd_readers[1]) as transport:
        assert transport.transmit(select_jpki()) == b"\x90\x00"
        assert transport.transmit(bytes.fromhex("00A4020C02000A")) == b"\x90\x00"
        transport.transmit(read_binary(0, 256))
        with pytest.raises(errors.CardRemoved):
            transport.transmit(read_binary(256, 256))
        assert server.wait_removed(2.0)
