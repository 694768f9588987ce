"""ISO 7816-4 command and response APDUs: encoding, parsing, and redaction for traces.

Short encoding is preferred; the extended form is used only when the data or Le does not fit, or when the
caller asks for it (readers differ in whether they pass extended APDUs, so that is the caller's decision).
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.errors import ProtocolError

MAX_SHORT_LC = 255
MAX_SHORT_LE = 256
MAX_EXTENDED_LE = 65536

# Instructions whose data field is a PIN: their data never leaves this module unredacted.
INS_VERIFY = 0x20
INS_CHANGE_REFERENCE_DATA = 0x24
INS_RESET_RETRY_COUNTER = 0x2C
PIN_CARRYING_INS = frozenset({INS_VERIFY, INS_CHANGE_REFERENCE_DATA, INS_RESET_RETRY_COUNTER})


@dataclass(frozen=True, slots=True)
class CommandApdu:
    """A command APDU. ``le`` is the expected length (1..65536) or None when no data is expected."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            value = getattr(self, name)
            if not 0 <= value <= 0xFF:
                raise ValueError(f"{name} must be a byte, got {value}")
        if len(self.data) > 65535:
            raise ValueError("command data longer than 65535 bytes")
        if self.le is not None and not 1 <= self.le <= MAX_EXTENDED_LE:
            raise ValueError(f"Le must be 1..65536, got {self.le}")

    @property
    def needs_extended(self) -> bool:
        return len(self.data) > MAX_SHORT_LC or (self.le is not None and self.le > MAX_SHORT_LE)

    def encode(self, extended: bool | None = None) -> bytes:
        """Encode; ``extended=None`` picks the short form whenever it fits."""
        use_extended = self.needs_extended if extended is None else extended
        if not use_extended and self.needs_extended:
            raise ValueError("this command does not fit a short APDU")
        header = bytes((self.cla, self.ins, self.p1, self.p2))
        if not use_extended:
            body = b""
            if self.data:
                body += bytes((len(self.data),)) + self.data
            if self.le is not None:
                body += bytes((self.le & 0xFF,))  # 256 encodes as 00
            return header + body
        body = b""
        if self.data:
            body += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
        if self.le is not None:
            le = (self.le & 0xFFFF).to_bytes(2, "big")  # 65536 encodes as 00 00
            body += le if self.data else b"\x00" + le
        return header + body

    @classmethod
    def parse(cls, raw: bytes) -> CommandApdu:
        """Parse any of the seven ISO cases (1, 2S, 3S, 4S, 2E, 3E, 4E); raise ProtocolError otherwise."""
        if len(raw) < 4:
            raise ProtocolError(f"command APDU too short ({len(raw)} bytes)")
        cla, ins, p1, p2 = raw[0], raw[1], raw[2], raw[3]
        body = raw[4:]
        n = len(body)
        if n == 0:
            return cls(cla, ins, p1, p2)
        if n == 1:
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        if body[0] != 0:
            lc = body[0]
            if n == 1 + lc:
                return cls(cla, ins, p1, p2, bytes(body[1:]))
            if n == 2 + lc:
                return cls(cla, ins, p1, p2, bytes(body[1 : 1 + lc]), le=body[-1] or 256)
            raise ProtocolError(f"short APDU body of {n} bytes does not match Lc={lc}")
        # extended forms start with 00
        if n == 3:
            return cls(cla, ins, p1, p2, le=int.from_bytes(body[1:3], "big") or 65536)
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0 or n < 3 + lc:
            raise ProtocolError(f"extended APDU body of {n} bytes does not match Lc={lc}")
        data = bytes(body[3 : 3 + lc])
        if n == 3 + lc:
            return cls(cla, ins, p1, p2, data)
        if n == 5 + lc:
            return cls(cla, ins, p1, p2, data, le=int.from_bytes(body[3 + lc :], "big") or 65536)
        raise ProtocolError(f"extended APDU body of {n} bytes does not match Lc={lc}")

    @property
    def carries_pin(self) -> bool:
        return self.ins in PIN_CARRYING_INS and bool(self.data)

    def redacted_hex(self, extended: bool | None = None) -> str:
        """Hex for traces and logs: a PIN-carrying data field is replaced by ``**`` of its length."""
        if not self.carries_pin:
            return self.encode(extended).hex(" ").upper()
        header = bytes((self.cla, self.ins, self.p1, self.p2, len(self.data))).hex(" ").upper()
        return f"{header} <{len(self.data)} bytes redacted>"


@dataclass(frozen=True, slots=True)
class ResponseApdu:
    """A response APDU: data and the two status bytes."""

    data: bytes
    sw1: int
    sw2: int

    @classmethod
    def from_bytes(cls, raw: bytes) -> ResponseApdu:
        if len(raw) < 2:
            raise ProtocolError(f"response of {len(raw)} bytes has no status word")
        return cls(bytes(raw[:-2]), raw[-2], raw[-1])

    @property
    def sw(self) -> int:
        return (self.sw1 << 8) | self.sw2

    @property
    def ok(self) -> bool:
        return self.sw == 0x9000

    def to_bytes(self) -> bytes:
        return self.data + bytes((self.sw1, self.sw2))
