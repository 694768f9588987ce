"""A new card's issuance state, seen through APDUs: unset PINs, the one first value, persistence.

The commands are the simulator's UNCONFIRMED choice (drivers/sim/card.py docstring): VERIFY on an unset
PIN answers 69 85 and counts nothing; CHANGE REFERENCE DATA P1=01 sets it once without a VERIFY.
"""

from __future__ import annotations

from functools import cache

import pytest

from drivers.sim.card import CardBehaviour, SimulatedCard
from drivers.sim.factory import open_simulated_card
from drivers.sim.profile import ProfileError, load_card_image, parse_profile
from tests.conftest import REPO
from tests.simcard.conftest import Exchange

CARDS = REPO / "config" / "cards"
SELECT = {
    "jpki": "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01",
    "card_info": "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08",
    "juki": "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 01 00",
}
# (application, PIN EF, a valid first value)
RESIDENT_PINS = {
    "auth": ("jpki", 0x0018, "1357"),
    "sign": ("jpki", 0x001B, "NEWCARD7"),
    "card_info": ("card_info", 0x0011, "2468"),
    "juki": ("juki", 0x001C, "9753"),
}


@cache
def image(name: str):
    return load_card_image(CARDS / f"{name}.toml")


def fresh(name: str = "new-card", behaviour: CardBehaviour | None = None) -> tuple[SimulatedCard, Exchange]:
    card = SimulatedCard(image(name), behaviour)
    card.power_on()
    return card, Exchange(card)


def at_pin(x: Exchange, pin: str) -> None:
    app, fid, _ = RESIDENT_PINS[pin]
    assert x(SELECT[app]) == "9000"
    assert x(f"00 A4 02 0C 02 {fid:04X}") == "9000"


def verify(x: Exchange, value: str) -> str:
    return x(f"00 20 00 80 {len(value):02X} {value.encode().hex()}")


def change(x: Exchange, value: str) -> str:
    return x(f"00 24 01 80 {len(value):02X} {value.encode().hex()}")


@pytest.mark.parametrize("pin", RESIDENT_PINS)
def test_an_unset_pin_answers_69_85_and_counts_nothing(pin: str) -> None:
    card, x = fresh()
    app, fid, value = RESIDENT_PINS[pin]
    at_pin(x, pin)
    assert x("00 20 00 80") == "6985"
    assert verify(x, value) == "6985"  # no value to compare with: refused, not counted
    assert x("00 20 00 80") == "6985"
    state = card.pin(app, fid)
    assert state.remaining == state.max_tries and state.awaiting_first_value and not state.is_set


def test_the_card_face_pins_are_not_waiting_for_the_holder() -> None:
    _, x = fresh()
    x(SELECT["card_info"])
    x("00 A4 02 0C 02 00 14")  # PIN A: the My Number, written with the card's data
    assert x("00 20 00 80") == "63CA"


@pytest.mark.parametrize("pin", RESIDENT_PINS)
def test_a_first_value_is_set_once_without_verify_then_the_usual_rules_apply(pin: str) -> None:
    card, x = fresh()
    app, fid, value = RESIDENT_PINS[pin]
    at_pin(x, pin)
    assert change(x, value) == "9000"
    state = card.pin(app, fid)
    assert state.is_set and not state.awaiting_first_value and state.remaining == state.max_tries
    assert fid not in card.security_state  # setting it does not leave it verified
    assert x("00 20 00 80") == f"63C{state.max_tries:X}"
    other = "8642" if len(value) == 4 else "OTHER42X"
    assert change(x, other) == "6982"  # a set PIN: the same command now needs the VERIFY first
    assert verify(x, value) == "9000"
    assert change(x, other) == "9000"
    assert verify(x, value) == f"63C{state.max_tries - 1:X}"


def test_setting_the_card_info_pin_opens_nothing_by_itself() -> None:
    _, x = fresh()
    at_pin(x, "card_info")
    assert change(x, "2468") == "9000"
    x("00 A4 02 0C 02 00 01")
    assert x("00 B0 00 00 11") == "6982"


@pytest.mark.parametrize(("pin", "bad"), [("auth", "135"), ("card_info", "24a8"), ("juki", "97531"),
                                          ("sign", "SHORT"), ("sign", "lower123")])
def test_a_malformed_first_value_is_refused_and_the_pin_stays_unset(pin: str, bad: str) -> None:
    card, x = fresh()
    app, fid, _ = RESIDENT_PINS[pin]
    at_pin(x, pin)
    assert change(x, bad) == "6A80"
    assert x("00 20 00 80") == "6985"
    assert card.pin(app, fid).awaiting_first_value


def test_only_new_value_only_is_accepted() -> None:
    _, x = fresh()
    at_pin(x, "auth")
    assert x("00 24 00 80 08 31 32 33 34 31 33 35 37") == "6A86"  # P1=00 (old + new): not this card's form
    assert x("00 20 00 80") == "6985"


def test_a_childs_sign_password_is_absent_not_waiting() -> None:
    card, x = fresh("new-card-child")
    at_pin(x, "sign")
    assert x("00 20 00 80") == "6A88"
    assert change(x, "CHILD123") == "6A88"
    assert not card.pin("jpki", 0x001B).is_set and not card.pin("jpki", 0x001B).awaiting_first_value
    at_pin(x, "auth")
    assert x("00 20 00 80") == "6985"


def test_the_minor_card_with_pins_keeps_its_absent_sign_password() -> None:
    _, x = fresh("minor")
    at_pin(x, "sign")
    assert x("00 20 00 80") == "6A88"
    assert change(x, "CHILD123") == "6A88"


def test_the_unset_answer_is_configurable() -> None:
    _, x = fresh(behaviour=CardBehaviour(unset_pin_sw=0x6A88))
    at_pin(x, "auth")
    assert x("00 20 00 80") == "6A88"
    assert change(x, "1357") == "9000"  # still a PIN waiting for its first value


def test_a_set_pin_stays_set_and_an_unset_one_unset_across_restarts(tmp_path) -> None:
    state = tmp_path / "state.json"
    first = open_simulated_card(CARDS / "new-card.toml", state_file=state)
    x = Exchange(first)
    first.power_on()
    at_pin(x, "auth")
    assert change(x, "1357") == "9000"

    second = open_simulated_card(CARDS / "new-card.toml", state_file=state)
    second.power_on()
    x = Exchange(second)
    at_pin(x, "auth")
    assert x("00 20 00 80") == "63C3"
    assert change(x, "8642") == "6982"  # no second first value after a restart
    assert verify(x, "1357") == "9000"
    for pin in ("sign", "card_info", "juki"):
        at_pin(x, pin)
        assert x("00 20 00 80") == "6985", pin
    assert b"1357" not in state.read_bytes()  # stored as a salted hash only


def profile_data(**pins: object) -> dict:
    return {
        "resident": {"name": "試験 新", "name_kana": "シケン アラタ", "address": "東京都千代田区", "birth_date": "-30y",
                     "sex": 1, "my_number": "707106781180"},
        "card": {"expiry": "+10y", "security_code": "1111", "prefecture": "Tokyo", "city": "Chiyoda-ku"},
        "pins": pins,
        "certificates": {"auth": {"valid_from": "-1d", "valid_until": "+5y"},
                         "sign": {"valid_from": "-1d", "valid_until": "+5y"}},
    }


def test_an_unset_profile_has_a_sign_certificate_unless_it_says_otherwise() -> None:
    profile = parse_profile(profile_data(unset=True))
    assert profile.pins.unset and profile.certificates.has_sign_certificate
    assert profile.pins.auth is None and profile.pins.sign is None


@pytest.mark.parametrize(("pins", "key"), [
    ({"unset": True, "auth": "1234"}, "pins.auth"),
    ({"unset": True, "sign": "SIGN1234"}, "pins.sign"),
    ({"unset": True, "remaining": {"auth": 1}}, "pins.remaining.auth"),
    ({"unset": "yes"}, "pins.unset"),
])
def test_an_unset_profile_refuses_pin_values_and_counters(pins: dict, key: str) -> None:
    with pytest.raises(ProfileError) as raised:
        parse_profile(profile_data(**pins), source="new.toml")
    assert raised.value.key == key


def test_an_unset_profile_may_still_count_card_face_pin_tries() -> None:
    profile = parse_profile(profile_data(unset=True, remaining={"pin_a": 4}))
    assert profile.pins.remaining_for("pin_a", 10) == 4
