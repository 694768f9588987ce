"""A small hand-built card image: the engine is tested apart from the profile builder."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from drivers.sim.card import SimulatedCard
from drivers.sim.model import ApplicationSpec, CardImage, EfSpec, KeySpec, PinFormat, PinSpec

JPKI_AID = bytes.fromhex("D392F000260100000001")
TEXT_AID = bytes.fromhex("D3921000310001010408")
AUTH_PIN, SIGN_PIN, AUTH_KEY, SIGN_KEY = 0x0018, 0x001B, 0x0017, 0x001A
CERT = bytes.fromhex("3082062B") + bytes(range(256)) * 6 + bytes(range(43))  # 1583 bytes, like a real one


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def build_image(key: rsa.RSAPrivateKey, auth_remaining: int = 3) -> CardImage:
    jpki = ApplicationSpec(
        "jpki",
        JPKI_AID,
        efs={
            0x0006: EfSpec(0x0006, b"JPKIAPICCTOKEN2".ljust(32), 32),
            0x000A: EfSpec(0x000A, CERT, 2048),
            0x0001: EfSpec(0x0001, CERT, 2048, read_pins=(SIGN_PIN,)),
        },
        pins={
            AUTH_PIN: PinSpec(AUTH_PIN, b"1234", 3, auth_remaining, PinFormat.DIGITS4),
            SIGN_PIN: PinSpec(SIGN_PIN, b"TEST1234", 5, 5, PinFormat.SIGN),
        },
        keys={AUTH_KEY: KeySpec(AUTH_KEY, key, AUTH_PIN), SIGN_KEY: KeySpec(SIGN_KEY, key, SIGN_PIN)},
    )
    text = ApplicationSpec(
        "card_info",
        TEXT_AID,
        efs={0x0001: EfSpec(0x0001, b"\xff\x10\x0c123456789018", 17, read_pins=(0x0011,))},
        pins={0x0011: PinSpec(0x0011, b"5678", 3, 3, PinFormat.DIGITS4)},
        records={(1, 1): b"\x01\x10SERIAL-TEST-0001"},
    )
    return CardImage("engine-test", bytes.fromhex("3BE000FF8131FE4514"), "contact", [jpki, text])


@pytest.fixture
def card(rsa_key: rsa.RSAPrivateKey) -> SimulatedCard:
    simulated = SimulatedCard(build_image(rsa_key))
    simulated.power_on()
    return simulated


class Exchange:
    """Send hex, get hex back — keeps byte-exact tests readable."""

    def __init__(self, card: SimulatedCard) -> None:
        self.card = card

    def __call__(self, command_hex: str) -> str:
        return self.card.process(bytes.fromhex(command_hex.replace(" ", ""))).hex().upper()

    def sw(self, command_hex: str) -> str:
        return self(command_hex)[-4:]


@pytest.fixture
def x(card: SimulatedCard) -> Exchange:
    return Exchange(card)
