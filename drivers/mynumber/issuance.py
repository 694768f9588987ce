"""A new card's first PINs (交付, pickup): which PINs are not set yet, and setting them, one result each.

At pickup the resident, not the clerk, chooses the four PINs on the PIN pad (workflows C.2/C.3): the
auth PIN, the card-info (券面事項入力補助) PIN and the 住基 PIN are 4 digits; the sign password is 6–16 of
A–Z/0–9 with at least one letter and one digit, and a child under 15 has none (no signing certificate).

How the kiosk flow uses it (on the worker thread that owns the card)::

    status = issuance_status(card)            # retry queries only: no try is spent
    to_ask = status.to_set                    # the PinRefs to ask the resident for, in the counter's order
    pins = InitialPins(auth=..., card_info=..., juki=..., sign=...)   # None = not this time
    #   or InitialPins.one_for_three(four_digits, sign=...)           # the "one PIN for the three" option
    result = set_initial_pins(card, pins)     # never raises CardRemoved: see result.card_removed
    for pin in result.pins: pin.name, pin.outcome, pin.reason

Rules it keeps:

- every PIN is checked against its format (``pinpolicy.prepare_new_pin``, the rules of
  ``drivers.pinformat``) before any APDU; a bad one raises ``PinFormatInvalid`` naming it;
- it never sends a PIN to a PIN that already has a value: if any requested PIN is set (or blocked), or
  has no slot on this card (a child's sign password), ``IssuanceRefused`` is raised before any PIN is
  sent — this operation is for issuance only; a PIN change goes through ``CardApplication.change_pin``;
- PINs are set one by one; each gets ``set``, ``not_set`` (not reached: the card left before its command)
  or ``failed(reason)`` (the card refused it, or the card left while its command was on the way — then
  whether the card applied it is unknown until ``issuance_status`` is read again on re-insertion);
- every buffer the caller passed (``bytearray``) is zeroed on every path — success, refusal, format
  error, pulled card; the driver's own copies too; PINs never appear in traces (``CommandApdu`` redacts
  the data of VERIFY and CHANGE REFERENCE DATA alike) nor in errors or results.

What a real card needs that public facts do not cover (UNCONFIRMED; card-protocol.md §9):

- how a new card marks a PIN that awaits its first value. The simulator answers the retry query with
  ``69 85`` (``session.PIN_NOT_SET_SWS``; why not ``69 84``/``6A 88``: drivers/sim/card.py);
- the command that writes a first PIN. Public tools only know ``00 24 01 80`` after a VERIFY of the old
  value (MYNA-RS, itself untested). J-LIS's issuance terminal almost certainly writes first PINs under
  issuer keys or secure messaging held by the city's terminal (or a J-LIS back end); the simulator
  accepts ``00 24 01 80 <new PIN>`` once without a VERIFY. A real deployment replaces ``_write_first_pin``
  (the one place that sends it) with what J-LIS specifies;
- whether the card itself checks the sign password's letter+digit rule, the try counters of a new PIN
  (assumed: full), and whether a first PIN leaves the PIN verified (assumed: not).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from drivers import errors
from drivers.mynumber import aids
from drivers.mynumber.base import PinInput
from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.pinpolicy import prepare_new_pin
from drivers.mynumber.session import PinStatus, zero

LOG = logging.getLogger(__name__)

# The four PINs a resident chooses, in the order the counter asks for them.
ISSUANCE_PINS = aids.RESIDENT_PINS


class Outcome(StrEnum):
    SET = "set"
    NOT_SET = "not_set"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PinResult:
    """What happened to one requested PIN. ``reason``: an error ``code`` (``card_removed``,
    ``incorrect_data``, …) for ``failed`` and ``not_set``; None for ``set``."""

    name: str
    outcome: Outcome
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class IssuanceResult:
    """One ``PinResult`` per requested PIN, in ``ISSUANCE_PINS`` order."""

    pins: tuple[PinResult, ...]
    apdu_count: int

    @property
    def complete(self) -> bool:
        return all(pin.outcome is Outcome.SET for pin in self.pins)

    @property
    def card_removed(self) -> bool:
        return any(pin.reason == errors.CardRemoved.code for pin in self.pins)

    @property
    def set_pins(self) -> tuple[str, ...]:
        return tuple(pin.name for pin in self.pins if pin.outcome is Outcome.SET)

    def result(self, name: str) -> PinResult:
        return next(pin for pin in self.pins if pin.name == name)


@dataclass(frozen=True, slots=True)
class IssuanceStatus:
    """The resident PINs' states as the retry queries saw them."""

    pins: tuple[PinStatus, ...]

    def status(self, name: str) -> PinStatus | None:
        return next((pin for pin in self.pins if pin.name == name), None)

    @property
    def unset(self) -> tuple[str, ...]:
        """PINs awaiting their first value."""
        return tuple(pin.name for pin in self.pins if pin.not_set and pin.settable)

    @property
    def already_set(self) -> tuple[str, ...]:
        return tuple(pin.name for pin in self.pins if not pin.not_set)

    @property
    def to_set(self) -> tuple[aids.PinRef, ...]:
        """The PINs to ask the resident for, in the counter's order (no sign password on a child's card)."""
        unset = set(self.unset)
        return tuple(ref for ref in ISSUANCE_PINS if ref.key in unset)

    @property
    def new_card(self) -> bool:
        """Nothing set yet: a card in its issuance state."""
        return bool(self.unset) and not self.already_set


@dataclass(slots=True, repr=False)
class InitialPins:
    """The PINs the resident chose; None = not set this time (a child's sign password, or one already set
    before the card was pulled). ``bytearray`` values are zeroed by ``set_initial_pins``."""

    auth: PinInput | None = None
    card_info: PinInput | None = None
    juki: PinInput | None = None
    sign: PinInput | None = None

    @classmethod
    def one_for_three(cls, four_digits: PinInput, sign: PinInput | None = None) -> InitialPins:
        """The option to use one 4-digit PIN for the auth, card-info and 住基 PINs: three separate copies
        (each zeroed on its own); a ``bytearray`` given here is zeroed at once."""
        copies = [_copy(four_digits) for _ in range(3)]
        if isinstance(four_digits, bytearray):
            zero(four_digits)
        return cls(auth=copies[0], card_info=copies[1], juki=copies[2], sign=sign)

    def requested(self) -> list[tuple[aids.PinRef, PinInput]]:
        given = {"auth": self.auth, "card_info": self.card_info, "juki": self.juki, "sign": self.sign}
        return [(ref, value) for ref in ISSUANCE_PINS if (value := given[ref.key]) is not None]

    def wipe(self) -> None:
        for value in (self.auth, self.card_info, self.juki, self.sign):
            if isinstance(value, bytearray):
                zero(value)

    def __repr__(self) -> str:
        return f"InitialPins({', '.join(ref.key for ref, _ in self.requested())}: <redacted>)"


def issuance_status(card: MyNumberCard) -> IssuanceStatus:
    """Which resident PINs are set, unset or absent — retry queries only, no try spent."""
    return IssuanceStatus(tuple(card.pin_statuses()))


def set_initial_pins(card: MyNumberCard, pins: InitialPins) -> IssuanceResult:
    """Set a new card's first PINs; see the module docstring for the rules and what each result means.

    Raises ``PinFormatInvalid`` or ``IssuanceRefused`` before any PIN reaches the card, and the other
    ``StatusWordError``s of the retry queries (e.g. ``NotAMyNumberCard``); a card pulled at any point is
    reported in the result, never raised.
    """
    copies: list[tuple[aids.PinRef, PinInput]] = []
    buffers: list[tuple[aids.PinRef, bytearray]] = []
    try:
        requested = pins.requested()
        if not requested:
            raise ValueError("no PIN to set: give at least one of auth, card_info, juki, sign")
        # private copies first: the same bytearray may have been given for several PINs
        copies = [(ref, _copy(value)) for ref, value in requested]
        buffers = [(ref, prepare_new_pin(ref.key, value, ref.format)) for ref, value in copies]
        try:
            status = issuance_status(card)
        except errors.TransportError as exc:
            return _result(card, [PinResult(ref.key, Outcome.NOT_SET, exc.code) for ref, _ in buffers])
        _refuse_unless_unset(status, [ref for ref, _ in buffers])
        return _result(card, _set_each(card, buffers))
    finally:
        for _, buffer in [*copies, *buffers]:
            if isinstance(buffer, bytearray):
                zero(buffer)
        pins.wipe()


def _copy(value: PinInput) -> PinInput:
    return bytearray(value) if isinstance(value, bytearray) else value


def _refuse_unless_unset(status: IssuanceStatus, refs: list[aids.PinRef]) -> None:
    for ref in refs:
        found = status.status(ref.key)
        if found is None:
            raise errors.IssuanceRefused("not_on_card", ref.key)
        if not found.not_set:
            raise errors.IssuanceRefused("already_set", ref.key)
        if not found.settable:
            reason = "no_sign_pin_on_card" if ref is aids.SIGN_PIN else "not_settable"
            raise errors.IssuanceRefused(reason, ref.key)


def _set_each(card: MyNumberCard, buffers: list[tuple[aids.PinRef, bytearray]]) -> list[PinResult]:
    """One PIN after the other; the first transport error (a pulled card, a reader timeout) ends the run:
    nothing more is sent to a card whose state is in doubt."""
    results: list[PinResult] = []
    gone: errors.TransportError | None = None
    for ref, buffer in buffers:
        if gone is not None:
            results.append(PinResult(ref.key, Outcome.NOT_SET, gone.code))
            continue
        try:
            card.application_of(ref).select()
            card.session.select_ef(ref.fid)
        except errors.TransportError as exc:  # the card left before this PIN's command was sent
            gone = exc
            results.append(PinResult(ref.key, Outcome.NOT_SET, exc.code))
            continue
        except errors.CardError as exc:
            results.append(PinResult(ref.key, Outcome.FAILED, exc.code))
            continue
        try:
            _write_first_pin(card, ref, buffer)
        except errors.TransportError as exc:  # on its way: the card may or may not have applied it
            gone = exc
            results.append(PinResult(ref.key, Outcome.FAILED, exc.code))
        except errors.CardError as exc:
            results.append(PinResult(ref.key, Outcome.FAILED, exc.code))
        else:
            results.append(PinResult(ref.key, Outcome.SET))
    LOG.info("initial PINs: %s", ", ".join(f"{r.name}={r.outcome.value}" + (f"({r.reason})" if r.reason else "")
                                           for r in results))
    return results


def _write_first_pin(card: MyNumberCard, ref: aids.PinRef, buffer: bytearray) -> None:
    """The one command that writes a first PIN: ``00 24 01 80 <new PIN>`` without a VERIFY (the
    simulator's choice, UNCONFIRMED; module docstring). The buffer is zeroed by the session."""
    card.session.change_reference_data(ref.fid, buffer)


def _result(card: MyNumberCard, results: list[PinResult]) -> IssuanceResult:
    return IssuanceResult(tuple(results), card.apdu_count)


__all__ = ["ISSUANCE_PINS", "InitialPins", "IssuanceResult", "IssuanceStatus", "Outcome", "PinResult",
           "issuance_status", "set_initial_pins"]
