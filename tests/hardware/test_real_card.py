"""Opt-in tier against a real reader and a real My Number card; never runs in CI.

Guarded twice: it runs only with ``--hardware-card-serial SERIAL`` and it stops before anything else
unless the card's auth certificate carries exactly that serial. It only reads public data and asks retry
counters (``00 20 00 80`` without data), which never spends a try.
"""

from __future__ import annotations

import pytest
from cryptography import x509

from drivers.apdu import CommandApdu
from drivers.channel import ApduChannel
from drivers.mynumber import aids
from drivers.mynumber.probe import is_my_number_card, probe_applications
from drivers.tlv import total_length
from tests.conftest import IN_CI

pytestmark = pytest.mark.hardware


def read_ef(channel: ApduChannel, fid: int) -> bytes:
    channel.transceive(CommandApdu(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))
    head = channel.transceive(CommandApdu(0x00, 0xB0, 0, 0, le=4)).data
    size = total_length(head)
    data = bytearray()
    while len(data) < size:
        chunk = channel.transceive(CommandApdu(0x00, 0xB0, len(data) >> 8, len(data) & 0xFF,
                                               le=min(256, size - len(data)))).data
        if not chunk:
            break
        data += chunk
    return bytes(data)


@pytest.fixture
def real_card(request: pytest.FixtureRequest):
    if IN_CI:
        pytest.fail("the hardware tier must never run in CI")
    from drivers import pcsc

    expected = int(request.config.getoption("--hardware-card-serial"), 16)
    with pcsc.connect() as transport:
        channel = ApduChannel(transport)
        channel.transceive(CommandApdu(0x00, 0xA4, 0x04, 0x0C, aids.JPKI.aid))
        cert = x509.load_der_x509_certificate(read_ef(channel, 0x000A))
        if cert.serial_number != expected:
            pytest.exit(f"unexpected card in the reader (serial {cert.serial_number:X}); refusing to go on")
        yield channel, cert


def test_real_card_is_recognised_by_select(real_card) -> None:
    channel, _ = real_card
    assert is_my_number_card(probe_applications(channel))


def test_real_auth_certificate_has_no_personal_data_in_subject(real_card) -> None:
    _, cert = real_card
    assert {a.oid for a in cert.subject} <= {x509.NameOID.COUNTRY_NAME, x509.NameOID.COMMON_NAME}


def test_real_retry_counters_are_readable_without_spending_tries(real_card) -> None:
    channel, _ = real_card
    channel.transceive(CommandApdu(0x00, 0xA4, 0x04, 0x0C, aids.JPKI.aid))
    for fid, maximum in ((0x0018, 3), (0x001B, 5)):
        channel.transceive(CommandApdu(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))
        sw = channel.transceive(CommandApdu(0x00, 0x20, 0x00, 0x80)).sw
        assert (sw & 0xFFF0 == 0x63C0 and (sw & 0x0F) <= maximum) or sw in (0x6983, 0x6984)
