"""An APDU channel over a transport: typed commands in, typed responses out, counted and traced.

It hides the two ISO 7816 transport quirks a card may use (``61 xx`` → GET RESPONSE, ``6C xx`` → resend
with the right Le) so that application code only sees complete answers, and it counts APDUs and bytes so
that tests and benchmarks can hold the driver to its APDU budget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from drivers.apdu import CommandApdu, ResponseApdu
from drivers.errors import ProtocolError
from drivers.transport import Transport

TRACE = logging.getLogger("drivers.apdu")
MAX_CHAINED_RESPONSES = 64


@dataclass(slots=True)
class ChannelStats:
    apdus: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0

    def reset(self) -> None:
        self.apdus = self.bytes_sent = self.bytes_received = 0


TraceSink = Callable[[str, str], None]


class ApduChannel:
    """Sends ``CommandApdu``s and returns ``ResponseApdu``s; never raises on a status word."""

    def __init__(self, transport: Transport, trace: TraceSink | None = None) -> None:
        self.transport = transport
        self.stats = ChannelStats()
        self._trace = trace

    def _exchange(self, command: CommandApdu, extended: bool | None) -> ResponseApdu:
        raw = command.encode(extended)
        answer = self.transport.transmit(raw)
        self.stats.apdus += 1
        self.stats.bytes_sent += len(raw)
        self.stats.bytes_received += len(answer)
        response = ResponseApdu.from_bytes(answer)
        if self._trace is not None or TRACE.isEnabledFor(logging.DEBUG):
            line_out = command.redacted_hex(extended)
            line_in = f"{len(response.data)} bytes, SW={response.sw:04X}"
            if self._trace is not None:
                self._trace(line_out, line_in)
            TRACE.debug("> %s", line_out)
            TRACE.debug("< %s", line_in)
        return response

    def transceive(self, command: CommandApdu, extended: bool | None = None) -> ResponseApdu:
        response = self._exchange(command, extended)
        if response.sw1 == 0x6C and command.le is not None:
            # Wrong Le: the card tells the right one; resend once with it.
            fixed = CommandApdu(command.cla, command.ins, command.p1, command.p2, command.data,
                                le=response.sw2 or 256)
            response = self._exchange(fixed, extended)
        data = bytearray(response.data)
        rounds = 0
        while response.sw1 == 0x61:
            rounds += 1
            if rounds > MAX_CHAINED_RESPONSES:
                raise ProtocolError("card kept answering 61xx")
            get_response = CommandApdu(0x00, 0xC0, 0x00, 0x00, le=response.sw2 or 256)
            response = self._exchange(get_response, False)
            data += response.data
        if rounds:
            response = ResponseApdu(bytes(data), response.sw1, response.sw2)
        return response
