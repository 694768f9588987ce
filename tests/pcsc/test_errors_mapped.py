"""Every PC/SC failure reaches the kiosk as a typed error with a message an operator can act on.

pyscard's C layer is mocked (pytest-mock), so these run without pcscd: they pin the hresult → error table,
the human wording, and that the transport, the module functions and the watcher all go through it (plus
the one watcher rule that a live pcscd cannot reproduce on demand: the event counter).
"""

from __future__ import annotations

import queue

import pytest
from pytest_mock import MockerFixture
from smartcard import scard
from smartcard.Exceptions import (
    CardConnectionException,
    CardRequestTimeoutException,
    InvalidReaderException,
    NoCardException,
    NoReadersException,
)
from smartcard.pcsc.PCSCExceptions import EstablishContextException, ListReadersException

from drivers import errors
from drivers.pcsc import errors as pcsc_errors
from drivers.pcsc import transport as pcsc_transport
from drivers.pcsc import watcher as pcsc_watcher
from drivers.pcsc.errors import classify

CONTEXT = "connecting to the card in 'Test Reader 00'"

def _ids(value: object) -> str:
    return f"{value:08X}" if isinstance(value, int) else ""


TABLE = [
    (scard.SCARD_E_NO_SERVICE, errors.ServiceUnavailable),
    (scard.SCARD_E_SERVICE_STOPPED, errors.ServiceUnavailable),
    (scard.SCARD_F_COMM_ERROR, errors.ServiceUnavailable),
    (scard.SCARD_E_NO_READERS_AVAILABLE, errors.NoReader),
    (scard.SCARD_E_UNKNOWN_READER, errors.NoReader),
    (scard.SCARD_E_READER_UNAVAILABLE, errors.NoReader),
    (scard.SCARD_E_NO_SMARTCARD, errors.NoCard),
    (scard.SCARD_W_REMOVED_CARD, errors.CardRemoved),
    (scard.SCARD_W_RESET_CARD, errors.CardRemoved),
    (scard.SCARD_W_UNPOWERED_CARD, errors.CardRemoved),
    (scard.SCARD_E_NOT_TRANSACTED, errors.CardRemoved),
    (scard.SCARD_E_TIMEOUT, errors.ReaderTimeout),
    (scard.SCARD_E_SHARING_VIOLATION, errors.ReaderError),
    (scard.SCARD_W_UNRESPONSIVE_CARD, errors.ReaderError),
    (scard.SCARD_E_PROTO_MISMATCH, errors.ReaderError),
    (0x80100099, errors.ReaderError),  # not a code pcsc-lite knows
]


def _human(message: str) -> None:
    """Our wording: context first, what happened and what to do, then the code; no Python noise."""
    assert message.startswith(CONTEXT + ": ")
    assert " — " in message  # "what happened — what to do"
    for noise in ("Traceback", "hresult", "None", "<", "0x-"):
        assert noise not in message


@pytest.mark.parametrize(("code", "expected"), TABLE, ids=_ids)
def test_raw_return_codes_map_to_typed_errors(code: int, expected: type[errors.TransportError]) -> None:
    error = classify(code, context=CONTEXT)
    assert type(error) is expected
    assert f"0x{code:08X}" in str(error)
    assert error.hresult == code  # type: ignore[attr-defined]
    _human(str(error))


@pytest.mark.parametrize(("code", "expected"), TABLE, ids=_ids)
def test_pyscard_exceptions_map_by_hresult_not_by_text(
    code: int, expected: type[errors.TransportError]
) -> None:
    exc = CardConnectionException("text that must not matter: no smart card inserted", hresult=code)
    error = classify(exc, context=CONTEXT)
    assert type(error) is expected
    assert "text that must not matter" not in str(error)


def test_negative_hresults_from_some_pyscard_builds_are_normalised() -> None:
    error = classify(EstablishContextException(scard.SCARD_E_NO_SERVICE - 0x100000000), context=CONTEXT)
    assert isinstance(error, errors.ServiceUnavailable)
    assert "0x8010001D" in str(error)


def test_service_unavailable_says_what_to_do() -> None:
    error = classify(EstablishContextException(scard.SCARD_E_NO_SERVICE), context=CONTEXT)
    assert isinstance(error, errors.ServiceUnavailable)
    text = str(error)
    assert "pcscd" in text and "not running" in text
    assert "systemctl start pcscd" in text and "kiosk doctor" in text


def test_no_card_exception_is_no_card_even_with_the_removed_code() -> None:
    """pyscard's connect() raises NoCardException for SCARD_W_REMOVED_CARD: nothing was in use yet."""
    exc = NoCardException("Unable to connect", hresult=scard.SCARD_W_REMOVED_CARD)
    assert isinstance(classify(exc, context=CONTEXT), errors.NoCard)
    exc = NoCardException("Unable to connect", hresult=scard.SCARD_E_NO_SMARTCARD)
    assert isinstance(classify(exc, context=CONTEXT), errors.NoCard)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ListReadersException(scard.SCARD_E_NO_READERS_AVAILABLE), errors.NoReader),
        (ListReadersException(scard.SCARD_E_NO_SERVICE), errors.ServiceUnavailable),
        (NoReadersException(), errors.NoReader),
        (InvalidReaderException("Reader 99"), errors.NoReader),
        (CardRequestTimeoutException(), errors.ReaderTimeout),
        (CardConnectionException("Card not connected"), errors.ReaderError),  # no hresult at all
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else "",
)
def test_pyscard_exception_classes(exc: Exception, expected: type[errors.TransportError]) -> None:
    error = classify(exc, context=CONTEXT)
    assert type(error) is expected
    _human(str(error))


def test_a_foreign_exception_becomes_reader_error_without_its_message() -> None:
    """Whatever leaked up here might carry data; only the type name is kept."""
    error = classify(ValueError("PIN 1234 rejected"), context=CONTEXT)
    assert isinstance(error, errors.ReaderError)
    assert "1234" not in str(error) and "ValueError" in str(error)


def test_typed_errors_pass_through_unchanged() -> None:
    original = errors.NoCard("already typed")
    assert classify(original, context=CONTEXT) is original


# --- the transport and module functions use the table ----------------------------------------------------


@pytest.fixture
def fake_scard(mocker: MockerFixture):
    """pyscard's C entry points replaced by mocks that succeed unless a test says otherwise."""
    mod = pcsc_transport.scard
    mocks = {
        "SCardEstablishContext": mocker.patch.object(mod, "SCardEstablishContext", return_value=(0, 101)),
        "SCardReleaseContext": mocker.patch.object(mod, "SCardReleaseContext", return_value=0),
        "SCardListReaders": mocker.patch.object(mod, "SCardListReaders", return_value=(0, ["R0", "R1"])),
        "SCardGetStatusChange": mocker.patch.object(
            mod,
            "SCardGetStatusChange",
            return_value=(0, [("R0", scard.SCARD_STATE_EMPTY, []), ("R1", scard.SCARD_STATE_EMPTY, [])]),
        ),
        "SCardConnect": mocker.patch.object(
            mod, "SCardConnect", return_value=(0, 202, scard.SCARD_PROTOCOL_T1)
        ),
        "SCardStatus": mocker.patch.object(
            mod, "SCardStatus", return_value=(0, "R0", 0x34, scard.SCARD_PROTOCOL_T1, [0x3B, 0x00])
        ),
        "SCardTransmit": mocker.patch.object(mod, "SCardTransmit", return_value=(0, [0x90, 0x00])),
        "SCardDisconnect": mocker.patch.object(mod, "SCardDisconnect", return_value=0),
    }
    return mocks


def test_list_readers_without_pcscd_is_service_unavailable(fake_scard) -> None:
    fake_scard["SCardEstablishContext"].return_value = (scard.SCARD_E_NO_SERVICE, 0)
    with pytest.raises(errors.ServiceUnavailable, match="pcscd"):
        pcsc_transport.list_readers()
    assert pcsc_transport.service_available() is False


def test_no_readers_is_an_empty_list_but_connect_says_no_reader(fake_scard) -> None:
    fake_scard["SCardListReaders"].return_value = (scard.SCARD_E_NO_READERS_AVAILABLE, [])
    assert pcsc_transport.list_readers() == []
    with pytest.raises(errors.NoReader, match="no card reader is connected"):
        pcsc_transport.connect()


def test_connect_without_a_card_in_any_reader_is_no_card(fake_scard) -> None:
    with pytest.raises(errors.NoCard, match="'R0', 'R1'"):
        pcsc_transport.connect()
    fake_scard["SCardConnect"].assert_not_called()


def test_connect_picks_the_first_reader_holding_a_card(fake_scard) -> None:
    fake_scard["SCardGetStatusChange"].return_value = (
        0,
        [("R0", scard.SCARD_STATE_EMPTY, []), ("R1", scard.SCARD_STATE_PRESENT, [0x3B, 0x00])],
    )
    with pcsc_transport.connect() as transport:
        assert transport.reader_name == "R1"
        assert transport.atr == b"\x3b\x00"
        assert transport.protocol == "T=1"
    assert fake_scard["SCardConnect"].call_args.args[1] == "R1"


def test_reader_states_report_presence_and_atr(fake_scard) -> None:
    fake_scard["SCardGetStatusChange"].return_value = (
        0,
        [
            ("R0", scard.SCARD_STATE_PRESENT | 0x00010000, [0x3B, 0x88]),
            ("R1", scard.SCARD_STATE_PRESENT | scard.SCARD_STATE_MUTE, []),
        ],
    )
    states = pcsc_transport.reader_states()
    assert states == [
        pcsc_transport.ReaderState("R0", True, b"\x3b\x88"),
        pcsc_transport.ReaderState("R1", True, None),
    ]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (scard.SCARD_E_NO_SMARTCARD, errors.NoCard),
        (scard.SCARD_W_REMOVED_CARD, errors.NoCard),  # gone before we were connected: like pyscard
        (scard.SCARD_W_UNPOWERED_CARD, errors.CardRemoved),
        (scard.SCARD_E_UNKNOWN_READER, errors.NoReader),
        (scard.SCARD_E_SHARING_VIOLATION, errors.ReaderError),
    ],
)
def test_failed_connect_is_typed_and_releases_the_context(fake_scard, code, expected) -> None:
    fake_scard["SCardConnect"].return_value = (code, 0, 0)
    with pytest.raises(expected, match="'R0'"):
        pcsc_transport.PcscTransport("R0")
    fake_scard["SCardReleaseContext"].assert_called_once_with(101)


def test_t1_is_preferred_and_t0_t1_is_the_fallback(fake_scard) -> None:
    fake_scard["SCardConnect"].side_effect = [
        (scard.SCARD_E_PROTO_MISMATCH, 0, 0),
        (0, 202, scard.SCARD_PROTOCOL_T0),
    ]
    transport = pcsc_transport.PcscTransport("R0")
    first, second = fake_scard["SCardConnect"].call_args_list
    assert first.args[2:] == (scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T1)
    assert second.args[2:] == (scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
    assert transport.protocol == "T=0"
    transport.transmit(b"\x00\xa4\x04\x00")
    assert fake_scard["SCardTransmit"].call_args.args[1] == scard.SCARD_PCI_T0
    transport.close()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (scard.SCARD_E_NOT_TRANSACTED, errors.CardRemoved),  # what pcscd gives after the card left
        (scard.SCARD_W_REMOVED_CARD, errors.CardRemoved),
        (scard.SCARD_W_RESET_CARD, errors.CardRemoved),
        (scard.SCARD_E_NO_SERVICE, errors.ServiceUnavailable),
        (scard.SCARD_F_COMM_ERROR, errors.ServiceUnavailable),
        (scard.SCARD_E_TIMEOUT, errors.ReaderTimeout),
        (scard.SCARD_E_SHARING_VIOLATION, errors.ReaderError),
    ],
)
def test_failed_transmit_is_typed(fake_scard, code, expected) -> None:
    fake_scard["SCardTransmit"].return_value = (code, [])
    with pcsc_transport.PcscTransport("R0") as transport, pytest.raises(expected) as caught:
        transport.transmit(b"\x00\x20\x00\x80\x04\x31\x32\x33\x34")
    assert "31323334" not in str(caught.value) and "1234" not in str(caught.value)


@pytest.mark.parametrize("code", [scard.SCARD_E_NO_SERVICE, scard.SCARD_E_INVALID_HANDLE])
def test_a_handle_from_before_a_pcscd_restart_says_restarted(fake_scard, code) -> None:
    """libpcsclite answers NO_SERVICE on an old handle even when the new pcscd runs: say what happened."""
    fake_scard["SCardTransmit"].return_value = (code, [])
    with pcsc_transport.PcscTransport("R0") as transport:
        with pytest.raises(errors.ServiceUnavailable, match="was restarted") as caught:
            transport.transmit(b"\x00\xb0\x00\x00\x00")
        _human_in(str(caught.value), "sending a command")
        fake_scard["SCardEstablishContext"].return_value = (scard.SCARD_E_NO_SERVICE, 0)  # now really down
        with pytest.raises(errors.ServiceUnavailable, match="not running"):
            transport.transmit(b"\x00\xb0\x00\x00\x00")


def _human_in(message: str, context_start: str) -> None:
    assert message.startswith(context_start) and " — " in message and "(PC/SC 0x" in message


def test_a_swig_level_failure_is_typed_and_chained(fake_scard) -> None:
    boom = scard.error("SWIG could not convert")
    fake_scard["SCardTransmit"].side_effect = boom
    with pcsc_transport.PcscTransport("R0") as transport, pytest.raises(errors.ReaderError) as caught:
        transport.transmit(b"\x00\xb0\x00\x00\x00")
    assert caught.value.__cause__ is boom


def test_a_response_without_status_word_is_a_reader_error(fake_scard, mocker: MockerFixture) -> None:
    mocker.patch.object(pcsc_transport.PcscTransport, "REMOVAL_GRACE", 0.05)
    fake_scard["SCardTransmit"].return_value = (0, [0x90])
    with pcsc_transport.PcscTransport("R0") as transport, pytest.raises(errors.ReaderError, match="status"):
        transport.transmit(b"\x00\xb0\x00\x00\x00")


def test_an_empty_answer_followed_by_removal_is_card_removed(fake_scard) -> None:
    """vpcd answers "success, 0 bytes" when the card is pulled mid-command; pcscd sees it a poll later."""
    fake_scard["SCardTransmit"].return_value = (0, [])
    present = (0, "R0", 0x34, scard.SCARD_PROTOCOL_T1, [0x3B, 0x00])
    gone = (scard.SCARD_W_REMOVED_CARD, "", 0, 0, [])
    with pcsc_transport.PcscTransport("R0") as transport:
        fake_scard["SCardStatus"].side_effect = [present, present, gone]
        with pytest.raises(errors.CardRemoved, match="0x80100069"):
            transport.transmit(b"\x00\xb0\x00\x00\x00")


def test_close_is_idempotent_resets_the_card_and_never_raises(fake_scard) -> None:
    fake_scard["SCardDisconnect"].return_value = scard.SCARD_E_NO_SERVICE  # daemon gone meanwhile
    transport = pcsc_transport.PcscTransport("R0")
    transport.close()
    transport.close()
    fake_scard["SCardDisconnect"].assert_called_once_with(202, scard.SCARD_RESET_CARD)
    fake_scard["SCardReleaseContext"].assert_called_once_with(101)
    with pytest.raises(errors.ReaderError, match="closed"):
        transport.transmit(b"\x00\xb0\x00\x00\x00")


# --- the watcher reports a lost service with the same wording --------------------------------------------


def test_watcher_reports_service_lost_with_the_human_message(mocker: MockerFixture) -> None:
    mocker.patch.object(
        pcsc_watcher,
        "establish_context",
        side_effect=classify(scard.SCARD_E_NO_SERVICE, context="watching the card readers"),
    )
    events: queue.Queue[pcsc_watcher.WatchEvent] = queue.Queue()
    with pcsc_watcher.CardWatcher(events, backoff_initial=0.01, backoff_max=0.02):
        event = events.get(timeout=2)
    assert isinstance(event, pcsc_watcher.ServiceLost)
    assert "pcscd" in event.message and "not running" in event.message
    assert events.empty()  # reported once, not on every retry


def test_watcher_reports_a_reinsert_faster_than_its_wakeup_from_the_event_counter(
    mocker: MockerFixture,
) -> None:
    """pcsc-lite counts insertions/removals in the upper 16 bits of the event state: a card that was
    pulled and put back between two waits still produces CardRemoved + CardInserted."""
    atr = [0x3B, 0x00]
    present, empty = scard.SCARD_STATE_PRESENT, scard.SCARD_STATE_EMPTY
    pnp = (pcsc_transport.PNP_NOTIFICATION, 0, [])
    script = [
        (0, [("R0", present | 0x10000, atr), pnp]),
        (0, [("R0", present | 0x30000, atr), pnp]),  # two events later, still present
        (0, [("R0", empty | 0x40000, []), pnp]),
    ]

    def status_change(hcontext: int, timeout: int, states: list) -> tuple[int, list]:
        return script.pop(0) if script else (scard.SCARD_E_TIMEOUT, states)

    mocker.patch.object(pcsc_watcher, "establish_context", return_value=7)
    mocker.patch.object(pcsc_watcher, "release_context")
    mocker.patch.object(pcsc_watcher, "readers_in", return_value=["R0"])
    mocker.patch.object(pcsc_watcher.scard, "SCardGetStatusChange", side_effect=status_change)
    mocker.patch.object(pcsc_watcher.scard, "SCardCancel", return_value=0)
    events: queue.Queue[pcsc_watcher.WatchEvent] = queue.Queue()
    with pcsc_watcher.CardWatcher(events, poll_timeout=0.01):
        got = [events.get(timeout=2) for _ in range(5)]
    assert got == [
        pcsc_watcher.ReaderAdded("R0"),
        pcsc_watcher.CardInserted("R0", b"\x3b\x00"),
        pcsc_watcher.CardRemoved("R0"),
        pcsc_watcher.CardInserted("R0", b"\x3b\x00"),
        pcsc_watcher.CardRemoved("R0"),
    ]
    assert events.empty()


def test_hresult_of_handles_missing_and_negative_codes() -> None:
    assert pcsc_errors.hresult_of(CardConnectionException("x")) is None
    assert pcsc_errors.hresult_of(-0x7FEFFFE3) == 0x8010001D
    assert pcsc_errors.hresult_of(ValueError()) is None
