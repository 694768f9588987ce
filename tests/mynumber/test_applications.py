"""The application layer over a simulated card: fewest APDUs, PIN safety, typed errors."""

from __future__ import annotations

import dataclasses
import logging
from functools import cache

import pytest

from drivers import errors
from drivers.mynumber import aids
from drivers.mynumber.basic4 import parse_basic4, parse_my_number_ef
from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.pinpolicy import ATTENDED, UNATTENDED
from drivers.mynumber.session import CardSession
from drivers.sim.card import SimulatedCard
from drivers.sim.profile import load_card_image, load_profile, profile_certificates
from drivers.sim.transport import SimTransport
from tests.conftest import REPO

CARDS = REPO / "config" / "cards"


@cache
def image(name: str):
    return load_card_image(CARDS / f"{name}.toml")


def open_card(name: str = "adult", *, extended: bool = True, policy=UNATTENDED, sim: SimulatedCard | None = None):
    simulated = sim or SimulatedCard(image(name))
    return MyNumberCard(SimTransport(simulated, extended=extended), policy), simulated


@pytest.mark.parametrize(("extended", "budget"), [(True, 4), (False, 9)])
def test_auth_certificate_reads_only_its_bytes(extended: bool, budget: int) -> None:
    """The card's clock runs on bytes: the certificate's own bytes are read, never the EF's FF padding."""
    card, _ = open_card(extended=extended)
    der = card.jpki.read_auth_certificate()
    assert der == profile_certificates(load_profile(CARDS / "adult.toml"))["auth"]
    # SELECT AP + SELECT EF + header READ, then the rest: one extended READ, or 256-byte chunks (5 × 256 + 1)
    assert card.apdu_count == budget
    stats = card.session.channel.stats
    assert stats.bytes_received - 2 * stats.apdus == len(der)  # data bytes beyond the status words


def test_no_redundant_select_within_a_session() -> None:
    card, _ = open_card()
    card.jpki.read_auth_certificate()
    before = card.apdu_count
    card.jpki.read_auth_ca_certificate()
    assert card.apdu_count - before == 3  # SELECT EF + header READ + READ of the rest; the AP is still selected


def test_pin_counters_are_read_once_then_follow_the_verify_answers() -> None:
    """Showing the four counters again costs no APDU; a VERIFY still asks the card first, and its answer
    (right PIN: full again; wrong PIN: the tries left) is what the next display shows."""
    card, simulated = open_card()
    first = {s.name: s.remaining for s in card.pin_statuses()}
    assert first == {"auth": 3, "sign": 5, "card_info": 3, "juki": 3}
    before = card.apdu_count
    assert {s.name: s.remaining for s in card.pin_statuses()} == first
    assert card.apdu_count == before
    with pytest.raises(errors.WrongPin):
        card.jpki.verify(aids.AUTH_PIN, "9999")
    assert simulated.pin("jpki", aids.AUTH_PIN.fid).remaining == 2
    after_wrong = card.apdu_count
    assert {s.name: s.remaining for s in card.pin_statuses()}["auth"] == 2
    assert card.apdu_count == after_wrong
    card.jpki.verify(aids.AUTH_PIN, load_profile(CARDS / "adult.toml").pins.auth)
    assert {s.name: s.remaining for s in card.pin_statuses()}["auth"] == 3


def test_extended_support_is_detected_not_assumed() -> None:
    simulated = SimulatedCard(image("adult"))
    transport = SimTransport(simulated, extended=False)
    unknown = type("Unknown", (SimTransport,), {"supports_extended_apdus": property(lambda self: None),
                                                "reader_name": property(lambda self: "probe-reader")})
    transport.__class__ = unknown
    session = CardSession(transport)
    assert session.extended is None
    card = MyNumberCard(transport)
    card.session = session
    card.jpki.session = session
    assert card.jpki.read_auth_certificate()[:2] == b"\x30\x82"
    assert session.extended is False  # the refused extended READ (67 00) taught it


def test_card_info_reads_my_number_and_basic4() -> None:
    card, _ = open_card()
    profile = load_profile(CARDS / "adult.toml")
    raw = card.card_info.read(profile.pins.card_info)
    assert parse_my_number_ef(raw.my_number_ef) == profile.resident.my_number
    assert parse_basic4(raw.basic4_ef).address == profile.resident.address
    # S(AP) + retry query + VERIFY + READs by short EF id (jsapdu style): My Number, basic 4 header and
    # rest, EF 0003, EF 0004 — and no byte of padding
    assert card.apdu_count == 8
    stats = card.session.channel.stats
    read = [raw.my_number_ef, raw.basic4_ef, raw.integrity_ef, raw.cv_certificate]
    assert stats.bytes_received - 2 * stats.apdus == sum(len(ef) for ef in read if ef)
    assert profile.resident.my_number not in repr(raw)


def test_long_basic4_without_extended_apdus() -> None:
    card, _ = open_card("long-address", extended=False)
    profile = load_profile(CARDS / "long-address.toml")
    raw = card.card_info.read(profile.pins.card_info, integrity=False)
    assert len(raw.basic4_ef) > 256
    assert parse_basic4(raw.basic4_ef).address == profile.resident.address


def test_wrong_format_pin_never_reaches_the_card() -> None:
    card, simulated = open_card()
    for bad in ("123", "12345", "12a4", ""):
        with pytest.raises(errors.PinFormatInvalid):
            card.jpki.sign_with_auth_key(b"\x00" * 51, bad)
    assert card.apdu_count == 0
    assert simulated.pin("jpki", 0x0018).remaining == 3


def test_sign_password_is_upper_cased() -> None:
    card, _ = open_card()
    assert card.jpki.read_sign_certificate("signtest1")[:2] == b"\x30\x82"


def test_wrong_pin_is_reported_with_remaining_tries_and_never_retried() -> None:
    card, simulated = open_card()
    with pytest.raises(errors.WrongPin) as caught:
        card.jpki.sign_with_auth_key(b"\x00" * 51, "9999")
    assert caught.value.remaining == 2 and caught.value.pin_name == "auth"
    assert simulated.pin("jpki", 0x0018).remaining == 2


def test_unattended_policy_refuses_the_last_try() -> None:
    card, simulated = open_card("last-try")
    profile = load_profile(CARDS / "last-try.toml")
    with pytest.raises(errors.PinGuardRefused) as caught:
        card.jpki.sign_with_auth_key(b"\x00" * 51, profile.pins.auth)
    assert caught.value.remaining == 1
    assert simulated.pin("jpki", 0x0018).remaining == 1  # nothing spent, not even with the right PIN


def test_attended_policy_needs_confirmation_for_the_last_try() -> None:
    card, simulated = open_card("last-try", policy=ATTENDED)
    profile = load_profile(CARDS / "last-try.toml")
    with pytest.raises(errors.PinGuardRefused):
        card.jpki.sign_with_auth_key(b"\x00" * 51, profile.pins.auth)
    card.jpki.sign_with_auth_key(b"\x00" * 51, profile.pins.auth, confirm_last_try=True)
    assert simulated.pin("jpki", 0x0018).remaining == 3


def test_blocked_pin_is_refused_before_verify() -> None:
    card, _ = open_card("sign-blocked", policy=ATTENDED)
    with pytest.raises(errors.PinBlocked):
        card.jpki.read_sign_certificate("ABCDEF1", confirm_last_try=True)
    statuses = {s.name: s for s in card.pin_statuses()}
    assert statuses["sign"].blocked and statuses["auth"].remaining == 3


def test_minor_has_no_sign_certificate() -> None:
    card, _ = open_card("minor")
    with pytest.raises(errors.NoSignCertificate):
        card.jpki.read_sign_ca_certificate()
    assert {s.name: s for s in card.pin_statuses()}["sign"].not_set


def test_pin_change_then_old_pin_fails() -> None:
    card, simulated = open_card()
    card.jpki.change_pin(aids.AUTH_PIN, "1234", "8642")
    fresh = MyNumberCard(SimTransport(simulated))
    with pytest.raises(errors.WrongPin):
        fresh.jpki.sign_with_auth_key(b"\x00" * 51, "1234")
    fresh.jpki.sign_with_auth_key(b"\x00" * 51, "8642")


def test_new_sign_password_needs_letter_and_digit() -> None:
    card, _ = open_card()
    with pytest.raises(errors.PinFormatInvalid):
        card.jpki.change_pin(aids.SIGN_PIN, "SIGNTEST1", "ABCDEFGH")
    assert card.apdu_count == 0


def test_not_a_my_number_card() -> None:
    only_juki = dataclasses.replace(image("adult"), applications=[image("adult").application("juki")])
    card = MyNumberCard(SimTransport(SimulatedCard(only_juki)))
    with pytest.raises(errors.NotAMyNumberCard):
        card.recognise()


def test_surface_face_photo_decodes() -> None:
    card, _ = open_card()
    entries = card.surface.read_entries(pin_a=load_profile(CARDS / "adult.toml").resident.my_number)
    assert entries.face_png()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "face_jp2" in repr(entries) and "\\x" not in repr(entries)


def test_face_photo_alone_reads_only_the_photo_bytes() -> None:
    """The counter needs the face, not the name and address images: DF21's offsets lead straight to DF27."""
    my_number = load_profile(CARDS / "adult.toml").resident.my_number
    whole, _ = open_card()
    expected = whole.surface.read_entries(pin_a=my_number).face_jp2
    card, _ = open_card()
    assert card.surface.read_face_photo(pin_a=my_number) == expected
    stats = card.session.channel.stats
    # S(AP) + SELECT PIN A + query + VERIFY + SELECT EF + 32-byte header READ + one READ of DF27
    assert stats.apdus == 7
    face_tlv = len(expected) + 5  # DF 27 82 LL LL
    assert stats.bytes_received - 2 * stats.apdus == 32 + face_tlv
    whole_ef = len(image("adult").application("card_surface").efs[aids.EF_SURFACE_ENTRIES].content)
    assert face_tlv < 0.6 * whole_ef


def test_card_expiry_alone_is_a_few_bytes_and_matches_the_card_face() -> None:
    my_number = load_profile(CARDS / "adult.toml").resident.my_number
    expected = open_card()[0].surface.read_entries(pin_a=my_number).expiry
    card, _ = open_card()
    assert expected is not None and card.surface.read_card_expiry(pin_a=my_number) == expected
    stats = card.session.channel.stats
    assert stats.bytes_received - 2 * stats.apdus == 32 + 3 + 8  # header, then DF 29 08 YYYYMMDD


def test_face_photo_with_offsets_that_do_not_hold_reads_the_whole_ef(caplog: pytest.LogCaptureFixture) -> None:
    """A card-face EF whose DF21 offsets point elsewhere (the layout is UNCONFIRMED) still gives the right
    photo: the driver notices and reads the whole EF instead of trusting the offsets."""
    adult = image("adult")
    surface = adult.application("card_surface")
    ef = surface.efs[aids.EF_SURFACE_ENTRIES]
    content = bytearray(ef.content)
    content[8 + 10 : 8 + 12] = (int.from_bytes(content[18:20], "big") + 7).to_bytes(2, "big")  # DF27's offset
    crafted = dataclasses.replace(surface, efs={**surface.efs, ef.fid: dataclasses.replace(ef, content=bytes(content))})
    apps = [crafted if app.name == "card_surface" else app for app in adult.applications]
    card, _ = open_card(sim=SimulatedCard(dataclasses.replace(adult, applications=apps)))
    my_number = load_profile(CARDS / "adult.toml").resident.my_number
    with caplog.at_level(logging.INFO, logger="drivers.mynumber.surface"):
        face = card.surface.read_face_photo(pin_a=my_number)
    assert face == open_card()[0].surface.read_entries(pin_a=my_number).face_jp2
    assert "reading the whole card-face EF" in caplog.text


def test_pins_never_in_traces_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    lines: list[str] = []
    simulated = SimulatedCard(image("adult"))
    card = MyNumberCard(SimTransport(simulated), trace=lambda out, _in: lines.append(out))
    with caplog.at_level(logging.DEBUG):
        card.jpki.sign_with_auth_key(b"\x00" * 51, "1234")
        with pytest.raises(errors.WrongPin) as caught:
            card.card_info.read("9753")
    text = "\n".join(lines) + caplog.text + str(caught.value)
    for pin in ("1234", "9753"):
        assert pin.encode().hex(" ").upper() not in text and pin not in text
