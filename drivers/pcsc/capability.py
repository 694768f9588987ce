"""What a reader can do, for ``kiosk doctor``: contact or contactless, and whether it passes extended APDUs.

Both answers are for an operator choosing or checking a reader; the card driver never depends on them:

* The interface is guessed from the ATR and the reader's name. PC/SC part 3 readers synthesise an ATR for
  a contactless ISO 14443-4 card (``3B 8n 80 01`` + historical bytes + TCK); a contact card sends its own
  ATR (the My Number card's start ``3B E0`` / ``3B DA``). pcsc-lite names a slot after its USB interface,
  so "PICC" (ACS), "Contactless" or "NFC" in a name suggests a contactless slot and "SAM" a SAM slot. All
  of it is a heuristic: every answer says UNCONFIRMED.
* Extended APDUs are probed the way the card driver decides them, by the driver itself: a
  ``CardSession`` that does not know yet reads the JPKI AP's auth CA certificate (EF 000B: public, no
  personal data, ~1.3 KB) with one extended READ BINARY (``session.read_span``) and learns from the answer.
  This module only records what went over the wire to say which case it was, and never sends a PIN.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers import errors
from drivers.mynumber import aids
from drivers.mynumber.certificates import parse_certificate
from drivers.mynumber.session import CardSession
from drivers.transport import Transport

CONTACTLESS, CONTACT, UNKNOWN = "contactless", "contact", "unknown"

# Words pcsc-lite reader names carry for a contactless slot (interface names such as "ACR122U PICC
# Interface", product names such as "PaSoRi"); UNCONFIRMED beyond the readers named in docs/hardware.md.
_CONTACTLESS_NAME_HINTS = ("picc", "contactless", "nfc", "pasori", "felica", "rc-s3")
_SAM_NAME_HINTS = (" sam", "[sam")

# Extended-probe outcomes.
PASSES = "passes"  # one extended READ came back whole
REFUSED = "refused"  # answered 67 00 / 6A 86 …: the driver then reads in 256-byte pieces
CUT = "cut"  # the reader passed the extended READ but returned less than asked; the driver reads the rest
FAILED = "failed"  # the reader failed the extended command itself: the driver cannot read cards through it
NOT_PROBED = "unknown"  # no card, not a My Number card, or not asked


@dataclass(frozen=True, slots=True)
class ReaderInterface:
    kind: str  # CONTACT | CONTACTLESS | UNKNOWN
    basis: str  # why, in words; always says UNCONFIRMED (a heuristic)


def is_contactless_atr(atr: bytes) -> bool:
    """The ATR PC/SC part 3 readers build for a contactless ISO 14443-4 card: 3B 8n 80 01 …"""
    return len(atr) >= 4 and atr[0] == 0x3B and atr[1] & 0xF0 == 0x80 and atr[2] == 0x80 and atr[3] == 0x01


def reader_interface(name: str, atr: bytes | None) -> ReaderInterface:
    """Contact or contactless, from the ATR when a card is in the reader, else from the reader's name."""
    lowered = name.lower()
    hinted = next((hint for hint in _CONTACTLESS_NAME_HINTS if hint in lowered), None)
    if atr:
        if is_contactless_atr(atr):
            return ReaderInterface(CONTACTLESS, "the ATR has the form PC/SC part 3 readers synthesise for a "
                                   "contactless card (3B 8n 80 01 …) — UNCONFIRMED heuristic")
        note = f"; the reader's name says {hinted!r}, so check the reader" if hinted else ""
        return ReaderInterface(CONTACT, "the ATR is the card's own, not the PC/SC contactless form — UNCONFIRMED "
                               f"heuristic{note}")
    if hinted:
        return ReaderInterface(CONTACTLESS, f"the reader's name says {hinted!r} — UNCONFIRMED heuristic; "
                               "insert a card to check by its ATR")
    if any(hint in lowered for hint in _SAM_NAME_HINTS):
        return ReaderInterface(UNKNOWN, "the name suggests a SAM slot (for a security module, not for residents' "
                               "cards) — UNCONFIRMED")
    return ReaderInterface(UNKNOWN, "unknown — insert a card (the ATR tells contact from contactless)")


@dataclass(frozen=True, slots=True)
class ExtendedProbe:
    status: str  # PASSES | REFUSED | CUT | FAILED | NOT_PROBED
    detail: str
    apdus: int = 0  # APDUs the probe sent


class _Recorder(Transport):
    """Passes every APDU through and keeps (command, answer) pairs; answers None when the reader failed.

    Its reader name is its own so that what the probe learns stays out of what the driver remembers per
    reader in this process (``CardSession`` keeps one answer per reader name)."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport
        self.exchanges: list[tuple[bytes, bytes | None]] = []

    @property
    def atr(self) -> bytes:
        return self._transport.atr

    @property
    def reader_name(self) -> str:
        return f"{self._transport.reader_name} (capability probe)"

    @property
    def supports_extended_apdus(self) -> bool | None:
        return None  # unknown on purpose: the session must probe

    def transmit(self, command: bytes) -> bytes:
        self.exchanges.append((command, None))
        answer = self._transport.transmit(command)
        self.exchanges[-1] = (command, answer)
        return answer

    def close(self) -> None:
        """The caller owns the real transport and closes it."""


def _is_extended_read(command: bytes) -> bool:
    return len(command) == 7 and command[1] == 0xB0 and command[4] == 0x00


def probe_extended_apdus(transport: Transport) -> ExtendedProbe:
    """Whether extended APDUs pass this reader, decided by the card driver's own read (see module doc).

    Reads only the auth CA certificate of the JPKI AP; never a PIN, never personal data.
    """
    recorder = _Recorder(transport)
    session = CardSession(recorder)
    session.extended = None  # not what an earlier probe of this reader learnt: ask the reader now
    try:
        session.select_df(aids.JPKI.aid)
    except errors.CardError as exc:
        return ExtendedProbe(NOT_PROBED, f"unknown — the card has no JPKI application to read ({exc})",
                             len(recorder.exchanges))
    try:
        der = session.read_tlv_ef(aids.EF_AUTH_CA)
        failure = None
    except errors.CardError as exc:
        der, failure = b"", exc
    sent = len(recorder.exchanges)
    extended = [(command, answer) for command, answer in recorder.exchanges if _is_extended_read(command)]
    if not extended:
        if failure is not None:
            return ExtendedProbe(NOT_PROBED, f"unknown — the CA certificate could not be read ({failure})", sent)
        return ExtendedProbe(NOT_PROBED, f"unknown — the certificate ({len(der)} bytes) fits one short READ", sent)
    command, answer = extended[0]
    asked = int.from_bytes(command[5:7], "big") or 65536
    if answer is None or (failure is not None and session.extended is None):
        why = failure if failure is not None else "no answer"
        return ExtendedProbe(FAILED, f"the reader failed an extended READ BINARY of {asked} bytes ({why}) instead of "
                             "answering it; the card driver cannot read cards through this reader", sent)
    sw = int.from_bytes(answer[-2:], "big") if len(answer) >= 2 else 0
    if session.extended is False:
        return ExtendedProbe(REFUSED, f"no: an extended READ BINARY was answered {sw:04X}; the kiosk reads in "
                             f"256-byte pieces instead ({sent} APDUs for this {len(der)}-byte certificate)", sent)
    if failure is not None:
        return ExtendedProbe(FAILED, f"the certificate could not be read after an extended READ ({failure})", sent)
    got = len(answer) - 2
    whole = _parses(der)
    if got >= asked and whole:
        return ExtendedProbe(PASSES, f"yes: one extended READ BINARY returned all {asked} bytes "
                             f"({sent} APDUs for the {len(der)}-byte certificate)", sent)
    return ExtendedProbe(CUT, f"partly: an extended READ BINARY of {asked} bytes returned {got}; the kiosk reads "
                         f"the rest in 256-byte pieces ({sent} APDUs)" + ("" if whole else
                                                                           "; the certificate read was not whole"),
                         sent)


def _parses(der: bytes) -> bool:
    try:
        parse_certificate(der)
    except errors.ProtocolError:
        return False
    return True


__all__ = ["CONTACT", "CONTACTLESS", "CUT", "FAILED", "NOT_PROBED", "PASSES", "REFUSED", "UNKNOWN", "ExtendedProbe",
           "ReaderInterface", "is_contactless_atr", "probe_extended_apdus", "reader_interface"]
