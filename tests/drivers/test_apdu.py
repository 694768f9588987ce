"""Command/response APDU encoding: every ISO case, both length forms, and PIN redaction."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.apdu import CommandApdu, ResponseApdu
from drivers.errors import ProtocolError

JPKI_AID = bytes.fromhex("D392F000260100000001")


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (CommandApdu(0x00, 0xA4, 0x04, 0x0C, JPKI_AID), "00A4040C0AD392F000260100000001"),
        (CommandApdu(0x00, 0xA4, 0x02, 0x0C, b"\x00\x0a"), "00A4020C02000A"),
        (CommandApdu(0x00, 0x20, 0x00, 0x80), "00200080"),
        (CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256), "00B0000000"),
        (CommandApdu(0x00, 0xB0, 0x01, 0x00, le=17), "00B0010011"),
        (CommandApdu(0x80, 0x2A, 0x00, 0x80, b"\x01\x02", le=256), "802A0080020102" + "00"),
        (CommandApdu(0x00, 0xB0, 0x00, 0x00, le=65536), "00B00000000000"),
        (CommandApdu(0x00, 0xB0, 0x00, 0x00, le=1583), "00B0000000062F"),
    ],
)
def test_encodings_match_card_protocol(command: CommandApdu, expected: str) -> None:
    assert command.encode().hex().upper() == expected
    assert CommandApdu.parse(bytes.fromhex(expected)) == command


def test_extended_with_data_and_le() -> None:
    command = CommandApdu(0x80, 0x2A, 0x00, 0x80, b"\xAA" * 300, le=256)
    raw = command.encode()
    assert raw[:7] == bytes.fromhex("802A008000012C")
    assert raw[-2:] == b"\x01\x00"
    assert CommandApdu.parse(raw) == command


def test_forced_extended_for_short_command() -> None:
    command = CommandApdu(0x00, 0xB0, 0x00, 0x00, le=256)
    assert command.encode(extended=True).hex().upper() == "00B00000000100"
    with pytest.raises(ValueError, match="short"):
        CommandApdu(0x00, 0xB0, 0, 0, le=300).encode(extended=False)


@given(
    cla=st.integers(0, 255), ins=st.integers(0, 255), p1=st.integers(0, 255), p2=st.integers(0, 255),
    data=st.binary(max_size=400), le=st.none() | st.integers(1, 65536), extended=st.booleans(),
)
def test_round_trip(cla, ins, p1, p2, data, le, extended) -> None:
    command = CommandApdu(cla, ins, p1, p2, data, le)
    use_extended = extended or command.needs_extended
    assert CommandApdu.parse(command.encode(use_extended)) == command


@pytest.mark.parametrize(
    "raw", ["00A4", "00A4040C05D392", "00B000000000", "00B000000000010203", "00A4040C0000"]
)
def test_malformed_commands_raise_protocol_error(raw: str) -> None:
    with pytest.raises(ProtocolError):
        CommandApdu.parse(bytes.fromhex(raw))


def test_pin_never_appears_in_trace() -> None:
    verify = CommandApdu(0x00, 0x20, 0x00, 0x80, b"1234")
    text = verify.redacted_hex()
    assert "31 32 33 34" not in text and "1234" not in text
    assert "4 bytes redacted" in text
    change = CommandApdu(0x00, 0x24, 0x01, 0x80, b"ABC123")
    assert "41 42 43" not in change.redacted_hex()
    # the retry query carries no PIN and is shown as is
    assert CommandApdu(0x00, 0x20, 0x00, 0x80).redacted_hex() == "00 20 00 80"


def test_response_parsing() -> None:
    response = ResponseApdu.from_bytes(b"\x01\x02\x63\xc2")
    assert response.data == b"\x01\x02" and response.sw == 0x63C2 and not response.ok
    with pytest.raises(ProtocolError):
        ResponseApdu.from_bytes(b"\x90")
