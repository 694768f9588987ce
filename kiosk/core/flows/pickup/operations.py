"""The card operations of the counter pickup, each with its typed result (see ``kiosk.core.ports``).

Two visits to the card, because a new card has no PINs yet:

1. ``ReadNewCard`` — no PIN: the certificate checks (chain, validity, key usage: the driver's PIN-free
   verdict), the auth certificate's serial and issuer (the card identity the server expects for this
   pickup) and which PINs await their first value.
2. ``IssuePins`` — the resident's PINs set one by one (``drivers.mynumber.issuance``); then, with the PINs
   just chosen, every verifier check (proof that the chip holds the key, the card data's integrity, the sign
   certificate's consistency when there is a sign PIN), the basic 4 for the server's keyed-hash match and
   the face photo of the card surface (opened with PIN A, the My Number read a moment before; the number
   itself never leaves this operation).

A card pulled in the middle of (2) is reported, not raised: ``IssuedCard.pins`` says which PINs were set.
Every PIN buffer is zeroed on every path.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drivers import errors
from drivers.mynumber.basic4 import Basic4
from drivers.mynumber.integrity import CheckResult
from drivers.mynumber.issuance import InitialPins, IssuanceResult, issuance_status, set_initial_pins
from drivers.mynumber.session import zero
from drivers.mynumber.surface import face_png
from kiosk.core.ports import OpenCard


@dataclass(frozen=True, slots=True)
class NewCardFacts:
    """What the card tells without a PIN. ``serial`` is the auth certificate's serial (hex, as the server
    normalises it), ``None`` when the card gave none."""

    checks: tuple[CheckResult, ...]
    certificate_failed: bool
    serial: str | None
    issuer_key_id: str | None
    unset: tuple[str, ...]  # PINs awaiting their first value, in the counter's order
    already_set: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReadNewCard:
    """Certificates and PIN states, no PIN spent (the counter's first look at the new card)."""

    def run(self, card: OpenCard) -> NewCardFacts:
        checks = tuple(card.verifier.prefetch())
        certificate = card.verifier.auth_certificate
        status = issuance_status(card.card)
        return NewCardFacts(
            checks=checks,
            certificate_failed=card.verifier.certificate_failed,
            serial=format(certificate.serial, "x") if certificate is not None else None,
            issuer_key_id=_issuer_key_id(certificate),
            unset=tuple(ref.key for ref in status.to_set),
            already_set=status.already_set,
        )

    def wipe(self) -> None:
        return None


@dataclass(slots=True, repr=False)
class IssuedCard:
    """The outcome of setting the PINs and reading the card with them. ``basic4`` and ``face_png`` are
    personal data (``wipe()``); ``checks`` are the verifier's, empty when the PINs were not all set."""

    pins: IssuanceResult
    checks: tuple[CheckResult, ...] = ()
    verified: bool = False
    basic4: Basic4 | None = None
    face_png: bytes | None = None
    face_error: str | None = None  # why the face photo could not be read (an error code)

    def wipe(self) -> None:
        self.basic4 = None
        self.face_png = None

    def __repr__(self) -> str:
        return f"IssuedCard(set={self.pins.set_pins}, verified={self.verified})"


@dataclass(slots=True, repr=False)
class IssuePins:
    """Set the resident's PINs, then verify the card with them (see the module docstring)."""

    pins: InitialPins = field(repr=False)

    def run(self, card: OpenCard) -> IssuedCard:
        auth = _copy(self.pins.auth)
        card_info = _copy(self.pins.card_info)
        sign = _copy(self.pins.sign)
        try:
            result = set_initial_pins(card.card, self.pins)
            issued = IssuedCard(result)
            if not result.complete or auth is None or card_info is None:
                return issued
            try:
                verdict = card.verifier.verify(auth, card_info_pin=card_info, sign_pin=sign)
            except errors.CardRemoved:
                return issued  # the PINs are set; the checks could not be made (the result says so)
            issued.checks = tuple(verdict.checks)
            issued.verified = verdict.verified
            issued.basic4 = verdict.basic4
            my_number, verdict.my_number = verdict.my_number, None
            issued.face_png, issued.face_error = _face(card, my_number)
            del my_number
            return issued
        finally:
            for buffer in (auth, card_info, sign):
                if buffer is not None:
                    zero(buffer)
            self.wipe()

    def wipe(self) -> None:
        self.pins.wipe()


def _face(card: OpenCard, my_number: str | None) -> tuple[bytes | None, str | None]:
    """The card surface's face photo as PNG, opened with PIN A (the My Number); an error code instead."""
    if my_number is None:
        return None, "no_my_number"
    pin_a = bytearray(my_number.encode("ascii"))
    try:
        return face_png(card.card.surface.read_face_photo(pin_a=pin_a)), None
    except errors.CardError as exc:
        return None, exc.code
    finally:
        zero(pin_a)


def _copy(value: bytearray | str | None) -> bytearray | None:
    if value is None:
        return None
    return bytearray(value) if isinstance(value, bytearray) else bytearray(value.encode("ascii"))


def _issuer_key_id(certificate: object) -> str | None:
    key_id = getattr(certificate, "authority_key_id", None)
    return key_id.hex() if isinstance(key_id, bytes | bytearray) else None


__all__ = ["IssuePins", "IssuedCard", "NewCardFacts", "ReadNewCard"]
