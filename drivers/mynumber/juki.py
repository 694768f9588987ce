"""住基AP (resident registry application): its PIN, and the record MYNA-RS calls the manufacture number."""

from __future__ import annotations

from drivers import tlv
from drivers.apdu import CommandApdu
from drivers.mynumber import aids
from drivers.mynumber.base import CardApplication
from drivers.mynumber.session import PinStatus
from drivers.status import check


class JukiAp(CardApplication):
    info = aids.JUKI

    def pin_status(self, ref: aids.PinRef = aids.JUKI_PIN) -> PinStatus:
        return super().pin_status(ref)

    def read_manufacture_number(self) -> str:
        """READ RECORD 1 of SFI 1; characters 2..15 of its value (meaning UNCONFIRMED, per MYNA-RS)."""
        self.select()
        data = check(self.session.send(CommandApdu(0x00, 0xB2, 0x01, 0x0C, le=256))).data
        value = tlv.parse_one(data).value.decode("ascii", "replace")
        return value[2:15]
