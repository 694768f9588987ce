"""What every My Number application shares: selection, PIN status, guarded VERIFY, PIN change."""

from __future__ import annotations

from drivers import errors
from drivers.mynumber import aids
from drivers.mynumber.pinpolicy import PinPolicy, prepare_new_pin, prepare_pin
from drivers.mynumber.session import CardSession, PinStatus, zero

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
        """The counter as the card says it now (one query; spends no try)."""
        self.select()
        return self.session.pin_status(ref.fid, ref.key, ref.maximum)

    def known_pin_status(self, ref: aids.PinRef) -> PinStatus:
        """The counter as this session last read it or learnt it from a VERIFY answer; asked of the card
        only when not known yet. For showing counters; a VERIFY always asks the card first."""
        known = self.session.known_pin_status(self.info.aid, ref.fid)
        return known if known is not None else self.pin_status(ref)

    def verify(self, ref: aids.PinRef, pin: PinInput, *, confirm_last_try: bool = False,
               fresh: bool = False) -> None:
        """Check the format (no APDU), read the counter, ask the policy, then VERIFY once.

        Never retries; a wrong PIN raises ``WrongPin(remaining)``. A PIN already verified in this
        session is not sent again unless ``fresh`` (a PIN change must prove the current PIN every time).
        The policy check here is the only one: every application's VERIFY comes through this method.
        """
        buffer = prepare_pin(ref.key, pin, ref.format)
        try:
            self.select()
            if not fresh and self.session.is_verified(ref.fid):
                return
            status = self.pin_status(ref)
            self.policy.check(status, confirm_last_try=confirm_last_try)
            self.session.verify_pin(ref.fid, buffer, by_short_id=self.verify_by_short_id(), name=ref.key)
        finally:
            zero(buffer)

    def verify_by_short_id(self) -> bool:
        """Whether VERIFY addresses the PIN by short EF id (only the card-info AP may, once it is known)."""
        return False

    def change_pin(self, ref: aids.PinRef, old: PinInput, new: PinInput, *,
                   confirm_last_try: bool = False) -> None:
        """VERIFY the old PIN (guarded, always sent), then CHANGE REFERENCE DATA with the new one.

        Both buffers a caller passed are zeroed on every path, also when the new PIN is refused before
        the card is touched.
        """
        try:
            new_buffer = prepare_new_pin(ref.key, new, ref.format)
            try:
                self.verify(ref, old, confirm_last_try=confirm_last_try, fresh=True)
                self.session.change_reference_data(ref.fid, new_buffer)
            finally:
                zero(new_buffer)
        finally:
            if isinstance(old, bytearray):
                zero(old)
