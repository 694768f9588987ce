"""What every My Number application shares: selection, PIN status, guarded VERIFY, PIN change."""

from __future__ import annotations

from drivers import errors
from drivers.mynumber import aids
from drivers.mynumber.pinpolicy import PinPolicy, prepare_pin
from drivers.mynumber.session import CardSession, PinStatus, zero
from drivers.pinformat import PinFormat, new_sign_password_ok

PinInput = str | bytes | bytearray


class CardApplication:
    """Base of the four application classes; subclasses name their ``info``."""

    info: aids.Application

    def __init__(self, session: CardSession, policy: PinPolicy) -> None:
        self.session = session
        self.policy = policy

    def select(self) -> None:
        try:
            self.session.select_df(self.info.aid)
        except errors.FileNotFound as exc:
            raise errors.NotAMyNumberCard(f"the card has no {self.info.label} application") from exc

    def pin_status(self, ref: aids.PinRef) -> PinStatus:
        self.select()
        return self.session.pin_status(ref.fid, ref.key, ref.maximum)

    def verify(self, ref: aids.PinRef, pin: PinInput, *, confirm_last_try: bool = False) -> None:
        """Check the format (no APDU), read the counter, ask the policy, then VERIFY once.

        Never retries; a wrong PIN raises ``WrongPin(remaining)``.
        """
        buffer = prepare_pin(ref.key, pin, ref.format)
        try:
            if self.session.current_df == self.info.aid and self.session.is_verified(ref.fid):
                return
            status = self.pin_status(ref)
            self.policy.check(status, confirm_last_try=confirm_last_try)
            self.session.verify_pin(ref.fid, buffer, name=ref.key)
        finally:
            zero(buffer)

    def change_pin(self, ref: aids.PinRef, old: PinInput, new: PinInput, *,
                   confirm_last_try: bool = False) -> None:
        """VERIFY the old PIN (guarded), then CHANGE REFERENCE DATA with the new one."""
        new_buffer = prepare_pin(ref.key, new, ref.format)
        try:
            if ref.format is PinFormat.SIGN and not new_sign_password_ok(new_buffer):
                expected = "6 to 16 characters with at least one letter and one digit"
                raise errors.PinFormatInvalid(ref.key, expected)
            self.verify(ref, old, confirm_last_try=confirm_last_try)
            self.session.change_reference_data(ref.fid, new_buffer)
        finally:
            zero(new_buffer)
