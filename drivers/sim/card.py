"""The simulated My Number card's APDU engine, written to card-protocol.md.

It answers exactly the status words the public tools expect (card-protocol.md §3): 90 00, 63 Cx, 69 84,
69 82, 6A 82, 6A 86, 6A 88, 67 00, 6B 00, 6D 00, 6E 00 — and 69 85 only in the issuance state below.
Choices where the public record is silent are marked UNCONFIRMED and kept configurable in ``CardBehaviour``.

Issuance state (a card just made, its PINs not yet chosen by the holder; profile ``[pins] unset = true``).
Public facts do not say how J-LIS's issuance terminal writes the first PINs (card-protocol.md §9); a
real card almost certainly wants issuer keys or secure messaging that only the city's terminal holds.
The simulator's commands, all UNCONFIRMED:

- VERIFY (``00 20 00 80``, with or without data) on a PIN awaiting its first value answers
  ``CardBehaviour.unset_pin_sw`` (default ``69 85`` "conditions of use not satisfied": the PIN object
  exists, but its life cycle does not allow a comparison yet). Nothing is counted. ``69 84`` would be the
  ISO wording ("reference data not usable"), but this card already answers ``69 84`` for a *blocked* PIN
  (§1.6), so a new card would look locked; ``6A 88`` already means "no such PIN" (a minor's sign
  password, which stays absent and can never be set).
- CHANGE REFERENCE DATA ``00 24 01 80 Lc <new PIN>`` (P1=01, "new value only") on a PIN awaiting its
  first value is accepted without a prior VERIFY, once: the PIN is set with its full try counter and is
  not left verified. From then on the same command needs the VERIFY of the current value just before
  (``69 82`` otherwise), as on any set PIN. A malformed value answers ``6A 80`` and leaves the PIN unset.
- The PINs derived from the card face (PIN A, PIN B, birth-date PIN) are written with the card's data and
  never wait for the holder.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Protocol

from drivers.apdu import CommandApdu, ResponseApdu
from drivers.errors import ProtocolError
from drivers.pinformat import pin_format_ok
from drivers.sim.model import ApplicationSpec, CardImage, EfSpec, KeySpec, PinFormat, PinSpec

LOG = logging.getLogger(__name__)

SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_SECURITY = 0x6982
SW_BLOCKED = 0x6984
SW_CONDITIONS = 0x6985
SW_NOT_ALLOWED = 0x6986
SW_BAD_DATA = 0x6A80
SW_NOT_FOUND = 0x6A82
SW_RECORD_NOT_FOUND = 0x6A83
SW_BAD_P1P2 = 0x6A86
SW_NO_REFERENCE = 0x6A88
SW_OFFSET = 0x6B00
SW_INS = 0x6D00
SW_CLA = 0x6E00
SW_NO_PRECISE_DIAGNOSIS = 0x6F00

RSA_PKCS1_OVERHEAD = 11


@dataclass(frozen=True, slots=True)
class CardBehaviour:
    """Knobs for behaviour the public sources do not settle (card-protocol.md §9)."""

    # 69 84 is the better-supported answer for a blocked PIN; 69 83 is claimed by two tools.
    blocked_sw: int = SW_BLOCKED
    # Re-SELECTing the DF that is already current keeps the security state (UNCONFIRMED); SELECT of
    # another DF always clears it.
    clear_state_on_reselect: bool = False
    # VERIFY with P2 = 80 + short EF id, without SELECT of the PIN EF (jsapdu style; UNCONFIRMED for JPKI).
    verify_by_short_id: bool = True
    # READ BINARY with P1 = 80 | SFI (jsapdu style; UNCONFIRMED for JPKI).
    read_by_short_id: bool = True
    # VERIFY on a PIN of a new card that awaits its first value (module docstring; UNCONFIRMED).
    unset_pin_sw: int = SW_CONDITIONS


class PinState:
    """A PIN's live state. After a change the value is kept only as a salted hash (see ``state.py``)."""

    def __init__(self, spec: PinSpec) -> None:
        self.fid = spec.fid
        self.format = spec.format
        self.max_tries = spec.max_tries
        self.remaining = spec.remaining
        self._clear: bytes | None = spec.value
        self._salted: tuple[bytes, bytes] | None = None
        self._issuance = spec.awaiting_first_value

    @property
    def is_set(self) -> bool:
        return self._clear is not None or self._salted is not None

    @property
    def awaiting_first_value(self) -> bool:
        """A new card's PIN the holder has not chosen yet (it can be set once without a VERIFY)."""
        return self._issuance and not self.is_set

    @property
    def blocked(self) -> bool:
        return self.remaining <= 0

    def matches(self, candidate: bytes) -> bool:
        if self._salted is not None:
            salt, digest = self._salted
            return hmac.compare_digest(digest, hash_pin(candidate, salt))
        return self._clear is not None and hmac.compare_digest(self._clear, candidate)

    def set_value(self, value: bytes, salt: bytes) -> None:
        self._clear = None
        self._salted = (salt, hash_pin(value, salt))

    def restore(self, remaining: int, salted: tuple[bytes, bytes] | None) -> None:
        self.remaining = max(0, min(self.max_tries, remaining))
        if salted is not None:
            self._clear = None
            self._salted = salted

    @property
    def salted(self) -> tuple[bytes, bytes] | None:
        return self._salted


def hash_pin(value: bytes, salt: bytes) -> bytes:
    """Changed PINs are persisted only as this hash, never in clear."""
    return hashlib.scrypt(value, salt=salt, n=2**12, r=8, p=1, dklen=32)


@dataclass
class _Application:
    spec: ApplicationSpec
    pins: dict[int, PinState] = field(default_factory=dict)


class StateListener(Protocol):
    """Told when a PIN counter or value changes (the persistence layer implements it)."""

    def pin_changed(self, card: SimulatedCard, app: str, pin: PinState) -> None: ...


class SimulatedCard:
    """A virtual My Number card. Thread-safe: vpcd's serving thread and a test may both poke it."""

    def __init__(
        self,
        image: CardImage,
        behaviour: CardBehaviour | None = None,
        listener: StateListener | None = None,
    ) -> None:
        self.image = image
        self.behaviour = behaviour or CardBehaviour()
        self._listener = listener
        self._apps = [_Application(app, {fid: PinState(p) for fid, p in app.pins.items()})
                      for app in image.applications]
        self._lock = threading.RLock()
        self._powered = False
        self._current_app: _Application | None = None
        self._current: EfSpec | PinState | KeySpec | None = None
        self._verified: set[int] = set()
        self.apdu_count = 0

    # --- VirtualIcc -------------------------------------------------------------------------------

    @property
    def atr(self) -> bytes:
        return self.image.atr

    def power_on(self) -> None:
        with self._lock:
            self._powered = True
            self._clear_session()

    def power_off(self) -> None:
        with self._lock:
            self._powered = False
            self._clear_session()

    def reset(self) -> None:
        with self._lock:
            self._powered = True
            self._clear_session()

    def process(self, command: bytes) -> bytes:
        """Execute one command APDU and return response data + SW."""
        with self._lock:
            self.apdu_count += 1
            try:
                apdu = CommandApdu.parse(command)
            except ProtocolError:
                return _sw(SW_WRONG_LENGTH).to_bytes()
            return self._dispatch(apdu).to_bytes()

    # --- inspection for tests, persistence and the demo tray --------------------------------------

    def pin(self, app_name: str, fid: int) -> PinState:
        for app in self._apps:
            if app.spec.name == app_name:
                return app.pins[fid]
        raise KeyError(app_name)

    def applications(self) -> list[str]:
        return [app.spec.name for app in self._apps]

    @property
    def security_state(self) -> frozenset[int]:
        return frozenset(self._verified)

    # --- dispatch ---------------------------------------------------------------------------------

    def _clear_session(self) -> None:
        self._current_app = None
        self._current = None
        self._verified.clear()

    def _dispatch(self, apdu: CommandApdu) -> ResponseApdu:
        if apdu.cla == 0xFF:
            return self._pseudo_apdu(apdu)
        if apdu.cla not in (0x00, 0x80):
            return _sw(SW_CLA)
        handler = _HANDLERS.get((apdu.cla, apdu.ins))
        if handler is None:
            return _sw(SW_INS)
        return handler(self, apdu)

    def _pseudo_apdu(self, apdu: CommandApdu) -> ResponseApdu:
        """PC/SC GET DATA (UID): a contactless reader answers it for the card; a contact reader does not."""
        if apdu.ins == 0xCA and apdu.p1 == 0x00 and self.image.interface == "contactless":
            return ResponseApdu(self.image.uid, 0x90, 0x00)
        return _sw(SW_CLA)

    def _select(self, apdu: CommandApdu) -> ResponseApdu:
        if apdu.p2 not in (0x0C, 0x00, 0x04):
            return _sw(SW_BAD_P1P2)
        if apdu.p1 == 0x04:
            return self._select_df(apdu)
        if apdu.p1 == 0x00 and apdu.data in (b"", b"\x3f\x00"):
            self._enter_df(None)
            return _sw(SW_OK)
        if apdu.p1 == 0x02:
            # Only P1=02 (EF under the current DF) works on the card; P1=09 did not (OpenSC #801).
            if len(apdu.data) != 2:
                return _sw(SW_WRONG_LENGTH)
            return self._select_ef(int.from_bytes(apdu.data, "big"))
        return _sw(SW_BAD_P1P2)

    def _select_df(self, apdu: CommandApdu) -> ResponseApdu:
        if not 5 <= len(apdu.data) <= 16:
            return _sw(SW_WRONG_LENGTH)
        for app in self._apps:
            if app.spec.aid == apdu.data:
                self._enter_df(app)
                if apdu.p2 == 0x0C:
                    return _sw(SW_OK)
                aid_tlv = b"\x84" + bytes((len(app.spec.aid),)) + app.spec.aid
                return ResponseApdu(b"\x6f" + bytes((len(aid_tlv),)) + aid_tlv, 0x90, 0x00)
        return _sw(SW_NOT_FOUND)

    def _enter_df(self, app: _Application | None) -> None:
        if app is not self._current_app or self.behaviour.clear_state_on_reselect:
            self._verified.clear()
        self._current_app = app
        self._current = None

    def _select_ef(self, fid: int) -> ResponseApdu:
        app = self._current_app
        if app is None:
            return _sw(SW_NOT_FOUND)
        found = app.spec.efs.get(fid) or app.pins.get(fid) or app.spec.keys.get(fid)
        if found is None:
            return _sw(SW_NOT_FOUND)
        self._current = found
        return _sw(SW_OK)

    def _by_short_id(self, sfi: int) -> EfSpec | PinState | KeySpec | None:
        app = self._current_app
        if app is None:
            return None
        for table in (app.spec.efs, app.pins):
            for fid, obj in table.items():
                if fid & 0x1F == sfi and fid >> 5 == 0:
                    return obj
        return None

    def _read_binary(self, apdu: CommandApdu) -> ResponseApdu:
        if apdu.p1 & 0x80:
            if not self.behaviour.read_by_short_id:
                return _sw(SW_BAD_P1P2)
            target = self._by_short_id(apdu.p1 & 0x1F)
            if not isinstance(target, EfSpec):
                return _sw(SW_NOT_FOUND)
            self._current = target
            offset = apdu.p2
        else:
            offset = (apdu.p1 << 8) | apdu.p2
        ef = self._current
        if not isinstance(ef, EfSpec):
            return _sw(SW_NOT_ALLOWED)
        if apdu.le is None or apdu.data:
            return _sw(SW_WRONG_LENGTH)
        if ef.read_pins and not self._verified.intersection(ef.read_pins):
            return _sw(SW_SECURITY)
        if offset >= ef.size:
            return _sw(SW_OFFSET)
        # Fewer bytes than Le near the end come back with 90 00, as the tools expect (§2.2).
        chunk = ef.padded[offset : offset + apdu.le]
        return ResponseApdu(chunk, 0x90, 0x00)

    def _resolve_pin(self, apdu: CommandApdu) -> PinState | ResponseApdu:
        if apdu.p2 == 0x80:
            pin = self._current
            if not isinstance(pin, PinState):
                return _sw(SW_NOT_ALLOWED)
            return pin
        if 0x81 <= apdu.p2 <= 0x9E and self.behaviour.verify_by_short_id:
            pin = self._by_short_id(apdu.p2 & 0x1F)
            if not isinstance(pin, PinState):
                return _sw(SW_NO_REFERENCE)
            return pin
        return _sw(SW_BAD_P1P2)

    def _verify(self, apdu: CommandApdu) -> ResponseApdu:
        if apdu.p1 != 0x00:
            return _sw(SW_BAD_P1P2)
        pin = self._resolve_pin(apdu)
        if isinstance(pin, ResponseApdu):
            return pin
        if not pin.is_set:
            # Awaiting its first value (issuance), or absent for good (a minor's sign password): UNCONFIRMED.
            return _sw(self.behaviour.unset_pin_sw if pin.awaiting_first_value else SW_NO_REFERENCE)
        if pin.blocked:
            return _sw(self.behaviour.blocked_sw)
        if not apdu.data:
            return _sw(0x63C0 | min(pin.remaining, 0x0F))
        if pin.matches(apdu.data):
            changed = pin.remaining != pin.max_tries
            pin.remaining = pin.max_tries
            self._verified.add(pin.fid)
            if changed:
                self._notify(pin)
            return _sw(SW_OK)
        pin.remaining -= 1
        self._verified.discard(pin.fid)
        self._notify(pin)
        return _sw(0x63C0 | min(pin.remaining, 0x0F))

    def _change_reference_data(self, apdu: CommandApdu) -> ResponseApdu:
        # Only P1=01 ("new value only, old one verified just before") is documented (card-protocol §2.1).
        if apdu.p1 != 0x01:
            return _sw(SW_BAD_P1P2)
        pin = self._resolve_pin(apdu)
        if isinstance(pin, ResponseApdu):
            return pin
        if not pin.is_set and not pin.awaiting_first_value:
            return _sw(SW_NO_REFERENCE)  # absent for good: nothing to set
        if pin.is_set:
            if pin.blocked:
                return _sw(self.behaviour.blocked_sw)
            if pin.fid not in self._verified:
                return _sw(SW_SECURITY)
        # else: the first value of a new card's PIN, accepted without a VERIFY (module docstring)
        if not pin_format_ok(pin.format, apdu.data):
            return _sw(SW_BAD_DATA)
        pin.set_value(apdu.data, salt=os.urandom(16))
        pin.remaining = pin.max_tries
        self._notify(pin)
        return _sw(SW_OK)

    def _sign(self, apdu: CommandApdu) -> ResponseApdu:
        if apdu.p1 != 0x00 or apdu.p2 != 0x80:
            return _sw(SW_BAD_P1P2)
        key = self._current
        if not isinstance(key, KeySpec):
            return _sw(SW_NOT_ALLOWED)
        if key.pin_fid not in self._verified:
            return _sw(SW_SECURITY)
        size = key.private_key.key_size // 8
        if not apdu.data or len(apdu.data) > size - RSA_PKCS1_OVERHEAD:
            return _sw(SW_WRONG_LENGTH)
        return ResponseApdu(rsa_pkcs1_sign_raw(key, apdu.data), 0x90, 0x00)

    def _read_record(self, apdu: CommandApdu) -> ResponseApdu:
        if apdu.p2 & 0x07 != 0x04:
            return _sw(SW_BAD_P1P2)
        app = self._current_app
        if app is None:
            return _sw(SW_NOT_FOUND)
        record = app.spec.records.get((apdu.p2 >> 3, apdu.p1))
        if record is None:
            return _sw(SW_RECORD_NOT_FOUND)
        return ResponseApdu(record[: apdu.le or 256], 0x90, 0x00)

    def _notify(self, pin: PinState) -> None:
        if self._listener is not None and self._current_app is not None:
            self._listener.pin_changed(self, self._current_app.spec.name, pin)


def rsa_pkcs1_sign_raw(key: KeySpec, data: bytes) -> bytes:
    """PKCS#1 v1.5 type-1 padding of caller data (normally a DigestInfo) and the RSA private operation.

    The card pads whatever it is given (card-protocol.md §2.1), so the host supplies the DigestInfo; the
    cryptography package only signs digests it wraps itself, hence the raw CRT operation here.
    """
    numbers = key.private_key.private_numbers()
    public = numbers.public_numbers
    size = (public.n.bit_length() + 7) // 8
    padded = b"\x00\x01" + b"\xff" * (size - len(data) - 3) + b"\x00" + data
    m = int.from_bytes(padded, "big")
    m1 = pow(m, numbers.dmp1, numbers.p)
    m2 = pow(m, numbers.dmq1, numbers.q)
    h = (numbers.iqmp * (m1 - m2)) % numbers.p
    return (m2 + h * numbers.q).to_bytes(size, "big")


def _sw(sw: int) -> ResponseApdu:
    return ResponseApdu(b"", sw >> 8, sw & 0xFF)


_HANDLERS = {
    (0x00, 0xA4): SimulatedCard._select,
    (0x00, 0xB0): SimulatedCard._read_binary,
    (0x00, 0xB2): SimulatedCard._read_record,
    (0x00, 0x20): SimulatedCard._verify,
    (0x00, 0x24): SimulatedCard._change_reference_data,
    (0x80, 0x2A): SimulatedCard._sign,
}

__all__ = ["CardBehaviour", "PinFormat", "PinState", "SimulatedCard", "StateListener", "rsa_pkcs1_sign_raw"]
