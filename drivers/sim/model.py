"""The simulated card's content as plain data: applications, EFs, PINs and keys.

``drivers.sim.profile`` builds a ``CardImage`` from a resident profile; ``drivers.sim.card`` runs APDUs
against it. Keeping the two apart lets tests build odd cards directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa

from drivers.pinformat import PinFormat

__all__ = ["ApplicationSpec", "CardImage", "EfSpec", "KeySpec", "PinFormat", "PinSpec"]


@dataclass(slots=True)
class PinSpec:
    """A PIN EF. ``value`` None means the PIN has no value: absent for good (a minor's sign password) or,
    with ``awaiting_first_value``, a new card in its issuance state whose holder has not chosen it yet."""

    fid: int
    value: bytes | None
    max_tries: int
    remaining: int
    format: PinFormat
    awaiting_first_value: bool = False


@dataclass(slots=True)
class EfSpec:
    """A transparent EF; ``size`` ≥ len(content), the rest reads as FF padding.

    ``read_pins``: reading needs one of these PIN FIDs verified in the same DF (empty = free read).
    """

    fid: int
    content: bytes
    size: int
    read_pins: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.size < len(self.content):
            raise ValueError(f"EF {self.fid:04X}: {len(self.content)} bytes exceed size {self.size}")

    @property
    def padded(self) -> bytes:
        return self.content + b"\xff" * (self.size - len(self.content))


@dataclass(slots=True)
class KeySpec:
    """A private-key EF usable with ``80 2A 00 80`` after ``pin_fid`` is verified."""

    fid: int
    private_key: rsa.RSAPrivateKey
    pin_fid: int


@dataclass(slots=True)
class ApplicationSpec:
    name: str
    aid: bytes
    efs: dict[int, EfSpec] = field(default_factory=dict)
    pins: dict[int, PinSpec] = field(default_factory=dict)
    keys: dict[int, KeySpec] = field(default_factory=dict)
    # READ RECORD content keyed by (SFI, record number)
    records: dict[tuple[int, int], bytes] = field(default_factory=dict)


@dataclass(slots=True)
class CardImage:
    """Everything a simulated card holds. ``profile_id`` names it in logs (never personal data)."""

    profile_id: str
    atr: bytes
    interface: str  # "contact" or "contactless"
    applications: list[ApplicationSpec]
    uid: bytes = b"\x00\x00\x00\x00"

    def application(self, name: str) -> ApplicationSpec:
        for app in self.applications:
            if app.name == name:
                return app
        raise KeyError(name)
