"""Whether a PIN try may be spent: PIN safety as a driver property, not a UI habit.

The counter is read right before every VERIFY and handed to a policy. At an unattended kiosk the last
try is never spent (a resident who gets it wrong would leave with a locked card and no one to help);
at a clerk's counter the last try needs an explicit confirmation. Nothing here retries a PIN.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers import errors
from drivers.mynumber.session import PinStatus, zero
from drivers.pinformat import PinFormat, new_sign_password_ok, pin_format_ok

FORMAT_TEXT = {
    PinFormat.DIGITS4: "4 digits",
    PinFormat.SIGN: "6 to 16 letters A–Z and digits 0–9",
    PinFormat.DIGITS6: "6 digits (birth date YYMMDD)",
    PinFormat.DIGITS12: "the 12-digit My Number",
    PinFormat.DIGITS14: "14 digits (birth date YYMMDD, expiry year, security code)",
}
NEW_SIGN_RULE_TEXT = "6 to 16 characters with at least one letter and one digit"


@dataclass(frozen=True, slots=True)
class PinPolicy:
    """``min_remaining_after_failure``: tries that must still be left if this try fails."""

    name: str
    min_remaining_after_failure: int
    last_try_needs_confirmation: bool

    def check(self, status: PinStatus, *, confirm_last_try: bool = False) -> None:
        """Raise unless a VERIFY may be sent now; never returns a reason to retry."""
        if status.not_set and status.settable:
            raise errors.PinNotSet(status.name)
        if status.not_set:
            raise errors.ReferenceNotFound(0x6A88, f"the {status.name} PIN was never set on this card")
        if status.blocked or status.remaining <= 0:
            raise errors.PinBlocked(0x6984, f"the {status.name} PIN is blocked")
        if status.remaining - 1 >= self.min_remaining_after_failure:
            return
        if self.last_try_needs_confirmation and confirm_last_try and status.remaining == 1:
            return
        reason = "last try needs a clerk's confirmation" if self.last_try_needs_confirmation else (
            "an unattended kiosk never spends the last try")
        raise errors.PinGuardRefused(status.name, status.remaining, reason)

    def usable_tries(self, status: PinStatus) -> int:
        """The tries a person can really use under this policy — what a screen should show as "tries left".

        Unattended, the last one is kept back (it is only ever spent at the counter); with a clerk it can be
        used after the clerk's confirmation. Derived from the same rule ``check`` applies.
        """
        if status.blocked or status.not_set or status.remaining <= 0:
            return 0
        if self.last_try_needs_confirmation:
            return status.remaining
        return max(0, status.remaining - self.min_remaining_after_failure)


UNATTENDED = PinPolicy("unattended", min_remaining_after_failure=1, last_try_needs_confirmation=False)
ATTENDED = PinPolicy("attended", min_remaining_after_failure=1, last_try_needs_confirmation=True)
POLICIES = {policy.name: policy for policy in (UNATTENDED, ATTENDED)}


def prepare_pin(pin_name: str, value: str | bytes | bytearray, fmt: PinFormat) -> bytearray:
    """Turn user input into the bytes the card expects, or refuse it without touching the card.

    A ``bytearray`` is used in place, so the caller's own buffer is the one the driver zeroes after the
    VERIFY (or the refusal, or the pulled card): nothing a caller passed outlives the operation. ``str``
    and ``bytes`` cannot be wiped; they are copied into a new buffer that the driver zeroes. The sign
    password is upper-cased (the card only knows A–Z 0–9; every tool does this). The returned buffer is
    zeroed by ``CardSession.verify_pin`` / ``change_reference_data`` or by the caller's ``finally``.
    """
    if isinstance(value, bytearray):
        buffer = value
    elif isinstance(value, str):
        buffer = bytearray(value.strip().encode("ascii", errors="replace"))
    else:
        buffer = bytearray(value)
    if fmt is PinFormat.SIGN:
        buffer[:] = bytes(buffer).upper()
    if not pin_format_ok(fmt, buffer):
        zero(buffer)
        raise errors.PinFormatInvalid(pin_name, FORMAT_TEXT[fmt])
    return buffer


def prepare_new_pin(pin_name: str, value: str | bytes | bytearray, fmt: PinFormat) -> bytearray:
    """``prepare_pin`` plus the rule for *choosing* a PIN (a PIN change or a new card's first PIN): a new
    sign password needs a letter and a digit. The one place both callers take it from."""
    buffer = prepare_pin(pin_name, value, fmt)
    if fmt is PinFormat.SIGN and not new_sign_password_ok(buffer):
        zero(buffer)
        raise errors.PinFormatInvalid(pin_name, NEW_SIGN_RULE_TEXT)
    return buffer
