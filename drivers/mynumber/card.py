"""``MyNumberCard``: one inserted card with its four applications, one session, one PIN policy."""

from __future__ import annotations

import logging

from drivers import errors
from drivers.channel import TraceSink
from drivers.mynumber import aids
from drivers.mynumber.base import CardApplication
from drivers.mynumber.card_info import CardInfoAp
from drivers.mynumber.jpki import JpkiAp
from drivers.mynumber.juki import JukiAp
from drivers.mynumber.pinpolicy import UNATTENDED, PinPolicy
from drivers.mynumber.probe import describe_atr
from drivers.mynumber.session import CardSession, PinStatus
from drivers.mynumber.surface import SurfaceAp
from drivers.transport import Transport

LOG = logging.getLogger(__name__)


class MyNumberCard:
    """Recognised by SELECT of its AIDs, never by ATR (which is only logged)."""

    def __init__(self, transport: Transport, policy: PinPolicy = UNATTENDED, *, extended: bool | None = None,
                 short_ids: bool | None = None, trace: TraceSink | None = None) -> None:
        self.session = CardSession(transport, extended=extended, trace=trace)
        self.policy = policy
        self.jpki = JpkiAp(self.session, policy)
        self.card_info = CardInfoAp(self.session, policy, short_ids=short_ids)
        self.surface = SurfaceAp(self.session, policy)
        self.juki = JukiAp(self.session, policy)
        LOG.info("card in %r, ATR %s (%s)", transport.reader_name, transport.atr.hex(" ").upper(),
                 describe_atr(transport.atr))

    def application_of(self, ref: aids.PinRef) -> CardApplication:
        """The application a PIN belongs to (its VERIFY and CHANGE go through it)."""
        by_key: dict[str, CardApplication] = {"jpki": self.jpki, "card_info": self.card_info,
                                              "card_surface": self.surface, "juki": self.juki}
        return by_key[ref.application.key]

    @property
    def apdu_count(self) -> int:
        return self.session.channel.stats.apdus

    def recognise(self) -> None:
        """Raise NotAMyNumberCard unless the JPKI AP and the card-info AP answer (2 APDUs)."""
        self.card_info.select()
        self.jpki.select()

    def pin_statuses(self) -> list[PinStatus]:
        """Tries left of the four PINs a resident knows, without spending any: each counter is asked of the
        card once per session, then kept up to date from the VERIFY answers (``CardSession``)."""
        statuses = []
        for ref in (aids.AUTH_PIN, aids.SIGN_PIN):
            statuses.append(self.jpki.known_pin_status(ref))
        statuses.append(self.card_info.known_pin_status(aids.CARD_INFO_PIN))
        try:
            statuses.append(self.juki.known_pin_status(aids.JUKI_PIN))
        except errors.NotAMyNumberCard:
            LOG.info("no 住基 application on this card")
        return statuses
