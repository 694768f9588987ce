"""PIN changes through the real stack: pyscard → pcscd → vpcd → the simulated card. For each PIN the new PIN
works and the old one fails afterwards, with the right counters; a card pulled at the current PIN's VERIFY
leaves the old PIN standing ("not changed"), one pulled at CHANGE REFERENCE DATA is "unknown"."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from drivers import errors, pcsc
from drivers.mynumber.card import MyNumberCard
from drivers.sim.faults import FaultPlan, FaultyCard
from kiosk.core.flows.pin_services.operations import REFS
from tests.core.test_pin_services_operations import CURRENT, NEW, PINS, change, command_numbers, simulated_card

pytestmark = pytest.mark.pcsc


@dataclass(frozen=True)
class Opened:
    card: MyNumberCard
    verifier: None = None


def change_in(reader: str, name: str):
    with pcsc.connect(reader) as transport:
        return change(name).run(Opened(MyNumberCard(transport)))


def verify_in(reader: str, name: str, value: str) -> None:
    ref = REFS[name]
    with pcsc.connect(reader) as transport:
        card = MyNumberCard(transport)
        app = {"jpki": card.jpki, "card_info": card.card_info, "juki": card.juki}[ref.application.key]
        app.verify(ref, value)


@pytest.mark.parametrize("name", PINS)
def test_each_pin_changed_through_pcscd(served_card, vpcd_readers, name: str) -> None:
    simulated = simulated_card()
    ref = REFS[name]
    with served_card(simulated, 0):
        (result,) = change_in(vpcd_readers[0], name).results
    assert result.outcome.value == "changed"
    assert result.status is not None and result.status.remaining == ref.maximum
    with served_card(simulated, 0):
        with pytest.raises(errors.WrongPin) as wrong:
            verify_in(vpcd_readers[0], name, CURRENT[name])  # the old PIN fails …
        assert wrong.value.remaining == ref.maximum - 1
        verify_in(vpcd_readers[0], name, NEW[name])  # … the new one works, and restores the counter
    assert simulated.pin(ref.application.key, ref.fid).remaining == ref.maximum


@pytest.mark.parametrize("name", ["auth", "sign"])
def test_pulled_at_the_verify_through_pcscd_changes_nothing(served_card, vpcd_readers, name: str) -> None:
    simulated = simulated_card()
    at = command_numbers((name,))["verify"][0]
    with served_card(FaultyCard(simulated, FaultPlan(remove_at=at)), 0):
        (result,) = change_in(vpcd_readers[0], name).results
    assert (result.outcome.value, result.reason) == ("not_changed", "card_removed")
    with served_card(simulated, 0):
        verify_in(vpcd_readers[0], name, CURRENT[name])  # the old PIN still works


@pytest.mark.parametrize("name", ["card_info", "juki"])
def test_pulled_at_the_change_through_pcscd_is_unknown(served_card, vpcd_readers, name: str) -> None:
    simulated = simulated_card()
    at = command_numbers((name,))["change"][0]
    with served_card(FaultyCard(simulated, FaultPlan(remove_at=at)), 0):
        (result,) = change_in(vpcd_readers[0], name).results
    assert result.outcome.value == "unknown"
    with served_card(simulated, 0):
        verify_in(vpcd_readers[0], name, CURRENT[name])  # this card had not applied it (it was never answered)
