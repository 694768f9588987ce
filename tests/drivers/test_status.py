"""Status words become typed errors a flow can act on: every word of the table, every other word, and
the two families that are easy to get wrong (63 xx: only 63 Cx counts tries; 62 xx: a warning is no
success)."""

import pytest

from drivers import errors
from drivers.apdu import ResponseApdu
from drivers.status import STATUS_ERRORS, check, error_for, retries_from


@pytest.mark.parametrize(("sw", "kind"), sorted(STATUS_ERRORS.items()), ids=lambda v: f"{v:04X}" if isinstance(
    v, int) else v.__name__)
def test_every_status_word_of_the_table_maps_to_its_error(sw: int, kind: type) -> None:
    error = error_for(sw)
    assert type(error) is kind
    assert error.sw == sw
    assert f"{sw:04X}" in str(error)
    with pytest.raises(kind):
        check(ResponseApdu(b"", sw >> 8, sw & 0xFF))


def test_the_table_names_the_status_words_the_driver_acts_on() -> None:
    """The driver branches on these; losing one from the table would turn it into "unexpected"."""
    assert {0x6700, 0x6982, 0x6983, 0x6984, 0x6985, 0x6986, 0x6A80, 0x6A82, 0x6A86, 0x6A88, 0x6B00, 0x6D00,
            0x6E00} <= set(STATUS_ERRORS)
    assert all(issubclass(kind, errors.StatusWordError) for kind in STATUS_ERRORS.values())


def test_only_63_cx_counts_tries() -> None:
    for sw in range(0x6300, 0x6400):
        error = error_for(sw)
        if sw & 0xFFF0 == 0x63C0:
            assert type(error) is errors.WrongPin and error.remaining == sw & 0x0F
            assert retries_from(sw) == sw & 0x0F
        else:
            assert not isinstance(error, errors.WrongPin), f"{sw:04X}"
            assert retries_from(sw) is None, f"{sw:04X}"


def test_62_xx_warnings_are_not_success() -> None:
    for sw2 in range(0x100):
        with pytest.raises(errors.StatusWordError) as caught:
            check(ResponseApdu(b"data", 0x62, sw2))
        assert caught.value.sw == 0x6200 | sw2


def test_every_other_status_word_is_unexpected_and_only_90_00_passes() -> None:
    for sw in range(0x10000):
        if sw == 0x9000:
            continue
        error = error_for(sw)
        if sw in STATUS_ERRORS:
            expected: type = STATUS_ERRORS[sw]
        elif sw & 0xFFF0 == 0x63C0:
            expected = errors.WrongPin
        else:
            expected = errors.UnexpectedStatus
        assert type(error) is expected, f"{sw:04X}"
    assert retries_from(0x9000) is None


def test_wrong_pin_carries_remaining_tries() -> None:
    with pytest.raises(errors.WrongPin) as caught:
        check(ResponseApdu(b"", 0x63, 0xC2))
    assert caught.value.remaining == 2
    assert caught.value.code == "wrong_pin"
    assert retries_from(0x63C0) == 0


def test_success_passes_through() -> None:
    response = ResponseApdu(b"\x01", 0x90, 0x00)
    assert check(response) is response
