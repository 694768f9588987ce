"""PIN policy and card-session behaviour that the mutation run (docs/mutation.md) found untested.

The card session is driven against ``EfCard``, a scripted card that records every APDU, so a test can
hold the driver to the exact commands it promises (fewest APDUs, no redundant SELECT, the PIN counter
read before every VERIFY). Comments name the mutmut 3.8 mutants each test kills.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers import errors
from drivers.apdu import CommandApdu
from drivers.mynumber.pinpolicy import ATTENDED, POLICIES, UNATTENDED, PinPolicy, prepare_pin
from drivers.mynumber.session import CardSession, PinStatus
from drivers.pinformat import PinFormat
from drivers.transport import Transport
from tests.support.fuzzing import examples

# --- PinPolicy.check and usable_tries ------------------------------------------------------------------


def test_a_pin_never_set_is_refused_with_the_card_status_and_its_name() -> None:
    """Kills x_check 3/5/6: the error carries 6A 88 and names the PIN (the screen tells which one)."""
    with pytest.raises(errors.ReferenceNotFound) as caught:
        UNATTENDED.check(PinStatus("auth", 0, 3, not_set=True))
    assert caught.value.sw == 0x6A88
    assert str(caught.value) == "the auth PIN was never set on this card (SW=6A88)"


@pytest.mark.parametrize("status", [PinStatus("sign", 4, 5, blocked=True), PinStatus("sign", 0, 5)],
                         ids=["blocked-flag", "no-tries-left"])
@pytest.mark.parametrize("policy", [UNATTENDED, ATTENDED], ids=lambda p: p.name)
def test_a_blocked_pin_is_never_tried(policy: PinPolicy, status: PinStatus) -> None:
    """Kills x_check 7 (blocked *and* none left), 8 (remaining < 0), 11/13/14 (message and SW)."""
    with pytest.raises(errors.PinBlocked) as caught:
        policy.check(status, confirm_last_try=True)
    assert caught.value.sw == 0x6984
    assert str(caught.value) == "the sign PIN is blocked (SW=6984)"


@pytest.mark.parametrize(
    ("policy", "reason"),
    [(UNATTENDED, "an unattended kiosk never spends the last try"),
     (ATTENDED, "last try needs a clerk's confirmation")],
    ids=["unattended", "attended"],
)
def test_the_last_try_refusal_says_which_pin_and_why(policy: PinPolicy, reason: str) -> None:
    """Kills x_check 22–31: the refusal carries the PIN's name, the tries left and the policy's reason."""
    with pytest.raises(errors.PinGuardRefused) as caught:
        policy.check(PinStatus("card_info", 1, 3))
    assert (caught.value.pin_name, caught.value.remaining, caught.value.reason) == ("card_info", 1, reason)


def tries_check_allows(policy: PinPolicy, status: PinStatus) -> int:
    """How many wrong tries in a row ``check`` lets through (with the clerk confirming every last try)."""
    spent = 0
    while True:
        try:
            policy.check(status, confirm_last_try=True)
        except (errors.PinBlocked, errors.PinGuardRefused, errors.ReferenceNotFound):
            return spent
        spent += 1
        left = status.remaining - 1
        status = PinStatus(status.name, left, status.maximum, blocked=left == 0)


@settings(max_examples=examples(150), deadline=None)
@given(
    policy=st.sampled_from(sorted(POLICIES.values(), key=lambda p: p.name)),
    remaining=st.integers(-1, 16),
    blocked=st.booleans(),
    not_set=st.booleans(),
)
def test_usable_tries_is_what_check_lets_through(policy: PinPolicy, remaining: int, blocked: bool,
                                                 not_set: bool) -> None:
    """What the screen shows as "tries left" is exactly what the guard will spend.

    Kills x_usable_tries 1, 2 (blocked or never-set PINs with tries on the counter), 4, 5 and 10.
    """
    status = PinStatus("auth", remaining, 16, blocked=blocked, not_set=not_set)
    assert policy.usable_tries(status) == tries_check_allows(policy, status)


def test_usable_tries_at_the_edges() -> None:
    """The same rule at the four edges a screen shows (x_usable_tries 1, 4, 5, 10), without Hypothesis."""
    assert ATTENDED.usable_tries(PinStatus("auth", 1, 3)) == 1
    assert UNATTENDED.usable_tries(PinStatus("auth", 1, 3)) == 0
    assert UNATTENDED.usable_tries(PinStatus("auth", 3, 3, blocked=True)) == 0
    assert ATTENDED.usable_tries(PinStatus("auth", 3, 3, not_set=True)) == 0


# --- prepare_pin --------------------------------------------------------------------------------------


def test_a_non_ascii_pin_is_a_format_refusal_not_a_crash() -> None:
    """Full-width digits from an IME: refused as a PIN format, never a UnicodeError (x_prepare_pin 7, 10, 11)."""
    with pytest.raises(errors.PinFormatInvalid) as caught:
        prepare_pin("auth", "１２３４", PinFormat.DIGITS4)
    assert (caught.value.pin_name, caught.value.expected) == ("auth", "4 digits")  # x_prepare_pin 24, 25


def test_bytes_are_copied_into_a_buffer_the_driver_can_zero() -> None:
    """Kills x_prepare_pin 12, 13 (bytes input)."""
    original = b"1234"
    buffer = prepare_pin("auth", original, PinFormat.DIGITS4)
    assert isinstance(buffer, bytearray) and buffer == bytearray(b"1234")
    assert prepare_pin("sign", b"abc123", PinFormat.SIGN) == bytearray(b"ABC123")


# --- a scripted card ------------------------------------------------------------------------------------------


@dataclass
class EfCard(Transport):
    """EFs by file id (short EF id = low five bits), PIN counters, and an APDU log.

    ``extended``: True/False as the reader would report it, or None to make the driver probe; ``passes``
    says whether extended APDUs really get through. ``wrong_le`` answers ``6C xx`` to the first READ
    whose Le is larger than ``xx``. A READ at the end of an EF answers no data with 90 00.
    """

    efs: dict[int, bytes] = field(default_factory=dict)
    pin_answers: dict[int, int] = field(default_factory=dict)  # fid -> SW of the counter query
    extended: bool | None = True
    passes: bool = True
    wrong_le: int | None = None
    name: str = "scripted reader"
    log: list[bytes] = field(default_factory=list)
    answer: Callable[[CommandApdu], bytes | None] | None = None
    current: int | None = None

    @property
    def atr(self) -> bytes:
        return b"\x3b\x00"

    @property
    def reader_name(self) -> str:
        return self.name

    @property
    def supports_extended_apdus(self) -> bool | None:
        return self.extended

    def close(self) -> None:
        pass

    def commands(self) -> list[CommandApdu]:
        return [CommandApdu.parse(raw) for raw in self.log]

    def transmit(self, command: bytes) -> bytes:
        self.log.append(command)
        if not self.passes and len(command) > 5 and command[4] == 0:
            return b"\x67\x00"
        apdu = CommandApdu.parse(command)
        if self.answer is not None and (scripted := self.answer(apdu)) is not None:
            return scripted
        if apdu.ins == 0xA4:
            fid = int.from_bytes(apdu.data, "big")
            if fid not in self.efs and fid not in self.pin_answers:
                return b"\x6a\x82"
            self.current = fid
            return b"\x90\x00"
        if apdu.ins == 0xB0:
            return self._read(apdu)
        if apdu.ins == 0x20:
            fid = self._short_id(apdu.p2 & 0x1F) if apdu.p2 & 0x1F else self.current
            if not apdu.data:
                return self.pin_answers[fid].to_bytes(2, "big")
            return b"\x90\x00" if apdu.data == b"1234" else b"\x63\xc2"
        if apdu.ins == 0x2A:
            return bytes(256) + b"\x90\x00"
        return b"\x6d\x00"

    def _short_id(self, sfi: int) -> int:
        return next(fid for fid in [*self.efs, *self.pin_answers] if fid & 0x1F == sfi)

    def _read(self, apdu: CommandApdu) -> bytes:
        if apdu.p1 & 0x80:
            self.current, offset = self._short_id(apdu.p1 & 0x1F), apdu.p2
        else:
            offset = (apdu.p1 << 8) | apdu.p2
        le = apdu.le or 256
        if self.wrong_le is not None and le > self.wrong_le:
            fixed, self.wrong_le = self.wrong_le, None
            return bytes((0x6C, fixed & 0xFF))
        return self.efs[self.current][offset : offset + le] + b"\x90\x00"


CERT_EF = 0x000A
TLV_300 = b"\x30\x82\x01\x28" + bytes(range(256)) + bytes(40)  # a 300-byte TLV


def session_for(card: EfCard, **kwargs: bool | None) -> CardSession:
    return CardSession(card, **kwargs)


def pulled(apdu: CommandApdu) -> bytes:
    raise errors.CardRemoved("the card was pulled")


def test_current_df_is_none_until_selected_and_after_an_error() -> None:
    """Kills x___init__ 15 and x_forget 1 (``""`` where no DF is current)."""
    card = EfCard(answer=lambda apdu: b"\x90\x00" if apdu.ins == 0xA4 and apdu.p1 == 0x04 else None)
    session = session_for(card)
    assert session.current_df is None
    session.select_df(b"\xd3\x92\xf0\x00\x26\x01\x00\x00\x00\x01")
    assert session.current_df == b"\xd3\x92\xf0\x00\x26\x01\x00\x00\x00\x01"
    card.answer = pulled
    with pytest.raises(errors.CardRemoved):
        session.select_ef(CERT_EF)
    assert session.current_df is None


def test_a_missing_ef_is_file_not_found() -> None:
    """Kills x_select_ef 27 (``error_for(None)``)."""
    with pytest.raises(errors.FileNotFound):
        session_for(EfCard()).select_ef(0x0042)


@pytest.mark.parametrize("content", [b"", b"\xff", b"\x00", b"\x00\x00" + bytes(30), b"\xff" * 40],
                         ids=["empty", "ff", "00", "0000", "ffff"])
@pytest.mark.parametrize("extended", [True, False], ids=["extended", "short"])
def test_an_ef_of_padding_reads_as_nothing(content: bytes, extended: bool) -> None:
    """A minor's empty certificate EF. Kills x__only_padding 4/5/6/8 and x_read_tlv_ef 23."""
    assert session_for(EfCard({CERT_EF: content}, extended=extended)).read_tlv_ef(CERT_EF) == b""


def test_an_explicit_extended_setting_wins_over_the_reader() -> None:
    """Kills x___init__ 8: configuration that says "no extended APDUs" is obeyed without probing."""
    card = EfCard({CERT_EF: TLV_300}, extended=None)
    session = session_for(card, extended=False)
    assert session.extended is False
    assert session.read_tlv_ef(CERT_EF) == TLV_300
    assert all(len(raw) <= 5 or raw[4] != 0 for raw in card.log)  # no extended frame was sent


def session_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "drivers.mynumber.session"]


def test_extended_support_is_learnt_once_per_reader(caplog: pytest.LogCaptureFixture) -> None:
    """A reader that passes extended APDUs is remembered as such, by name, for the next card.

    Kills x__try_extended 8/14/15/16, x__learn_extended 2–17 (the operator's log line) and
    x___init__ 12/13 (the next session asks the memory, by reader name).
    """
    card = EfCard({CERT_EF: TLV_300}, extended=None, name="learning reader")
    first = session_for(card)
    assert first.extended is None
    with caplog.at_level(logging.INFO, logger="drivers.mynumber.session"):
        assert first.read_tlv_ef(CERT_EF) == TLV_300
    assert first.extended is True
    assert session_log(caplog) == ["reader 'learning reader' passes extended APDUs"]
    assert session_for(EfCard(extended=None, name="learning reader")).extended is True
    assert session_for(EfCard(extended=None, name="another reader")).extended is None


def test_a_refusing_reader_is_logged_as_such(caplog: pytest.LogCaptureFixture) -> None:
    """Kills x__learn_extended 13/16/17 (the "does not pass" wording) and keeps the refusal remembered."""
    card = EfCard({CERT_EF: TLV_300}, extended=None, passes=False, name="old reader")
    with caplog.at_level(logging.INFO, logger="drivers.mynumber.session"):
        assert session_for(card).read_tlv_ef(CERT_EF) == TLV_300
    assert session_log(caplog) == ["reader 'old reader' does not pass extended APDUs"]
    assert session_for(EfCard(extended=None, name="old reader")).extended is False


@pytest.mark.parametrize(("offset", "p1p2"), [(0, "0000"), (0x7FFF, "7FFF")])
def test_read_binary_addresses_offsets_0_to_7fff(offset: int, p1p2: str) -> None:
    """Kills x_read_binary 2/3/4/5."""
    card = EfCard({CERT_EF: bytes(0x8000)})
    session = session_for(card)
    session.select_ef(CERT_EF)
    assert session.read_binary(offset, 1) == b"\x00"
    assert card.log[-1].hex().upper() == "00B0" + p1p2 + "01"


@pytest.mark.parametrize("offset", [-1, 0x8000])
def test_read_binary_refuses_offsets_it_cannot_encode(offset: int) -> None:
    """Kills x_read_binary 6 (the message)."""
    with pytest.raises(errors.ProtocolError) as caught:
        session_for(EfCard()).read_binary(offset, 1)
    assert str(caught.value) == f"offset {offset} outside what READ BINARY can address"


@pytest.mark.parametrize(
    "read",
    [lambda s: s.read_tlv_ef(CERT_EF), lambda s: s.read_tlv_ef(CERT_EF, by_short_id=True),
     lambda s: s.read_exact(CERT_EF, 300), lambda s: (s.select_ef(CERT_EF), s.read_binary(0, 300))[1]],
    ids=["tlv", "tlv-short-id", "exact", "read-binary"],
)
def test_a_wrong_le_answer_to_an_extended_read_is_resent_extended(read: Callable[[CardSession], bytes]) -> None:
    """After ``6C xx`` the READ goes again in the form the reader was just asked to pass.

    Kills x_send 2/4, x_read_binary 26/28 and x__first_read 1/5/7/28/30 (``extended`` dropped).
    """
    card = EfCard({CERT_EF: TLV_300}, wrong_le=0x10)
    data = read(session_for(card))
    assert data[:0x10] == TLV_300[:0x10]
    reads = [raw for raw in card.log if raw[:2] == b"\x00\xb0"]
    refused = next(index for index, raw in enumerate(reads) if (CommandApdu.parse(raw).le or 0) > 0x10)
    assert reads[refused + 1][4:] == b"\x00\x00\x10"  # extended Le 0010, not the short 10


SHORT_EF = b"\x30\x82\x01\x28" + bytes(100)  # claims 300 bytes in all, holds 104


@pytest.mark.parametrize("extended", [True, False], ids=["extended", "short"])
@pytest.mark.parametrize(
    ("read", "message"),
    [(lambda s: s.read_tlv_ef(CERT_EF), "EF 000A ended after 104 of 300 bytes"),
     (lambda s: s.read_exact(CERT_EF, 568), "EF 000A ended after 104 of 568 bytes")],
    ids=["tlv", "exact"],
)
def test_an_ef_shorter_than_its_size_is_a_protocol_error(read: Callable[[CardSession], bytes], message: str,
                                                         extended: bool) -> None:
    """Kills x_read_exact 14/32, x_read_tlv_ef 11/30, x__cut_tlv 7, x__complete 12, x__require 2 and
    x__read_chunks 13 (a READ that answers nothing ends the EF; the error names it)."""
    card = EfCard({CERT_EF: SHORT_EF}, extended=extended)
    with pytest.raises(errors.ProtocolError) as caught:
        read(session_for(card))
    assert str(caught.value) == message


def test_short_reads_ask_only_for_what_is_left() -> None:
    """Kills x__read_chunks 11: after the 8 header bytes, a full chunk and then only the 36 bytes left."""
    card = EfCard({CERT_EF: TLV_300 + b"\xff" * 300}, extended=False)
    assert session_for(card).read_tlv_ef(CERT_EF) == TLV_300
    reads = [c for c in card.commands() if c.ins == 0xB0]
    assert [(c.p1, c.p2, c.le) for c in reads] == [(0, 0, 8), (0, 8, 256), (1, 8, 36)]


def test_short_id_reads_send_no_select_and_leave_the_ef_current() -> None:
    """Kills x_read_tlv_ef 18 (short id dropped) and x__first_read 25 (EF not remembered after it)."""
    card = EfCard({CERT_EF: TLV_300}, extended=False)
    session = session_for(card)
    assert session.read_tlv_ef(CERT_EF, by_short_id=True) == TLV_300
    assert session.read_exact(CERT_EF, 4) == TLV_300[:4]  # same EF by file id: no SELECT needed
    assert [c.ins for c in card.commands()] == [0xB0, 0xB0, 0xB0, 0xB0]  # header, 256, the last 36; read_exact
    assert card.commands()[0].p1 == 0x80 | (CERT_EF & 0x1F)


def test_reads_and_counter_queries_select_by_file_id_by_default() -> None:
    """Kills x_read_exact 1 and x_pin_status 1 (``by_short_id`` default flipped)."""
    card = EfCard({0x0003: bytes(17)}, pin_answers={0x0011: 0x63C3}, extended=False)
    session = session_for(card)
    session.read_exact(0x0003, 17)
    session.pin_status(0x0011, "card_info", 3)
    assert [(c.ins, c.p1, c.p2) for c in card.commands()] == [(0xA4, 0x02, 0x0C), (0xB0, 0, 0),
                                                              (0xA4, 0x02, 0x0C), (0x20, 0x00, 0x80)]


def test_a_256_byte_ef_is_one_short_read_and_teaches_nothing() -> None:
    """Kills x_read_exact 3 (``>=``): 256 bytes fit a short READ (Le 00), which says nothing about whether
    the reader passes extended APDUs, so a reader still being probed stays unknown."""
    card = EfCard({0x0004: bytes(range(256))}, extended=None, passes=False, name="256 reader")
    session = session_for(card)
    assert session.read_exact(0x0004, 256) == bytes(range(256))
    assert card.log[-1].hex().upper() == "00B0000000"
    assert session.extended is None


@pytest.mark.parametrize(
    ("sw", "expected"),
    [
        (0x63C2, PinStatus("auth", 2, 3)),
        (0x63C0, PinStatus("auth", 0, 3, blocked=True)),
        (0x9000, PinStatus("auth", 3, 3)),
        (0x6983, PinStatus("auth", 0, 3, blocked=True)),
        (0x6984, PinStatus("auth", 0, 3, blocked=True)),
        (0x6A88, PinStatus("auth", 0, 3, not_set=True)),
    ],
)
def test_every_counter_answer_maps_to_one_status(sw: int, expected: PinStatus) -> None:
    """Kills x_pin_status 27/28/32/36–42/44/47/48/54/59/60/66."""
    card = EfCard(pin_answers={0x0018: sw})
    assert session_for(card).pin_status(0x0018, "auth", 3) == expected


def test_any_other_counter_answer_is_its_typed_error() -> None:
    """Kills x_pin_status 68 (``error_for(None)``)."""
    with pytest.raises(errors.SecurityStatusNotSatisfied):
        session_for(EfCard(pin_answers={0x0018: 0x6982})).pin_status(0x0018, "auth", 3)


def test_a_failed_verify_forgets_an_earlier_success() -> None:
    """Kills x_verify_pin 27: after a wrong PIN the PIN is not verified any more."""
    session = session_for(EfCard(pin_answers={0x0018: 0x63C3}))
    session.verify_pin(0x0018, bytearray(b"1234"))
    assert session.is_verified(0x0018)
    with pytest.raises(errors.WrongPin):
        session.verify_pin(0x0018, bytearray(b"9999"), name="auth")
    assert not session.is_verified(0x0018)


def test_sign_asks_for_a_256_byte_signature() -> None:
    """Kills x_sign 9/15: the command carries Le 00 (256), as the card needs to answer the signature."""
    card = EfCard({0x0017: b""})
    assert session_for(card).sign(0x0017, b"\x01" * 51) == bytes(256)
    assert card.log[-1] == bytes.fromhex("802A0080") + b"\x33" + b"\x01" * 51 + b"\x00"


# --- the PIN counters a session remembers (known_pin_status) -------------------------------------------------

JPKI_AID = bytes.fromhex("D392F000260100000001")
AUTH_PIN = 0x0018


def counting_session(first_query: int = 0x63C3, verify_answer: int | None = None) -> tuple[CardSession, EfCard]:
    """A session in the JPKI DF whose auth PIN counter was read once (``first_query``); VERIFY answers
    ``verify_answer`` (None: the scripted card's 1234-is-right rule)."""

    def answer(apdu: CommandApdu) -> bytes | None:
        if apdu.ins == 0xA4 and apdu.p1 == 0x04:
            return b"\x90\x00"
        if apdu.ins == 0x20 and apdu.data and verify_answer is not None:
            return verify_answer.to_bytes(2, "big")
        return None

    card = EfCard(pin_answers={AUTH_PIN: first_query}, answer=answer)
    session = session_for(card)
    session.select_df(JPKI_AID)
    assert session.pin_status(AUTH_PIN, "auth", 3) == PinStatus("auth", first_query & 0xF, 3)
    return session, card


def test_a_counter_read_is_remembered_for_its_own_df_only() -> None:
    session, _card = counting_session(0x63C2)
    assert session.known_pin_status(JPKI_AID, AUTH_PIN) == PinStatus("auth", 2, 3)
    assert session.known_pin_status(bytes.fromhex("D3921000310001010408"), AUTH_PIN) is None
    assert session.known_pin_status(JPKI_AID, 0x001B) is None


def test_a_wrong_pin_leaves_the_tries_the_card_said_with_name_and_maximum() -> None:
    session, _card = counting_session(0x63C3)
    with pytest.raises(errors.WrongPin):
        session.verify_pin(AUTH_PIN, bytearray(b"9999"), name="auth")  # the card answers 63 C2
    assert session.known_pin_status(JPKI_AID, AUTH_PIN) == PinStatus("auth", 2, 3, blocked=False)


def test_a_wrong_pin_that_used_the_last_try_is_remembered_blocked() -> None:
    session, _card = counting_session(0x63C1, verify_answer=0x63C0)
    with pytest.raises(errors.WrongPin):
        session.verify_pin(AUTH_PIN, bytearray(b"9999"), name="auth")
    assert session.known_pin_status(JPKI_AID, AUTH_PIN) == PinStatus("auth", 0, 3, blocked=True)


def test_a_blocked_answer_to_verify_is_remembered_blocked() -> None:
    session, _card = counting_session(0x63C1, verify_answer=0x6984)
    with pytest.raises(errors.PinBlocked):
        session.verify_pin(AUTH_PIN, bytearray(b"9999"), name="auth")
    assert session.known_pin_status(JPKI_AID, AUTH_PIN) == PinStatus("auth", 0, 3, blocked=True)


def test_a_right_pin_resets_the_remembered_counter_to_its_maximum() -> None:
    session, _card = counting_session(0x63C1)
    session.verify_pin(AUTH_PIN, bytearray(b"1234"))
    assert session.known_pin_status(JPKI_AID, AUTH_PIN) == PinStatus("auth", 3, 3)


def test_without_a_counter_read_a_verify_teaches_nothing() -> None:
    card = EfCard(pin_answers={AUTH_PIN: 0x63C3}, answer=lambda a: b"\x90\x00" if a.ins == 0xA4 and a.p1 == 4 else None)
    session = session_for(card)
    session.select_df(JPKI_AID)
    with pytest.raises(errors.WrongPin):
        session.verify_pin(AUTH_PIN, bytearray(b"9999"))
    assert session.known_pin_status(JPKI_AID, AUTH_PIN) is None


def test_a_verify_cut_short_by_a_pulled_card_leaves_the_counter_unknown() -> None:
    session, card = counting_session(0x63C3)
    card.answer = lambda apdu: pulled(apdu) if apdu.ins == 0x20 else None
    with pytest.raises(errors.CardRemoved):
        session.verify_pin(AUTH_PIN, bytearray(b"1234"))
    assert session.known_pin_status(JPKI_AID, AUTH_PIN) is None  # the card may or may not have counted it


def test_changing_a_pin_forgets_its_counter_and_sends_the_new_value() -> None:
    session, card = counting_session(0x63C3)
    card.answer = lambda apdu: b"\x90\x00" if apdu.ins == 0x24 else None
    session.change_reference_data(AUTH_PIN, bytearray(b"5678"))
    assert session.known_pin_status(JPKI_AID, AUTH_PIN) is None
    assert card.log[-1] == bytes.fromhex("00240180") + b"\x04" + b"5678"


def test_a_refused_change_is_its_typed_error_and_the_buffer_is_zeroed() -> None:
    session, card = counting_session(0x63C3)
    card.answer = lambda apdu: b"\x69\x82" if apdu.ins == 0x24 else None
    new_pin = bytearray(b"5678")
    with pytest.raises(errors.SecurityStatusNotSatisfied):
        session.change_reference_data(AUTH_PIN, new_pin)
    assert new_pin == bytearray(4)


# --- read_span: one extended READ, learnt, or short chunks ---------------------------------------------------


def test_read_span_learns_a_refusing_reader_and_falls_back_to_chunks() -> None:
    card = EfCard({CERT_EF: TLV_300}, extended=None, passes=False, name="refusing span reader")
    session = session_for(card)
    session.select_ef(CERT_EF)
    assert session.read_span(8, 292) == TLV_300[8:300]
    assert session.extended is False
    tried = card.log[1]
    assert len(tried) == 7 and tried[4] == 0 and int.from_bytes(tried[5:], "big") == 292  # one extended READ
    assert [CommandApdu.parse(c).le for c in card.log[2:]] == [256, 36]


def test_read_span_learns_a_passing_reader_and_cuts_to_the_length_asked() -> None:
    card = EfCard({CERT_EF: TLV_300 + bytes(100)}, extended=None, name="passing span reader")
    session = session_for(card)
    session.select_ef(CERT_EF)
    assert session.read_span(8, 292) == TLV_300[8:300]
    assert session.extended is True and len(card.log) == 2  # SELECT + one READ


def test_read_span_past_the_end_of_the_ef_is_empty() -> None:
    card = EfCard({CERT_EF: TLV_300}, answer=lambda a: b"\x6b\x00" if a.ins == 0xB0 else None)
    session = session_for(card)
    session.select_ef(CERT_EF)
    assert session.read_span(400, 300) == b""


def test_a_tlv_inside_its_header_read_needs_no_second_read() -> None:
    card = EfCard({CERT_EF: b"\x04\x03abc" + b"\xff" * 20})
    assert session_for(card).read_tlv_ef(CERT_EF) == b"\x04\x03abc"
    assert [CommandApdu.parse(c).ins for c in card.log] == [0xA4, 0xB0]
