"""Status words become typed errors a flow can act on."""

import pytest

from drivers import errors
from drivers.apdu import ResponseApdu
from drivers.status import check, error_for, retries_from


@pytest.mark.parametrize(
    ("sw", "kind"),
    [
        (0x6700, errors.WrongLength),
        (0x6982, errors.SecurityStatusNotSatisfied),
        (0x6983, errors.AuthenticationBlocked),
        (0x6984, errors.AuthenticationBlocked),
        (0x6A82, errors.FileNotFound),
        (0x6A86, errors.IncorrectParameters),
        (0x6A88, errors.ReferenceNotFound),
        (0x6B00, errors.OffsetOutOfRange),
        (0x6D00, errors.InsNotSupported),
        (0x6E00, errors.ClaNotSupported),
        (0x6F00, errors.UnexpectedStatus),
    ],
)
def test_sw_maps_to_error(sw: int, kind: type) -> None:
    error = error_for(sw)
    assert type(error) is kind
    assert error.sw == sw
    assert f"{sw:04X}" in str(error)


def test_wrong_pin_carries_remaining_tries() -> None:
    with pytest.raises(errors.WrongPin) as caught:
        check(ResponseApdu(b"", 0x63, 0xC2))
    assert caught.value.remaining == 2
    assert caught.value.code == "wrong_pin"
    assert retries_from(0x63C0) == 0 and retries_from(0x9000) is None


def test_success_passes_through() -> None:
    response = ResponseApdu(b"\x01", 0x90, 0x00)
    assert check(response) is response
