"""The card operations of the PIN services, each with its typed result (see ``kiosk.core.ports``).

``ReadPinStatuses`` spends no try: each counter is asked of the card once per card session and then
follows the VERIFY answers (``MyNumberCard.pin_statuses``). ``ChangePins`` hands the resident's entries
to ``drivers.mynumber.pinchange.change_pins``, which reports every PIN — changed, not changed, unknown —
also when the card leaves part-way. Every PIN buffer is zeroed when the operation ends, whatever happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers.mynumber import aids
from drivers.mynumber.pinchange import PinChange, PinChangeResult, change_pins
from drivers.mynumber.session import PinStatus, zero
from kiosk.core.expiry_guidance import AUTH_CERTIFICATE, ExpiryLine, certificate_line
from kiosk.core.ports import OpenCard

REFS: dict[str, aids.PinRef] = {ref.key: ref for ref in (aids.AUTH_PIN, aids.SIGN_PIN, aids.CARD_INFO_PIN,
                                                           aids.JUKI_PIN)}


@dataclass(frozen=True, slots=True)
class PinStatuses:
    """The four PINs' counters as the card (or this card session) knows them, and the auth certificate's
    expiry (``expiries``; empty when the certificate could not be parsed)."""

    pins: tuple[PinStatus, ...]
    expiries: tuple[ExpiryLine, ...] = ()


@dataclass(frozen=True, slots=True)
class PinChangeReport:
    """One result per PIN, in the order they were changed."""

    results: tuple[PinChangeResult, ...]


@dataclass(frozen=True, slots=True)
class ReadPinStatuses:
    """Tries left of every PIN, without spending any; the auth certificate's expiry."""

    def run(self, card: OpenCard) -> PinStatuses:
        pins = tuple(card.card.pin_statuses())
        # The certificate (no PIN, ~1.2 s on a real card) for the expiry guidance every card read gives.
        certificate, validity = card.verifier.auth_certificate, card.verifier.auth_validity
        expiries = () if certificate is None or validity is None else (
            certificate_line(AUTH_CERTIFICATE, certificate.not_after, validity),)
        return PinStatuses(pins, expiries)

    def wipe(self) -> None:
        return None


@dataclass(slots=True, repr=False)
class ChangePins:
    """Change each PIN from ``current`` to ``new`` (pairs of buffers this operation owns and zeroes).

    ``new`` may be one buffer shared by several PINs (one PIN for the three): the driver works on copies.
    """

    changes: tuple[tuple[str, bytearray, bytearray], ...] = field(repr=False)

    def run(self, card: OpenCard) -> PinChangeReport:
        try:
            requests = [PinChange(REFS[name], current, new) for name, current, new in self.changes]
            return PinChangeReport(change_pins(card.card, requests))
        finally:
            self.wipe()

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.changes)

    def wipe(self) -> None:
        for _, current, new in self.changes:
            zero(current)
            zero(new)

    def __repr__(self) -> str:
        return f"ChangePins({', '.join(self.names)}: <redacted>)"


__all__ = ["REFS", "ChangePins", "PinChangeReport", "PinStatuses", "ReadPinStatuses"]
