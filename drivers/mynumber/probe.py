"""Which My Number applications answer on a card: the recognition rule (SELECT by AID, never ATR)."""

from __future__ import annotations

from drivers.apdu import CommandApdu
from drivers.channel import ApduChannel
from drivers.mynumber import aids


def probe_applications(channel: ApduChannel) -> list[aids.Application]:
    """SELECT each known AID; return those that answer 90 00 (one APDU per application)."""
    found = []
    for app in aids.ALL:
        if channel.transceive(CommandApdu(0x00, 0xA4, 0x04, 0x0C, app.aid)).ok:
            found.append(app)
    return found


def is_my_number_card(found: list[aids.Application]) -> bool:
    """A My Number card has the JPKI AP and the card-info AP; a 住基 card or a JPKI-only token does not."""
    keys = {app.key for app in found}
    return {"jpki", "card_info"} <= keys


def describe_atr(atr: bytes) -> str:
    return aids.KNOWN_ATRS.get(atr, "unknown ATR (recognition does not depend on it)")
