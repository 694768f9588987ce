"""Contact or contactless from the ATR and the reader's name (no pcscd needed): what the doctor may claim."""

from __future__ import annotations

import pytest

from drivers.mynumber.aids import ATR_CLASSIC, ATR_NEWER
from drivers.pcsc.capability import CONTACT, CONTACTLESS, UNKNOWN, is_contactless_atr, reader_interface
from drivers.sim.profile import contactless_atr

SCR3310 = "SCM Microsystems Inc. SCR 3310 [CCID Interface] (21120818205972) 00 00"  # as pcsc_scan lists it


@pytest.mark.parametrize("atr", [contactless_atr(), bytes.fromhex("3B8F8001804F0CA0000003060300030000000068")])
def test_pc_sc_part_3_atrs_are_contactless(atr: bytes) -> None:
    assert is_contactless_atr(atr)
    answer = reader_interface("Virtual PCD 00 00", atr)
    assert answer.kind == CONTACTLESS and "UNCONFIRMED" in answer.basis


@pytest.mark.parametrize("atr", [ATR_CLASSIC, ATR_NEWER])
def test_the_my_number_cards_own_atrs_are_contact(atr: bytes) -> None:
    assert not is_contactless_atr(atr)
    assert reader_interface(SCR3310, atr).kind == CONTACT


def test_the_atr_wins_over_the_name_and_the_disagreement_is_said() -> None:
    answer = reader_interface("ACS ACR122U PICC Interface 00 00", ATR_CLASSIC)
    assert answer.kind == CONTACT and "'picc'" in answer.basis and "check the reader" in answer.basis


@pytest.mark.parametrize("name", ["ACS ACR122U PICC Interface 00 00", "Example PaSoRi-style NFC reader 00 00",
                                  "Generic Contactless Reader 00 00"])
def test_without_a_card_a_contactless_name_is_a_hint(name: str) -> None:
    answer = reader_interface(name, None)
    assert answer.kind == CONTACTLESS and "UNCONFIRMED" in answer.basis and "insert a card" in answer.basis


def test_without_a_card_other_names_are_unknown() -> None:
    assert reader_interface(SCR3310, None).kind == UNKNOWN
    assert "SAM slot" in reader_interface("Example Dual Reader [Example Dual Reader SAM] 00 01", None).basis
    assert reader_interface("Virtual PCD 00 01", None).basis.startswith("unknown — insert a card")


def test_short_or_odd_atrs_are_not_taken_for_contactless() -> None:
    assert not is_contactless_atr(b"\x3b\x88\x80")
    assert not is_contactless_atr(bytes.fromhex("3B88800201"))
    assert not is_contactless_atr(bytes.fromhex("3F88800100"))
