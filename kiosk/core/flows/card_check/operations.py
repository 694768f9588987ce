"""The card operations the card check asks for, each with its typed result (see ``kiosk.core.ports``).

They run on the reader's worker thread; they only call the driver's domain verbs. Nothing here holds a
PIN longer than the operation, and every result with personal data can be wiped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from drivers import errors
from drivers.mynumber.basic4 import Basic4, parse_basic4, parse_my_number_ef
from drivers.mynumber.integrity import CheckResult, check_card_info
from drivers.mynumber.session import PinStatus, zero
from drivers.mynumber.verifier import Verdict
from kiosk.core.ports import OpenCard


@dataclass(frozen=True, slots=True)
class CardReady:
    """The card answers as a My Number card; the auth PIN counter as read (no try spent)."""

    auth: PinStatus


@dataclass(frozen=True, slots=True)
class Prefetched:
    """What needs no PIN: the auth certificate's checks (chain, validity, key usage) and every PIN counter.

    ``certificate_failed``: no PIN may be sent to this card (``CardVerifier.certificate_failed``).
    """

    checks: tuple[CheckResult, ...]
    pins: tuple[PinStatus, ...]
    certificate_failed: bool = False


@dataclass(slots=True, repr=False)
class CardDetails:
    """The basic 4 and the My Number (personal data: ``wipe()`` it), with the card-info integrity checks."""

    my_number: str | None
    basic4: Basic4 | None
    checks: tuple[CheckResult, ...] = ()
    pins: tuple[PinStatus, ...] = ()
    card_expiry: date | None = None  # the card's own last day (card face DF29); None when unreadable

    def wipe(self) -> None:
        self.my_number = None
        self.basic4 = None

    def __repr__(self) -> str:
        held = "held" if self.my_number is not None or self.basic4 is not None else "wiped"
        return f"CardDetails(<{held}>, checks={[f'{c.name}={c.status}' for c in self.checks]})"


@dataclass(frozen=True, slots=True)
class Recognise:
    """Is it a My Number card, and may the auth PIN be asked for? (2 SELECTs + the counter query)"""

    def run(self, card: OpenCard) -> CardReady:
        return CardReady(card.card.jpki.auth_pin_status())

    def wipe(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Prefetch:
    """The slow, PIN-free part, run while the resident types: certificate checks and PIN counters."""

    def run(self, card: OpenCard) -> Prefetched:
        checks = tuple(card.verifier.prefetch())
        return Prefetched(checks, tuple(card.card.pin_statuses()), card.verifier.certificate_failed)

    def wipe(self) -> None:
        return None


@dataclass(slots=True, repr=False)
class VerifyWithPin:
    """Every verifier check with the auth PIN; the counters after it (as the VERIFY answers left them)."""

    pin: bytearray = field(repr=False)

    def run(self, card: OpenCard) -> Verdict:
        try:
            verdict = card.verifier.verify(self.pin)
        finally:
            self.wipe()
        verdict.pin_statuses = card.card.pin_statuses()
        return verdict

    def wipe(self) -> None:
        zero(self.pin)


@dataclass(slots=True, repr=False)
class ReadDetails:
    """Basic 4 and My Number with the card-info PIN, and their integrity checks (refused without a PIN
    reaching the card when its certificate already failed)."""

    pin: bytearray = field(repr=False)

    def run(self, card: OpenCard) -> CardDetails:
        details = CardDetails(None, None)
        try:
            raw = card.verifier.read_card_info(self.pin)
            details.checks = tuple(check_card_info(raw.my_number_ef, raw.basic4_ef, raw.integrity_ef,
                                                   raw.cv_certificate, card.verifier.trust.cv_roots))
            details.my_number = _parsed_my_number(raw.my_number_ef)
            details.basic4 = _parsed_basic4(raw.basic4_ef)
            del raw
            details.pins = tuple(card.card.pin_statuses())  # as known: no APDU (the session keeps them)
            details.card_expiry = _card_expiry(card, details.my_number) if intact_number(details) else None
            # Selecting another application makes the card forget the PINs verified for the card info and
            # the card face: nothing more can be read from this card without them (one SELECT, 45 ms).
            card.card.jpki.select()
        except BaseException:
            details.wipe()
            raise
        finally:
            self.wipe()
        return details

    def wipe(self) -> None:
        zero(self.pin)


def intact_number(details: CardDetails) -> bool:
    """The card face opens with the My Number as PIN A: only one that passed its integrity check is sent."""
    return details.my_number is not None and any(
        check.name == "my_number_digest" and check.passed for check in details.checks)


def _card_expiry(card: OpenCard, my_number: str | None) -> date | None:
    """The card's expiry from the card face, opened with PIN A (the My Number just read); None if that
    fails — the certificates' expiry is still shown, and nothing here can spend a resident's PIN."""
    if my_number is None:
        return None
    pin_a = bytearray(my_number.encode("ascii"))
    try:
        return card.card.surface.read_card_expiry(pin_a=pin_a)
    except (errors.StatusWordError, errors.ProtocolError, errors.PinFormatInvalid, errors.PinGuardRefused):
        return None
    finally:
        zero(pin_a)


def _parsed_my_number(ef: bytes | None) -> str | None:
    if ef is None:
        return None
    try:
        return parse_my_number_ef(ef)
    except errors.ProtocolError:
        return None  # the integrity checks say why; a malformed number is never shown


def _parsed_basic4(ef: bytes | None) -> Basic4 | None:
    if not ef:
        return None
    try:
        return parse_basic4(ef)
    except errors.ProtocolError:
        return None


__all__ = ["CardDetails", "CardReady", "Prefetch", "Prefetched", "ReadDetails", "Recognise", "VerifyWithPin"]
