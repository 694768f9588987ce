"""The simulated card answers APDU for APDU as card-protocol.md documents (byte-exact)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from drivers.sim.card import CardBehaviour, SimulatedCard
from tests.simcard.conftest import CERT, Exchange, build_image

SELECT_JPKI = "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01"
SELECT_TEXT = "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08"
RETRY_QUERY = "00 20 00 80"


def test_select_application_and_ef(x: Exchange) -> None:
    assert x(SELECT_JPKI) == "9000"
    assert x("00 A4 02 0C 02 00 0A") == "9000"
    assert x("00 A4 02 0C 02 00 99") == "6A82"
    assert x("00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 99") == "6A82"
    # P1=09 (path from current DF) does not work on the card (OpenSC #801)
    assert x("00 A4 09 0C 02 00 0A") == "6A86"


def test_select_ef_before_any_application_is_not_found(x: Exchange) -> None:
    assert x("00 A4 02 0C 02 00 0A") == "6A82"


def test_token_and_padded_certificate_ef(x: Exchange) -> None:
    x(SELECT_JPKI)
    x("00 A4 02 0C 02 00 06")
    assert bytes.fromhex(x("00 B0 00 00 20")[:-4]) == b"JPKIAPICCTOKEN2" + b" " * 17
    x("00 A4 02 0C 02 00 0A")
    assert x("00 B0 00 00 04") == "3082062B9000"
    # Le=00 means 256 bytes
    assert len(bytes.fromhex(x("00 B0 00 00 00"))) == 256 + 2
    # the EF is larger than its content and padded with FF
    tail = bytes.fromhex(x("00 B0 06 2F 10"))
    assert tail == b"\xff" * 16 + b"\x90\x00"
    # one extended READ returns the whole EF (2048 bytes)
    whole = bytes.fromhex(x("00 B0 00 00 00 08 00"))
    assert whole[:1583] == CERT and whole[1583:-2] == b"\xff" * (2048 - 1583) and whole[-2:] == b"\x90\x00"
    # past the end: 6B 00; the last bytes come with 90 00 even when Le asks for more
    assert x("00 B0 08 00 01") == "6B00"
    assert len(bytes.fromhex(x("00 B0 07 F0 00"))) == 16 + 2


def test_read_without_le_is_wrong_length_and_without_ef_not_allowed(x: Exchange) -> None:
    x(SELECT_JPKI)
    assert x("00 B0 00 00") == "6986"
    x("00 A4 02 0C 02 00 0A")
    assert x("00 B0 00 00") == "6700"


def test_auth_pin_counter_down_to_blocked(x: Exchange) -> None:
    x(SELECT_JPKI)
    x("00 A4 02 0C 02 00 18")
    assert x(RETRY_QUERY) == "63C3"
    assert x("00 20 00 80 04 30 30 30 30") == "63C2"
    assert x("00 20 00 80 04 30 30 30 31") == "63C1"
    assert x(RETRY_QUERY) == "63C1"
    assert x("00 20 00 80 04 30 30 30 32") == "63C0"
    assert x(RETRY_QUERY) == "6984"
    # even the right PIN cannot unblock it
    assert x("00 20 00 80 04 31 32 33 34") == "6984"


def test_correct_pin_resets_the_counter(x: Exchange) -> None:
    x(SELECT_JPKI)
    x("00 A4 02 0C 02 00 18")
    assert x("00 20 00 80 04 39 39 39 39") == "63C2"
    assert x("00 20 00 80 04 31 32 33 34") == "9000"
    assert x(RETRY_QUERY) == "63C3"


def test_wrong_length_pin_spends_a_try(x: Exchange) -> None:
    """The card does not check the format of a VERIFY: the driver must (card-protocol.md §8)."""
    x(SELECT_JPKI)
    x("00 A4 02 0C 02 00 18")
    assert x("00 20 00 80 03 31 32 33") == "63C2"


def test_sign_certificate_needs_sign_pin(x: Exchange) -> None:
    x(SELECT_JPKI)
    x("00 A4 02 0C 02 00 01")
    assert x("00 B0 00 00 04") == "6982"
    x("00 A4 02 0C 02 00 1B")
    assert x(RETRY_QUERY) == "63C5"
    assert x("00 20 00 80 08" + b"TEST1234".hex()) == "9000"
    x("00 A4 02 0C 02 00 01")
    assert x("00 B0 00 00 04") == "3082062B9000"


def test_security_state_cleared_by_other_df_and_reset(x: Exchange, card: SimulatedCard) -> None:
    x(SELECT_JPKI)
    x("00 A4 02 0C 02 00 1B")
    x("00 20 00 80 08" + b"TEST1234".hex())
    x(SELECT_TEXT)
    x(SELECT_JPKI)
    x("00 A4 02 0C 02 00 01")
    assert x("00 B0 00 00 04") == "6982"
    x("00 A4 02 0C 02 00 1B")
    x("00 20 00 80 08" + b"TEST1234".hex())
    card.reset()
    x(SELECT_JPKI)
    x("00 A4 02 0C 02 00 01")
    assert x("00 B0 00 00 04") == "6982"


def test_reselecting_the_same_df_is_configurable(rsa_key: rsa.RSAPrivateKey) -> None:
    for clear, expected in ((False, "9000"), (True, "6982")):
        card = SimulatedCard(build_image(rsa_key), CardBehaviour(clear_state_on_reselect=clear))
        x = Exchange(card)
        x(SELECT_JPKI)
        x("00 A4 02 0C 02 00 1B")
        x("00 20 00 80 08" + b"TEST1234".hex())
        x(SELECT_JPKI)
        x("00 A4 02 0C 02 00 01")
        assert x.sw("00 B0 00 00 04") == expected


def test_blocked_sw_is_configurable(rsa_key: rsa.RSAPrivateKey) -> None:
    card = SimulatedCard(build_image(rsa_key, auth_remaining=0), CardBehaviour(blocked_sw=0x6983))
    x = Exchange(card)
    x(SELECT_JPKI)
    x("00 A4 02 0C 02 00 18")
    assert x(RETRY_QUERY) == "6983"


def test_sign_digest_info_with_auth_key(x: Exchange, rsa_key: rsa.RSAPrivateKey) -> None:
    digest_info = bytes.fromhex("3031300D060960864801650304020105000420") + b"\x11" * 32
    sign = "80 2A 00 80 33" + digest_info.hex() + "00"
    x(SELECT_JPKI)
    x("00 A4 02 0C 02 00 17")
    assert x(sign) == "6982"
    x("00 A4 02 0C 02 00 18")
    assert x("00 20 00 80 04 31 32 33 34") == "9000"
    x("00 A4 02 0C 02 00 17")
    answer = bytes.fromhex(x(sign))
    assert answer[-2:] == b"\x90\x00" and len(answer) == 258
    # PKCS#1 v1.5 over the given DigestInfo = an ordinary SHA-256 RSA signature over a prehashed digest
    prehashed = utils.Prehashed(hashes.SHA256())
    rsa_key.public_key().verify(answer[:-2], b"\x11" * 32, padding.PKCS1v15(), prehashed)


def test_sign_refuses_oversized_input_and_wrong_ef(x: Exchange) -> None:
    x(SELECT_JPKI)
    x("00 A4 02 0C 02 00 18")
    x("00 20 00 80 04 31 32 33 34")
    x("00 A4 02 0C 02 00 17")
    assert x("80 2A 00 80 F6" + "00" * 246 + "00") == "6700"
    x("00 A4 02 0C 02 00 0A")
    assert x("80 2A 00 80 01 00 00") == "6986"


def test_change_reference_data(x: Exchange) -> None:
    x(SELECT_JPKI)
    x("00 A4 02 0C 02 00 18")
    assert x("00 24 01 80 04 35 35 35 35") == "6982"
    x("00 20 00 80 04 31 32 33 34")
    assert x("00 24 01 80 03 35 35 35") == "6A80"
    assert x("00 24 01 80 04 35 35 35 35") == "9000"
    assert x("00 20 00 80 04 31 32 33 34") == "63C2"
    assert x("00 20 00 80 04 35 35 35 35") == "9000"


def test_unknown_instruction_and_class(x: Exchange) -> None:
    assert x("00 CA 00 00 00") == "6D00"
    assert x("00 2A 00 80 01 00 00") == "6D00"
    assert x("90 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01") == "6E00"
    # the UID pseudo-APDU is answered only by contactless readers
    assert x("FF CA 00 00 00") == "6E00"


def test_read_record_of_juki_style_ap(x: Exchange) -> None:
    x(SELECT_TEXT)
    assert bytes.fromhex(x("00 B2 01 0C 00"))[:-2] == b"\x01\x10SERIAL-TEST-0001"
    assert x("00 B2 02 0C 00") == "6A83"


def test_verify_by_short_ef_id_and_read_by_sfi(x: Exchange) -> None:
    """jsapdu's variant (UNCONFIRMED): VERIFY P2=80+SFI without SELECT, READ BINARY with P1=80|SFI."""
    x(SELECT_TEXT)
    assert x("00 20 00 91") == "63C3"
    assert x("00 20 00 91 04 35 36 37 38") == "9000"
    assert bytes.fromhex(x("00 B0 81 00 11")) == b"\xff\x10\x0c123456789018" + b"\xff\xff\x90\x00"


@pytest.mark.parametrize("command", ["00", "00A4040C05D392", "00 B0 00 00 00 00"])
def test_malformed_apdu_is_wrong_length(x: Exchange, command: str) -> None:
    assert x(command) == "6700"
