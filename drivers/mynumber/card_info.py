"""券面事項入力補助AP (card-info input support): My Number, basic 4 information, integrity data.

Reads use jsapdu's short-EF-id forms (VERIFY P2 = 80 + id, READ BINARY P1 = 80 | id), which save one
SELECT per EF and were used against real cards on this AP; they are still UNCONFIRMED by a second source,
so the first refusal switches the session back to SELECT + READ (``short_ids=False`` forces that).
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers import errors
from drivers.mynumber import aids
from drivers.mynumber.base import CardApplication, PinInput
from drivers.mynumber.pinpolicy import PinPolicy
from drivers.mynumber.session import CardSession, PinStatus

_SHORT_ID_REFUSED = frozenset({0x6A86, 0x6A88, 0x6A82, 0x6D00, 0x6986})


@dataclass(frozen=True, slots=True, repr=False)
class CardInfoRaw:
    """The EFs as read. ``repr`` shows sizes only: these bytes are personal data."""

    my_number_ef: bytes | None
    basic4_ef: bytes | None
    integrity_ef: bytes | None
    cv_certificate: bytes | None

    def __repr__(self) -> str:
        sizes = {name: None if value is None else len(value) for name, value in (
            ("my_number_ef", self.my_number_ef), ("basic4_ef", self.basic4_ef),
            ("integrity_ef", self.integrity_ef), ("cv_certificate", self.cv_certificate))}
        return f"CardInfoRaw({sizes})"


class CardInfoAp(CardApplication):
    info = aids.CARD_INFO

    def __init__(self, session: CardSession, policy: PinPolicy, short_ids: bool | None = None) -> None:
        super().__init__(session, policy)
        self.short_ids = short_ids  # None: try once, then remember

    def pin_status(self, ref: aids.PinRef = aids.CARD_INFO_PIN) -> PinStatus:
        self.select()
        if self.short_ids is not False:
            try:
                status = self.session.pin_status(ref.fid, ref.key, ref.maximum, by_short_id=True)
            except errors.StatusWordError as exc:
                if exc.sw not in _SHORT_ID_REFUSED:
                    raise
                self.short_ids = False
            else:
                if not status.not_set or status.settable:  # a new card's unset PIN was found by its short id
                    self.short_ids = True
                    return status
                self.short_ids = False  # "reference not found" here means the short id is not known
        return self.session.pin_status(ref.fid, ref.key, ref.maximum)

    def verify_by_short_id(self) -> bool:
        return bool(self.short_ids)

    def read(self, pin: PinInput | None = None, *, pin_a: PinInput | None = None, pin_b: PinInput | None = None,
             integrity: bool = True, confirm_last_try: bool = False) -> CardInfoRaw:
        """Read what the given PIN opens: the 4-digit PIN or PIN A opens everything, PIN B the basic 4 only.

        ``integrity`` adds EF 0003 (digests + signature) and EF 0004 (the card's CV certificate).
        """
        given = [(ref, value) for ref, value in ((aids.CARD_INFO_PIN, pin), (aids.CARD_INFO_PIN_A, pin_a),
                                                 (aids.CARD_INFO_PIN_B, pin_b)) if value is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of pin, pin_a, pin_b")
        ref, value = given[0]
        self.verify(ref, value, confirm_last_try=confirm_last_try)
        by_id = bool(self.short_ids)
        my_number = None
        if ref is not aids.CARD_INFO_PIN_B:
            my_number = self.session.read_exact(aids.EF_MY_NUMBER, aids.MY_NUMBER_EF_SIZE, by_short_id=by_id)
        basic4 = None
        if ref is not aids.CARD_INFO_PIN_A:
            basic4 = self.session.read_tlv_ef(aids.EF_BASIC4, by_short_id=by_id)
        integrity_ef = cv_cert = None
        if integrity:
            integrity_ef = self.session.read_exact(aids.EF_INTEGRITY, aids.INTEGRITY_EF_SIZE, by_short_id=by_id)
            cv_cert = self.read_cv_certificate()
        return CardInfoRaw(my_number, basic4, integrity_ef, cv_cert)

    def read_cv_certificate(self) -> bytes:
        """EF 0004, the card's card-verifiable certificate; no PIN needed (per jsapdu; UNCONFIRMED)."""
        self.select()
        return self.session.read_exact(aids.EF_CV_CERT, aids.CV_CERT_EF_SIZE, by_short_id=bool(self.short_ids))
