"""``kiosk doctor`` per reader, through pyscard → pcscd → vpcd: contact or contactless, and extended APDUs.

A reader that refuses extended APDUs, or cuts their answers, is played by a wrapper around the simulated
card (vpcd itself passes anything): it answers an extended command the way such readers are reported to
(``67 00``), or returns only the first 256 bytes. The doctor's verdict must come from the card driver's own
read, so these also show that the driver copes: the certificate is read whole every time.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drivers import pcsc
from drivers.pcsc.capability import CONTACT, CONTACTLESS, CUT, NOT_PROBED, PASSES, REFUSED, probe_extended_apdus
from drivers.sim.card import SimulatedCard
from drivers.sim.faults import IccWrapper
from drivers.sim.profile import contactless_atr
from kiosk.app.doctor import OK, WARN, check_readers
from tests.mynumber.verification_support import image_of

pytestmark = pytest.mark.pcsc
KIOSK = Path(sys.executable).with_name("kiosk")


def is_extended(command: bytes) -> bool:
    """An extended-length APDU: Lc or Le in the three-byte form (a 0x00 byte right after the header)."""
    return len(command) > 5 and command[4] == 0x00 and len(command) >= 7


class ShortApduReader(IccWrapper):
    """The card behind a reader that passes only short APDUs (answers 67 00 to an extended one)."""

    def __init__(self, card: SimulatedCard, *, cut_to: int | None = None) -> None:
        super().__init__(card)
        self.cut_to = cut_to  # instead: pass it, but return only this many data bytes (+ 90 00)
        self.extended_seen = 0

    def process(self, command: bytes) -> bytes:
        if is_extended(command):
            self.extended_seen += 1
            if self.cut_to is None:
                return b"\x67\x00"
            answer = self.card.process(command)
            return answer[:self.cut_to] + answer[-2:]
        return self.card.process(command)


def findings_for(reader: str) -> dict:
    return {f.check: f for f in check_readers(probe=True) if f.data.get("reader") == reader}


def test_a_contact_card_in_a_reader_that_passes_extended_apdus(served_card, vpcd_readers) -> None:
    reader = vpcd_readers[0]
    with served_card(SimulatedCard(image_of("adult")), 0):
        found = findings_for(reader)
    capability = found[f"reader {reader}"]
    assert capability.status == OK and found[f"card in {reader}"].status == OK
    assert capability.data["interface"] == CONTACT and "UNCONFIRMED" in capability.data["interface_basis"]
    assert capability.data["extended_apdus"] == PASSES
    assert capability.data["probe_apdus"] == 4  # SELECT AP, SELECT EF, header READ, one extended READ
    assert "yes: one extended READ BINARY returned all" in capability.detail


def test_a_contactless_card_is_told_apart_by_its_synthesised_atr(served_card, vpcd_readers) -> None:
    reader = vpcd_readers[1]
    image = dataclasses.replace(image_of("adult"), atr=contactless_atr(), interface="contactless")
    with served_card(SimulatedCard(image), 1):
        capability = findings_for(reader)[f"reader {reader}"]
    assert capability.data["interface"] == CONTACTLESS
    assert "3B 8n 80 01" in capability.detail and "UNCONFIRMED" in capability.detail


def test_a_reader_refusing_extended_apdus_is_a_warning_and_cards_still_read(served_card, vpcd_readers) -> None:
    reader = vpcd_readers[0]
    card = ShortApduReader(SimulatedCard(image_of("adult")))
    with served_card(card, 0):
        capability = findings_for(reader)[f"reader {reader}"]
        with pcsc.connect(reader) as transport:
            again = probe_extended_apdus(transport)  # asks anew: nothing learnt by the doctor's probe is reused
    assert capability.status == WARN and capability.data["extended_apdus"] == REFUSED, capability.detail
    assert "no: an extended READ BINARY was answered 6700" in capability.detail
    assert "256-byte pieces" in capability.detail
    assert again.status == REFUSED and card.extended_seen == 2, again


def test_a_reader_cutting_extended_answers_is_reported_as_such(served_card, vpcd_readers) -> None:
    reader = vpcd_readers[0]
    with served_card(ShortApduReader(SimulatedCard(image_of("adult")), cut_to=256), 0):
        capability = findings_for(reader)[f"reader {reader}"]
    assert capability.status == WARN and capability.data["extended_apdus"] == CUT
    assert "returned 256" in capability.detail


def test_without_a_card_the_extended_question_waits_for_one(vpcd_readers) -> None:
    found = {f.check: f for f in check_readers(probe=True)}
    empty = found[f"reader {vpcd_readers[1]}"]
    assert empty.status == OK and empty.data["extended_apdus"] == NOT_PROBED
    assert "unknown — insert a card" in empty.detail


def test_kiosk_doctor_prints_each_reader(served_card, vpcd_readers, tmp_path: Path) -> None:
    reader = vpcd_readers[0]
    env = dict(os.environ, KIOSK_STATE_DIR=str(tmp_path))
    with served_card(SimulatedCard(image_of("adult")), 0):
        done = subprocess.run([str(KIOSK), "doctor", "--json"], capture_output=True, text=True, timeout=120,
                              check=False, stdin=subprocess.DEVNULL, env=env)
        human = subprocess.run([str(KIOSK), "doctor"], capture_output=True, text=True, timeout=120, check=False,
                               stdin=subprocess.DEVNULL, env=env)
    findings = {f["check"]: f for f in json.loads(done.stdout)["findings"]}
    assert findings[f"reader {reader}"]["data"]["extended_apdus"] == PASSES
    assert findings[f"reader {vpcd_readers[1]}"]["data"]["extended_apdus"] == NOT_PROBED
    assert f"✔ reader {reader}: contact (" in human.stdout and "extended APDUs: yes" in human.stdout


class CountingCard(ShortApduReader):
    """Passes everything; counts the commands that reach the card."""

    def __init__(self, card: SimulatedCard) -> None:
        super().__init__(card)
        self.commands = 0

    def process(self, command: bytes) -> bytes:
        self.commands += 1
        return self.card.process(command)


def test_the_maintenance_reader_test_never_touches_the_card_and_reports_what_the_kiosk_learnt(
        served_card, vpcd_readers) -> None:
    """Inside a running kiosk a probe's own connection would reset the card under a resident's session: the
    menu's reader test reads only the reader's state, and the extended-APDU answer the kiosk's reads found."""
    from drivers.mynumber.card import MyNumberCard
    from drivers.mynumber.session import CardSession
    from kiosk.app.maintenance import DoctorMaintenance
    from kiosk.config import KioskConfig

    reader = vpcd_readers[0]
    card = CountingCard(SimulatedCard(image_of("adult")))
    with served_card(card, 0):
        before = card.commands
        lines = {line.check: line for line in DoctorMaintenance(KioskConfig()).run("readers")}
        assert card.commands == before  # not one APDU
        assert lines[f"card in {reader}"].detail.startswith("card present, ATR 3B")
        known = CardSession.known_extended_support(reader)
        expected = "not known yet" if known is None else "yes (seen" if known else "no (seen"
        assert expected in lines[f"reader {reader}"].detail
        with pcsc.connect(reader) as transport:
            MyNumberCard(transport).jpki.read_auth_certificate()  # what the kiosk's own session does
        lines = {line.check: line for line in DoctorMaintenance(KioskConfig()).run("readers")}
    assert CardSession.known_extended_support(reader) is True
    assert "extended APDUs: yes (seen in this kiosk's card reads)" in lines[f"reader {reader}"].detail
