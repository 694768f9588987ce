"""The vpicc wire protocol, against a fake vpcd in this process (no pcscd needed).

The fake vpcd behaves like the real one where it matters: it listens, the card connects to it, it sends
length-prefixed frames and, like vpcd, writes the length and the payload in two ``send()`` calls without
TCP_NODELAY (the source of the 44 ms-per-APDU pitfall).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from drivers.sim import faults
from drivers.sim.vpicc import CardPulled, VpiccServer
from tests.pcsc.conftest import INS_FAIL, JPKI_ATR, FakeIcc, pattern, read_binary, select_jpki


class FakeVpcd:
    """The vpcd side of one reader: a listening socket on an ephemeral port."""

    def __init__(self, port: int = 0) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.conn: socket.socket | None = None

    def accept(self, timeout: float = 5.0) -> socket.socket:
        self.listener.settimeout(timeout)
        conn, _ = self.listener.accept()
        conn.settimeout(timeout)
        self.conn = conn
        return conn

    def send(self, payload: bytes, *, split: bool = False, two_writes: bool = False) -> None:
        assert self.conn is not None
        frame = len(payload).to_bytes(2, "big") + payload
        if split:  # worst case for the reader: one byte per segment
            for i in range(len(frame)):
                self.conn.sendall(frame[i : i + 1])
                time.sleep(0.001)
        elif two_writes:  # what vpcd does
            self.conn.sendall(frame[:2])
            self.conn.sendall(frame[2:])
        else:
            self.conn.sendall(frame)

    def recv_exactly(self, count: int) -> bytes | None:
        assert self.conn is not None
        data = b""
        while len(data) < count:
            chunk = self.conn.recv(count - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def recv_frame(self) -> bytes | None:
        header = self.recv_exactly(2)
        if header is None:
            return None
        return self.recv_exactly(int.from_bytes(header, "big"))

    def exchange(self, payload: bytes, **kwargs: bool) -> bytes | None:
        self.send(payload, **kwargs)
        return self.recv_frame()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.listener.close()


@pytest.fixture
def vpcd() -> Iterator[FakeVpcd]:
    fake = FakeVpcd()
    yield fake
    fake.close()


@pytest.fixture
def card() -> FakeIcc:
    return FakeIcc()


@pytest.fixture
def server(vpcd: FakeVpcd, card: FakeIcc) -> Iterator[VpiccServer]:
    srv = VpiccServer(card, port=vpcd.port)
    srv.insert(timeout=2)
    vpcd.accept()
    yield srv
    srv.remove()


def test_atr_request_is_answered_with_the_atr(vpcd: FakeVpcd, server: VpiccServer) -> None:
    assert server.inserted
    assert vpcd.exchange(b"\x04") == JPKI_ATR


def test_power_and_reset_control_bytes_reach_the_card_without_reply(
    vpcd: FakeVpcd, server: VpiccServer, card: FakeIcc
) -> None:
    for control in (b"\x01", b"\x00", b"\x01", b"\x02"):
        vpcd.send(control)
    # No reply to those: the next frame we get must be the answer to the ATR request.
    assert vpcd.exchange(b"\x04") == JPKI_ATR
    assert (card.power_ons, card.power_offs, card.resets) == (2, 1, 1)


def test_unknown_control_byte_is_ignored(vpcd: FakeVpcd, server: VpiccServer) -> None:
    vpcd.send(b"\x07")
    assert vpcd.exchange(b"\x04") == JPKI_ATR
    assert server.inserted


def test_apdus_are_answered_with_data_and_status_word(vpcd: FakeVpcd, server: VpiccServer) -> None:
    assert vpcd.exchange(select_jpki()) == b"\x90\x00"
    assert vpcd.exchange(read_binary(0, 0)) == pattern(0, 256) + b"\x90\x00"  # Le 00 = 256
    answer = vpcd.exchange(read_binary(0, 3000))  # extended Le: 3002-byte frame
    assert answer == pattern(0, 3000) + b"\x90\x00"
    assert server.apdu_count == 3


def test_short_reads_byte_by_byte_are_reassembled(vpcd: FakeVpcd, server: VpiccServer) -> None:
    assert vpcd.exchange(select_jpki(), split=True) == b"\x90\x00"
    assert vpcd.exchange(read_binary(0x10, 0x20), split=True) == pattern(0x10, 0x20) + b"\x90\x00"
    assert vpcd.exchange(b"\x04", split=True) == JPKI_ATR


def test_several_frames_in_one_segment_get_one_reply_each(vpcd: FakeVpcd, server: VpiccServer) -> None:
    assert vpcd.conn is not None
    frames = b"".join(len(p).to_bytes(2, "big") + p for p in (b"\x04", select_jpki(), b"\x02", b"\x04"))
    vpcd.conn.sendall(frames)
    assert [vpcd.recv_frame() for _ in range(3)] == [JPKI_ATR, b"\x90\x00", JPKI_ATR]


def test_a_failing_card_answers_6f00_and_the_log_holds_no_apdu_data(
    vpcd: FakeVpcd, server: VpiccServer, caplog: pytest.LogCaptureFixture
) -> None:
    secret = bytes.fromhex("31323334")  # shaped like a PIN in a VERIFY
    command = bytes((0x00, INS_FAIL, 0x00, 0x80, len(secret))) + secret
    with caplog.at_level(logging.DEBUG, logger="drivers.sim.vpicc"):
        assert vpcd.exchange(command) == b"\x6f\x00"
        assert vpcd.exchange(select_jpki()) == b"\x90\x00"  # the loop survived
    assert "RuntimeError" in caplog.text
    assert "INS EE" in caplog.text
    for leak in (command.hex(), secret.hex(), secret.hex().upper(), "1234", "fake failure"):
        assert leak not in caplog.text


def test_a_card_answer_without_status_word_becomes_6f00(vpcd: FakeVpcd) -> None:
    class Mute(FakeIcc):
        def process(self, command: bytes) -> bytes:
            return b"\x01"

    with VpiccServer(Mute(), port=vpcd.port):
        vpcd.accept()
        assert vpcd.exchange(select_jpki()) == b"\x6f\x00"


def test_card_pulled_closes_the_connection_without_reply(vpcd: FakeVpcd) -> None:
    card = FakeIcc(pull_after=2)
    server = VpiccServer(card, port=vpcd.port)
    server.insert(timeout=2)
    try:
        vpcd.accept()
        assert vpcd.exchange(select_jpki()) == b"\x90\x00"
        assert vpcd.exchange(read_binary(0, 16)) == pattern(0, 16) + b"\x90\x00"
        assert vpcd.exchange(read_binary(16, 16)) is None  # EOF instead of an answer
        assert server.wait_removed(2.0)
        assert not server.inserted
    finally:
        server.remove()


def test_the_fault_modules_card_pulled_is_the_same_class() -> None:
    """FaultyCard (drivers.sim.faults) and tests raise one exception class; the server catches both."""
    assert CardPulled is faults.CardPulled


def test_remove_closes_the_connection_and_joins_the_thread(vpcd: FakeVpcd, server: VpiccServer) -> None:
    server.remove()
    assert not server.inserted
    assert vpcd.recv_frame() is None
    assert not [t for t in threading.enumerate() if t.name == f"vpicc-{vpcd.port}"]
    server.remove()  # idempotent


def test_vpcd_dropping_the_connection_means_removed(vpcd: FakeVpcd, server: VpiccServer) -> None:
    assert vpcd.conn is not None
    vpcd.conn.close()
    assert server.wait_removed(2.0)


def test_reinsert_waits_out_the_gap_even_with_a_new_server_object(vpcd: FakeVpcd, card: FakeIcc) -> None:
    first = VpiccServer(card, port=vpcd.port)
    first.insert(timeout=2)
    vpcd.accept()
    first.remove()
    began = time.monotonic()
    second = VpiccServer(card, port=vpcd.port)  # a different object: the gap belongs to the reader
    second.insert(timeout=2)
    try:
        assert time.monotonic() - began >= 0.45
        vpcd.accept()
        assert vpcd.exchange(b"\x04") == JPKI_ATR
    finally:
        second.remove()


def test_insert_retries_until_vpcd_listens(card: FakeIcc) -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody listens on ``port`` now
    server = VpiccServer(card, port=port)
    inserter = threading.Thread(target=server.insert, kwargs={"timeout": 5})
    inserter.start()
    time.sleep(0.3)
    late = FakeVpcd(port)  # vpcd comes up late (pcscd starting)
    try:
        late.accept()
        inserter.join(5)
        assert server.inserted
        assert late.exchange(b"\x04") == JPKI_ATR
    finally:
        server.remove()
        late.close()


def test_insert_gives_a_clear_error_when_vpcd_never_listens(card: FakeIcc) -> None:
    probe = socket.create_server(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(ConnectionError, match=f"127.0.0.1:{port}.*pcscd"):
        VpiccServer(card, port=port).insert(timeout=0.3)


def test_serve_forever_reconnects_after_vpcd_drops_and_stops_cleanly(vpcd: FakeVpcd, card: FakeIcc) -> None:
    server = VpiccServer(card, port=vpcd.port)
    stop = threading.Event()
    runner = threading.Thread(target=server.serve_forever, args=(stop,))
    runner.start()
    try:
        conn = vpcd.accept()
        assert vpcd.exchange(b"\x04") == JPKI_ATR
        conn.close()  # pcscd restarted: vpcd dropped the card
        vpcd.accept(timeout=5)  # the card comes back by itself
        assert vpcd.exchange(b"\x04") == JPKI_ATR
    finally:
        stop.set()
        runner.join(5)
    assert not runner.is_alive()
    assert vpcd.recv_frame() is None  # stopping removed the card


def test_round_trip_is_not_delayed_by_nagle(vpcd: FakeVpcd, server: VpiccServer) -> None:
    """vpcd sends header and payload in two writes; without TCP_QUICKACK each APDU costs ~40 ms."""
    rounds = 40
    began = time.perf_counter()
    for _ in range(rounds):
        assert vpcd.exchange(read_binary(0, 16), two_writes=True) is not None
    per_apdu = (time.perf_counter() - began) / rounds
    assert per_apdu < 0.010, f"{per_apdu * 1000:.1f} ms per APDU"


def test_insert_and_remove_from_many_threads_is_safe(vpcd: FakeVpcd, card: FakeIcc) -> None:
    server = VpiccServer(card, port=vpcd.port, reinsert_gap=0.0)
    acceptor_stop = threading.Event()

    def accept_all() -> None:
        vpcd.listener.settimeout(0.05)
        while not acceptor_stop.is_set():
            try:
                conn, _ = vpcd.listener.accept()
            except TimeoutError:
                continue
            conn.close()

    acceptor = threading.Thread(target=accept_all)
    acceptor.start()
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            for _ in range(10):
                server.insert(timeout=2)
                server.remove()
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=churn) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(20)
    server.remove()
    acceptor_stop.set()
    acceptor.join(5)
    assert errors == []
    assert not server.inserted
