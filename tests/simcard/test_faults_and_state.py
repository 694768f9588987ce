"""Fault injection, the channel's 61xx/6Cxx handling, the in-process transport, and persisted PIN state."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from drivers.apdu import CommandApdu
from drivers.channel import ApduChannel
from drivers.errors import CardRemoved
from drivers.sim.card import SimulatedCard
from drivers.sim.faults import REAL_CARD, CardPulled, FaultPlan, FaultyCard
from drivers.sim.state import CardStateFile
from drivers.sim.transport import SimTransport
from tests.simcard.conftest import CERT, JPKI_AID, build_image

SELECT_JPKI = CommandApdu(0x00, 0xA4, 0x04, 0x0C, JPKI_AID)
SELECT_AUTH_CERT = CommandApdu(0x00, 0xA4, 0x02, 0x0C, b"\x00\x0a")


def channel_for(card, **plan) -> tuple[ApduChannel, FaultyCard]:
    faulty = FaultyCard(card, FaultPlan(**plan))
    return ApduChannel(SimTransport(faulty)), faulty


def test_card_pulled_at_nth_apdu_gives_card_removed(card: SimulatedCard) -> None:
    channel, _ = channel_for(card, remove_at=3)
    assert channel.transceive(SELECT_JPKI).ok
    assert channel.transceive(SELECT_AUTH_CERT).ok
    with pytest.raises(CardRemoved):
        channel.transceive(CommandApdu(0x00, 0xB0, 0, 0, le=256))
    with pytest.raises(CardRemoved):  # and it stays removed
        channel.transceive(SELECT_JPKI)


def test_pulled_card_raises_card_pulled_to_its_server(card: SimulatedCard) -> None:
    faulty = FaultyCard(card, FaultPlan(remove_at=1))
    with pytest.raises(CardPulled):
        faulty.process(SELECT_JPKI.encode())


def test_61xx_answers_are_collected_with_get_response(card: SimulatedCard) -> None:
    channel, _ = channel_for(card, chain_61xx=True)
    channel.transceive(SELECT_JPKI)
    channel.transceive(SELECT_AUTH_CERT)
    response = channel.transceive(CommandApdu(0x00, 0xB0, 0, 0, le=256))
    assert response.ok and response.data == CERT[:256]
    assert channel.stats.apdus == 4  # READ answered 61 00, then one GET RESPONSE


def test_6cxx_answer_is_resent_with_the_right_le(card: SimulatedCard) -> None:
    channel, _ = channel_for(card, wrong_le_6cxx=True)
    channel.transceive(SELECT_JPKI)
    channel.transceive(SELECT_AUTH_CERT)
    response = channel.transceive(CommandApdu(0x00, 0xB0, 0x07, 0xF0, le=256))
    assert response.ok and response.data == b"\xff" * 16
    assert channel.stats.apdus == 4


def test_real_card_delay_model(card: SimulatedCard) -> None:
    slept: list[float] = []
    channel, faulty = channel_for(card, delay=REAL_CARD, sleep=slept.append)
    channel.transceive(SELECT_JPKI)
    channel.transceive(SELECT_AUTH_CERT)
    channel.transceive(CommandApdu(0x00, 0xB0, 0, 0, le=256))
    assert slept == pytest.approx([0.045, 0.045, 0.200])
    assert faulty.modeled_seconds == pytest.approx(0.29)


def test_corrupted_answers_differ_but_keep_the_status_word(card: SimulatedCard) -> None:
    channel, _ = channel_for(card, corrupt_at=frozenset({3}))
    channel.transceive(SELECT_JPKI)
    channel.transceive(SELECT_AUTH_CERT)
    response = channel.transceive(CommandApdu(0x00, 0xB0, 0, 0, le=256))
    assert response.ok and response.data != CERT[:256]


def test_reader_without_extended_apdus_refuses_them(card: SimulatedCard) -> None:
    channel = ApduChannel(SimTransport(card, extended=False))
    channel.transceive(SELECT_JPKI)
    channel.transceive(SELECT_AUTH_CERT)
    assert channel.transceive(CommandApdu(0x00, 0xB0, 0, 0, le=2048)).sw == 0x6700
    assert channel.transceive(CommandApdu(0x00, 0xB0, 0, 0, le=256)).ok


def test_trace_redacts_pins(card: SimulatedCard) -> None:
    lines: list[str] = []
    channel = ApduChannel(SimTransport(card), trace=lambda out, _in: lines.append(out))
    channel.transceive(SELECT_JPKI)
    channel.transceive(CommandApdu(0x00, 0xA4, 0x02, 0x0C, b"\x00\x18"))
    channel.transceive(CommandApdu(0x00, 0x20, 0x00, 0x80, b"1234"))
    assert "31 32 33 34" not in "\n".join(lines)
    assert lines[-1].startswith("00 20 00 80 04")


def test_pin_state_persists_across_card_instances(tmp_path, rsa_key: rsa.RSAPrivateKey) -> None:
    state = CardStateFile(tmp_path / "state.json")
    first = SimulatedCard(build_image(rsa_key), listener=state)
    channel = ApduChannel(SimTransport(first))
    channel.transceive(SELECT_JPKI)
    channel.transceive(CommandApdu(0x00, 0xA4, 0x02, 0x0C, b"\x00\x18"))
    channel.transceive(CommandApdu(0x00, 0x20, 0x00, 0x80, b"0000"))
    channel.transceive(CommandApdu(0x00, 0xA4, 0x02, 0x0C, b"\x00\x1b"))
    channel.transceive(CommandApdu(0x00, 0x20, 0x00, 0x80, b"TEST1234"))
    assert channel.transceive(CommandApdu(0x00, 0x24, 0x01, 0x80, b"NEWPASS9")).ok

    second = SimulatedCard(build_image(rsa_key), listener=state)
    state.restore(second)
    assert second.pin("jpki", 0x0018).remaining == 2
    channel = ApduChannel(SimTransport(second))
    channel.transceive(SELECT_JPKI)
    channel.transceive(CommandApdu(0x00, 0xA4, 0x02, 0x0C, b"\x00\x1b"))
    assert channel.transceive(CommandApdu(0x00, 0x20, 0x00, 0x80, b"TEST1234")).sw == 0x63C4
    assert channel.transceive(CommandApdu(0x00, 0x20, 0x00, 0x80, b"NEWPASS9")).ok
    # the changed password is never written in clear
    assert b"NEWPASS9" not in (tmp_path / "state.json").read_bytes()
