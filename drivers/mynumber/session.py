"""One card session: SELECT bookkeeping, whole-EF reads with the fewest APDUs, and PIN verification.

Rules that make it cheap and safe:
- no SELECT is sent for a DF or EF that is already current (the session mirrors the card's state and
  forgets it on any error or when another DF is selected, which also clears the card's security state);
- a READ of an EF of unknown size reads only the TLV the EF holds, never its FF padding: a few header
  bytes, then exactly the rest — in one extended READ where the reader passes them, else in 256-byte
  chunks (the card's clock runs on bytes as much as on APDUs: a 256-byte first chunk would over-read
  every EF smaller than that, e.g. basic 4);
- a PIN counter once read is remembered for the session and updated from every VERIFY answer, so showing
  the four counters again costs nothing; only the query right before a VERIFY always goes to the card;
- extended-length support is detected (an ``67 00``/``6A 86`` answer to an extended READ turns it off for
  the reader), unless the transport or the configuration already knows;
- VERIFY is always preceded by the retry-counter query and a policy decision (``pinpolicy``), and the PIN
  buffer is zeroed after use; PINs never reach a trace or an exception message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from drivers import errors, tlv
from drivers.apdu import CommandApdu, ResponseApdu
from drivers.channel import ApduChannel, TraceSink
from drivers.status import check, error_for, retries_from
from drivers.transport import Transport

LOG = logging.getLogger(__name__)

SHORT_CHUNK = 256
# Enough for the longest header a card TLV here has (two-byte tag FF20/7F21 + 82 LL LL = 5 bytes); the
# bytes after the header are content and are kept, so a larger value only moves where the rest starts.
TLV_HEADER_READ = 8
# Extended-length support learnt per reader name, so detection costs one APDU per reader per process.
_EXTENDED_BY_READER: dict[str, bool] = {}
_NO_EXTENDED_SWS = frozenset({0x6700, 0x6A86, 0x6D00, 0x6E00})
_END_OF_EF = 0x6B00  # offset outside the EF: what a READ past the end answers


# The retry query's answer for a new card's PIN that awaits its first value (issuance state). 69 85 is the
# simulator's choice (drivers/sim/card.py says why); UNCONFIRMED on real cards, kept apart from 69 84
# (blocked) and 6A 88 (no such PIN).
PIN_NOT_SET_SWS = frozenset({0x6985})


@dataclass(frozen=True, slots=True)
class PinStatus:
    """Tries left for one PIN; ``blocked`` when none are left; ``not_set`` for a PIN without a value.

    ``settable`` tells the two kinds of ``not_set`` apart: True for a new card's PIN awaiting its first
    value (issuance, ``drivers.mynumber.issuance``), False for one that can never be set (a minor's sign
    password).
    """

    name: str
    remaining: int
    maximum: int
    blocked: bool = False
    not_set: bool = False
    settable: bool = False


def _only_padding(data: bytes) -> bool:
    """An EF that was never written reads as FF (or 00) padding; a TLV tag like FF20 starts with FF too,
    so two bytes decide (no TLV on the card starts with FF FF or 00 00)."""
    head = data[:2]
    return head in (b"", b"\xff", b"\x00", b"\xff\xff", b"\x00\x00")


def zero(buffer: bytearray) -> None:
    """Overwrite a PIN buffer in place (Python strings cannot be wiped; bytearrays can)."""
    for index in range(len(buffer)):
        buffer[index] = 0


class CardSession:
    """The APDU-level state of one inserted card. Owned by one worker thread."""

    def __init__(self, transport: Transport, *, extended: bool | None = None,
                 trace: TraceSink | None = None) -> None:
        self.transport = transport
        self.channel = ApduChannel(transport, trace)
        known = extended if extended is not None else transport.supports_extended_apdus
        if known is None:
            known = _EXTENDED_BY_READER.get(transport.reader_name)
        self.extended: bool | None = known
        self._df: bytes | None = None
        self._ef: int | None = None
        self._verified: set[int] = set()
        self._counters: dict[tuple[bytes, int], PinStatus] = {}  # (DF's AID or b"", PIN EF)

    # --- selection ------------------------------------------------------------------------------

    @staticmethod
    def known_extended_support(reader_name: str) -> bool | None:
        """Whether this process's card sessions found that ``reader_name`` passes extended APDUs (None: not
        learnt yet). What the running kiosk uses; reading it touches no card (the maintenance menu)."""
        return _EXTENDED_BY_READER.get(reader_name)

    @property
    def current_df(self) -> bytes | None:
        return self._df

    def send(self, command: CommandApdu, extended: bool | None = None) -> ResponseApdu:
        """Send, forgetting the mirrored selection if anything goes wrong (the card may have reset)."""
        try:
            return self.channel.transceive(command, extended)
        except errors.CardError:
            self.forget()
            raise

    def forget(self) -> None:
        self._df = None
        self._ef = None
        self._verified.clear()

    def is_verified(self, fid: int) -> bool:
        """True when this PIN was verified in the current DF and nothing since can have cleared it."""
        return fid in self._verified

    def select_df(self, aid: bytes) -> None:
        if self._df == aid:
            return
        response = self.send(CommandApdu(0x00, 0xA4, 0x04, 0x0C, aid))
        self.forget()  # selecting another DF clears the card's security state
        if not response.ok:
            raise error_for(response.sw)
        self._df = aid

    def select_ef(self, fid: int) -> None:
        if self._ef == fid:
            return
        response = self.send(CommandApdu(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))
        if not response.ok:
            self._ef = None
            raise error_for(response.sw)
        self._ef = fid

    # --- reading ----------------------------------------------------------------------------------

    def read_binary(self, offset: int, length: int) -> bytes:
        """One READ BINARY of ``length`` bytes (1..65536) at ``offset`` of the current EF."""
        if not 0 <= offset <= 0x7FFF:
            raise errors.ProtocolError(f"offset {offset} outside what READ BINARY can address")
        command = CommandApdu(0x00, 0xB0, offset >> 8, offset & 0xFF, le=length)
        return check(self.send(command, extended=length > SHORT_CHUNK)).data

    def _first_read(self, fid: int, length: int, by_short_id: bool) -> ResponseApdu:
        """READ at offset 0 of ``fid``: SELECT + READ, or one READ with P1 = 80 | short EF id.

        The short-id form (jsapdu's, seen against real cards on the card-info APs; UNCONFIRMED for JPKI)
        saves the SELECT; the EF becomes the current one either way.
        """
        extended = length > SHORT_CHUNK
        if by_short_id:
            response = self.send(CommandApdu(0x00, 0xB0, 0x80 | (fid & 0x1F), 0x00, le=length), extended)
            if response.ok:
                self._ef = fid
            return response
        self.select_ef(fid)
        return self.send(CommandApdu(0x00, 0xB0, 0x00, 0x00, le=length), extended)

    def read_exact(self, fid: int, size: int, *, by_short_id: bool = False) -> bytes:
        """Read a fixed-size EF (My Number 17, EF 0003 336, EF 0004 568 bytes)."""
        if size > SHORT_CHUNK and self._extended_ok():
            data = self._try_extended(fid, size, by_short_id)
            if data is not None:
                return self._complete(data, size, fid)
        first = check(self._first_read(fid, min(size, SHORT_CHUNK), by_short_id)).data
        return self._require(self._read_chunks(len(first), size, bytearray(first)), size, fid)

    def read_tlv_ef(self, fid: int, *, by_short_id: bool = False) -> bytes:
        """Read the BER-TLV object an EF holds (a certificate, basic 4, card-face entries).

        The EF is larger than its content and padded with FF; only the TLV is returned, and an EF that
        holds nothing but padding (a minor's signing certificate) reads as ``b""``.
        """
        head = check(self._first_read(fid, TLV_HEADER_READ, by_short_id)).data
        return self._rest_of_tlv(head, fid)

    def _read_chunks(self, offset: int, size: int, into: bytearray) -> bytes:
        """Short READs from EF position ``offset`` up to position ``size``, appended to ``into``."""
        while offset < size:
            try:
                chunk = self.read_binary(offset, min(SHORT_CHUNK, size - offset))
            except errors.OffsetOutOfRange:  # a length header that promised more than the EF holds
                break
            if not chunk:
                break
            into += chunk
            offset += len(chunk)
        return bytes(into)

    def _rest_of_tlv(self, head: bytes, fid: int) -> bytes:
        """After the header bytes, exactly the rest of the TLV (one extended READ where the reader allows)."""
        if _only_padding(head):
            return b""
        size = tlv.total_length(head)
        data = head[:size]
        if len(data) < size:
            data += self.read_span(len(data), size - len(data))
        return self._require(data, size, fid)

    def read_span(self, offset: int, length: int) -> bytes:
        """``length`` bytes at ``offset`` of the current EF: one extended READ when the reader passes them
        (learnt here if not yet known), else 256-byte chunks. Shorter when the EF ends early: callers check."""
        data = b""
        if length > SHORT_CHUNK and self.extended is not False:
            command = CommandApdu(0x00, 0xB0, offset >> 8, offset & 0xFF, le=length)
            response = self.send(command, extended=True)
            if response.sw in _NO_EXTENDED_SWS and self.extended is None:
                self._learn_extended(False)
            elif response.sw == _END_OF_EF:
                return data
            else:
                data = check(response).data[:length]
                if self.extended is None:
                    self._learn_extended(True)
        if len(data) < length:
            data = self._read_chunks(offset + len(data), offset + length, bytearray(data))
        return data

    def _complete(self, data: bytes, size: int, fid: int) -> bytes:
        """An extended READ may legally answer fewer bytes than asked (Le is a maximum; a card that said
        ``6C xx`` got a short Le): the rest of the current EF comes in short chunks."""
        if len(data) < size:
            data = self._read_chunks(len(data), size, bytearray(data))
        return self._require(data, size, fid)

    @staticmethod
    def _require(data: bytes, size: int, fid: int) -> bytes:
        if len(data) < size:
            raise errors.ProtocolError(f"EF {fid:04X} ended after {len(data)} of {size} bytes")
        return data[:size]

    def _extended_ok(self) -> bool:
        return self.extended is not False

    def _try_extended(self, fid: int, length: int, by_short_id: bool) -> bytes | None:
        """One extended READ from offset 0; None (and extended off for this reader) if it is refused."""
        response = self._first_read(fid, length, by_short_id)
        if response.sw in _NO_EXTENDED_SWS and self.extended is None:
            self._learn_extended(False)
            return None
        check(response)
        if self.extended is None:
            self._learn_extended(True)
        return response.data

    def _learn_extended(self, supported: bool) -> None:
        self.extended = supported
        _EXTENDED_BY_READER[self.transport.reader_name] = supported
        LOG.info("reader %r %s extended APDUs", self.transport.reader_name,
                 "passes" if supported else "does not pass")

    # --- PINs ---------------------------------------------------------------------------------------

    def known_pin_status(self, aid: bytes, fid: int) -> PinStatus | None:
        """The counter of PIN ``fid`` of application ``aid`` as last read or answered in this session.

        Only this session's own VERIFY and CHANGE REFERENCE DATA can move a counter while the card stays in
        the kiosk's reader (it holds the card exclusively), and both update or drop what is known here.
        """
        return self._counters.get((aid, fid))

    def pin_status(self, fid: int, name: str, maximum: int, *, by_short_id: bool = False) -> PinStatus:
        """The retry counter of the PIN EF ``fid`` in the current DF (``00 20 00 80``, spends nothing);
        always asked of the card, and remembered (``known_pin_status``)."""
        status = self._query_counter(fid, name, maximum, by_short_id)
        self._counters[(self._df or b"", fid)] = status
        return status

    def _query_counter(self, fid: int, name: str, maximum: int, by_short_id: bool) -> PinStatus:
        p2 = 0x80
        if by_short_id:
            p2 |= fid & 0x1F
        else:
            self.select_ef(fid)
        sw = self.send(CommandApdu(0x00, 0x20, 0x00, p2)).sw
        remaining = retries_from(sw)
        if remaining is not None:
            return PinStatus(name, remaining, maximum, blocked=remaining == 0)
        if sw == 0x9000:  # some cards answer 90 00 when the PIN is already verified
            return PinStatus(name, maximum, maximum)
        if sw in (0x6983, 0x6984):
            return PinStatus(name, 0, maximum, blocked=True)
        if sw == 0x6A88:
            return PinStatus(name, 0, maximum, not_set=True)
        if sw in PIN_NOT_SET_SWS:
            return PinStatus(name, 0, maximum, not_set=True, settable=True)
        raise error_for(sw)

    def verify_pin(self, fid: int, pin: bytearray, *, by_short_id: bool = False, name: str | None = None) -> None:
        """VERIFY the PIN EF ``fid``; the buffer is zeroed after, whatever happens.

        ``by_short_id`` sends P2 = 80 + short EF id without selecting the PIN EF (jsapdu's variant, used
        against real cards for the card-info APs; UNCONFIRMED for JPKI, so callers use it only there).
        The card gets a copy of the bytes inside the APDU; Python cannot wipe that copy, which is why the
        caller's buffer is the only long-lived one and is zeroed here.
        """
        try:
            p2 = 0x80
            if by_short_id:
                p2 |= fid & 0x1F
            else:
                self.select_ef(fid)
            key = (self._df or b"", fid)
            known = self._counters.pop(key, None)  # unknown until the card's answer says otherwise
            response = self.send(CommandApdu(0x00, 0x20, 0x00, p2, bytes(pin)))
        finally:
            zero(pin)
        if not response.ok:
            self._verified.discard(fid)
            error = error_for(response.sw)
            if isinstance(error, errors.WrongPin):
                error.pin_name = name
                if known is not None:
                    self._counters[key] = PinStatus(known.name, error.remaining, known.maximum,
                                                    blocked=error.remaining <= 0)
            elif isinstance(error, errors.PinBlocked) and known is not None:
                self._counters[key] = PinStatus(known.name, 0, known.maximum, blocked=True)
            raise error
        self._verified.add(fid)
        if known is not None:  # a right PIN resets the counter to its maximum (ISO 7816-4)
            self._counters[key] = PinStatus(known.name, known.maximum, known.maximum)

    def change_reference_data(self, fid: int, new_pin: bytearray) -> None:
        try:
            self.select_ef(fid)
            self._counters.pop((self._df or b"", fid), None)  # a new or changed PIN: read its counter again
            response = self.send(CommandApdu(0x00, 0x24, 0x01, 0x80, bytes(new_pin)))
        finally:
            zero(new_pin)
        if not response.ok:
            raise error_for(response.sw)

    def sign(self, key_fid: int, data: bytes) -> bytes:
        """``80 2A 00 80``: the card pads ``data`` (a DigestInfo) with PKCS#1 v1.5 and signs it."""
        self.select_ef(key_fid)
        return check(self.send(CommandApdu(0x80, 0x2A, 0x00, 0x80, data, le=256))).data
