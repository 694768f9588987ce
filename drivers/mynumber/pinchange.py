"""Changing PINs a resident knows, one result per PIN — also when the card leaves part-way.

``CardApplication.change_pin`` raises on the first problem, and a pulled card raises the same
``CardRemoved`` whether it left before the CHANGE REFERENCE DATA command or while that command was on its
way. A kiosk must tell those apart: before, the old PIN is certainly still the PIN; during, the card may
or may not have applied the new one. ``change_pins`` keeps that distinction and reports it per PIN.

Rules it keeps:

- every PIN (current and new) is checked against its format before any APDU (``prepare_pin``,
  ``prepare_new_pin``); a bad one raises ``PinFormatInvalid`` naming it and nothing reaches the card;
- each current PIN goes through the guarded VERIFY (``CardApplication.verify`` with ``fresh``: the counter
  is read and the PIN policy asked first, and a PIN verified earlier in the session is proved again);
- ``changed`` only when the card answered ``90 00`` to CHANGE REFERENCE DATA; the counter is then read
  again (``status``), which a correct card reports full;
- ``unknown`` when the transport failed on the CHANGE command itself; ``not_changed`` for every failure
  before it (wrong current PIN, guard refusal, blocked, card gone) and for a card that answered the CHANGE
  with an error status (it refused, so nothing was applied);
- the first transport error ends the run: later PINs are ``not_attempted`` (their old PINs stand);
- every buffer is zeroed on every path; no PIN appears in a result, an error or a trace.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from drivers import errors
from drivers.mynumber import aids
from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.pinpolicy import prepare_new_pin, prepare_pin
from drivers.mynumber.session import PinStatus, zero

LOG = logging.getLogger(__name__)

WRONG_PIN = "wrong_pin"


class ChangeOutcome(StrEnum):
    CHANGED = "changed"  # the card answered 90 00 to CHANGE REFERENCE DATA
    NOT_CHANGED = "not_changed"  # the current PIN is still the PIN
    UNKNOWN = "unknown"  # the card left (or the reader failed) while CHANGE REFERENCE DATA was on its way
    NOT_ATTEMPTED = "not_attempted"  # the run ended before this PIN (the current PIN is still the PIN)


@dataclass(frozen=True, slots=True)
class PinChangeResult:
    """What happened to one PIN. ``reason``: an error code (``wrong_pin``, ``card_removed``,
    ``pin_guard_refused``…) unless changed; ``remaining``: the card's count after a wrong current PIN;
    ``status``: the counter read again after a change (None when the card left before it could be read)."""

    name: str
    outcome: ChangeOutcome
    reason: str | None = None
    remaining: int | None = None
    status: PinStatus | None = None


@dataclass(slots=True, repr=False)
class PinChange:
    """One PIN to change: the current value and the new one, as buffers ``change_pins`` zeroes."""

    ref: aids.PinRef
    current: bytearray = field(repr=False)
    new: bytearray = field(repr=False)

    def wipe(self) -> None:
        zero(self.current)
        zero(self.new)

    def __repr__(self) -> str:
        return f"PinChange({self.ref.key}: <redacted>)"


def change_pins(card: MyNumberCard, changes: Sequence[PinChange], *,
                confirm_last_try: bool = False) -> tuple[PinChangeResult, ...]:
    """Change each PIN in order; see the module docstring. Raises only ``PinFormatInvalid`` (before any
    APDU) — and whatever a bug raises, which a caller must treat as "unknown" for every PIN."""
    prepared: list[tuple[aids.PinRef, bytearray, bytearray]] = []
    try:
        for change in changes:
            # private copies: one bytearray may have been given for several PINs (one PIN for the three)
            current = prepare_pin(change.ref.key, bytearray(change.current), change.ref.format)
            try:
                new = prepare_new_pin(change.ref.key, bytearray(change.new), change.ref.format)
            except BaseException:
                zero(current)
                raise
            prepared.append((change.ref, current, new))
        results = _change_each(card, prepared, confirm_last_try)
    finally:
        for change in changes:
            change.wipe()
        for _, current, new in prepared:
            zero(current)
            zero(new)
    LOG.info("PIN change: %s", ", ".join(f"{r.name}={r.outcome.value}" + (f"({r.reason})" if r.reason else "")
                                         for r in results))
    return results


def _change_each(card: MyNumberCard, prepared: list[tuple[aids.PinRef, bytearray, bytearray]],
                 confirm_last_try: bool) -> tuple[PinChangeResult, ...]:
    results: list[PinChangeResult] = []
    gone: errors.TransportError | None = None
    for ref, current, new in prepared:
        if gone is not None:
            results.append(PinChangeResult(ref.key, ChangeOutcome.NOT_ATTEMPTED, gone.code))
            continue
        result, gone = _change_one(card, ref, current, new, confirm_last_try)
        results.append(result)
    return tuple(results)


def _change_one(card: MyNumberCard, ref: aids.PinRef, current: bytearray, new: bytearray,
                confirm_last_try: bool) -> tuple[PinChangeResult, errors.TransportError | None]:
    app = card.application_of(ref)
    try:
        app.verify(ref, current, confirm_last_try=confirm_last_try, fresh=True)
    except errors.TransportError as exc:  # before CHANGE was sent: the old PIN stands
        return PinChangeResult(ref.key, ChangeOutcome.NOT_CHANGED, exc.code), exc
    except errors.WrongPin as exc:
        return PinChangeResult(ref.key, ChangeOutcome.NOT_CHANGED, WRONG_PIN, remaining=exc.remaining), None
    except errors.CardError as exc:
        return PinChangeResult(ref.key, ChangeOutcome.NOT_CHANGED, exc.code), None
    try:
        card.session.change_reference_data(ref.fid, new)
    except errors.TransportError as exc:  # on its way: the card may or may not have applied it
        return PinChangeResult(ref.key, ChangeOutcome.UNKNOWN, exc.code), exc
    except errors.CardError as exc:  # the card answered, and refused: nothing was applied
        return PinChangeResult(ref.key, ChangeOutcome.NOT_CHANGED, exc.code), None
    try:
        status = app.pin_status(ref)
    except errors.TransportError as exc:
        return PinChangeResult(ref.key, ChangeOutcome.CHANGED), exc
    except errors.CardError:
        status = None
    return PinChangeResult(ref.key, ChangeOutcome.CHANGED, status=status), None


__all__ = ["ChangeOutcome", "PinChange", "PinChangeResult", "change_pins"]
