"""Serve a virtual card to vpcd (vsmartcard's pcscd driver) so that PC/SC clients see it in a real reader.

Why this exists: pyscard, ``pcsc_scan`` and OpenSC only talk to pcscd. vpcd is a pcscd reader driver that
listens on TCP (one port per reader, ``/etc/reader.conf.d/vpcd``); a "card" is whatever connects to it.
This module is that card's network side; the card's logic lives in any object satisfying ``VirtualIcc``.

Wire protocol (both ways): a 2-byte big-endian length, then the payload. From vpcd, a 1-byte payload is a
control byte (00 power off, 01 power on, 02 reset — no reply; 04 ATR request — reply with the ATR); a
longer payload is a command APDU (reply: response data + SW1 SW2). Connecting means "card inserted",
closing means "card removed". vpcd sends an ATR request every ~400 ms, so the connection must always be
served, not only while a client talks to the card.

Pitfalls handled here (see platform-notes.md):

* vpcd writes the length and the payload in two ``send()`` calls without TCP_NODELAY: Nagle on its side
  meets delayed ACK on ours and costs 44 ms per APDU. ``TCP_QUICKACK`` is reset by the kernel after use,
  so it is set again before every ``recv``.
* Removing and re-inserting within one pcscd poll leaves the reader stuck "empty": ``insert()`` waits until
  at least ``REINSERT_GAP`` seconds have passed since the last removal on the same port, even when the
  previous removal was made by another ``VpiccServer`` instance.

Privacy: command APDUs may carry PINs. Nothing here logs APDU data; failures are logged with the exception
type, the INS byte and the place where it was raised, never the data or the exception's message.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
import traceback

from drivers.sim import faults as _faults

log = logging.getLogger(__name__)

DEFAULT_PORT = 0x8C7B  # vpcd's CHANNELID in Debian's /etc/reader.conf.d/vpcd; reader N listens on +N
REINSERT_GAP = 0.5  # seconds; one pcscd poll (400 ms) plus margin
SW_NO_PRECISE_DIAGNOSIS = b"\x6f\x00"

__all__ = ["DEFAULT_PORT", "REINSERT_GAP", "CardPulled", "VirtualIcc", "VpiccServer"]

CTRL_POWER_OFF = 0x00
CTRL_POWER_ON = 0x01
CTRL_RESET = 0x02
CTRL_ATR = 0x04


# The card shape is defined once, beside the fault wrapper that shares it.
VirtualIcc = _faults.Icc


# One exception class for "the card left mid-command", shared with the fault-injection wrapper
# (drivers.sim.faults.FaultyCard raises it): re-exported here so that ``drivers.sim.vpicc.CardPulled`` and
# ``drivers.sim.faults.CardPulled`` are the same class and either spelling is caught by the server.
# When a card's ``process`` raises it, the server drops the connection without answering — what a reader
# sees when the contacts open: pcscd reports the card removed and the pending transmit fails.
CardPulled = _faults.CardPulled


# Last removal time per (host, port), shared by every server in the process: the pcscd pitfall is about
# the reader, not about the Python object that served the card.
_last_removal: dict[tuple[str, int], float] = {}
_last_removal_lock = threading.Lock()


def _recv_exactly(sock: socket.socket, count: int) -> bytes | None:
    """Read exactly ``count`` bytes; None when the peer closed first. TCP may split any message."""
    chunks = bytearray()
    while len(chunks) < count:
        _quickack(sock)
        chunk = sock.recv(count - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def _quickack(sock: socket.socket) -> None:
    quickack = getattr(socket, "TCP_QUICKACK", None)  # Linux only
    if quickack is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)


def _frame(payload: bytes) -> bytes:
    if len(payload) > 0xFFFF:
        raise ValueError("vpicc message longer than 65535 bytes")
    return len(payload).to_bytes(2, "big") + payload


def _where(exc: BaseException) -> str:
    """file:line of the innermost frame, to make a failure findable without logging its message."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno}"


class VpiccServer:
    """One virtual card in one vpcd reader. Thread-safe: insert/remove may be called from any thread.

    The card object is only ever called from the serving thread, so it needs no locking of its own.
    """

    def __init__(
        self,
        card: VirtualIcc,
        port: int = DEFAULT_PORT,
        host: str = "127.0.0.1",
        *,
        reinsert_gap: float = REINSERT_GAP,
    ) -> None:
        self.card = card
        self.port = port
        self.host = host
        self.reinsert_gap = reinsert_gap
        self._lock = threading.RLock()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._removed = threading.Event()
        self._removed.set()
        self.apdu_count = 0  # command APDUs answered (or pulled) since construction; for tests and benches

    # --- state -------------------------------------------------------------------------------------------

    @property
    def inserted(self) -> bool:
        """True while connected to vpcd (the reader sees a card)."""
        return not self._removed.is_set()

    def wait_removed(self, timeout: float | None = None) -> bool:
        """Wait until the card is out (``remove()``, ``CardPulled`` or vpcd dropped us); False on timeout."""
        return self._removed.wait(timeout)

    # --- insert / remove -------------------------------------------------------------------------------

    def insert(self, timeout: float = 10.0) -> None:
        """Connect to vpcd (= insert the card) and serve it on a background thread.

        Retries while vpcd refuses (pcscd starting or restarting). Waits out the re-insert gap first.
        No-op when already inserted. Raises ``ConnectionError`` when vpcd does not accept within ``timeout``.
        """
        with self._lock:
            if self.inserted:
                return
            self._reap_thread()
            self._wait_reinsert_gap()
            sock = self._connect(timeout)
            self._sock = sock
            self._removed.clear()
            self._thread = threading.Thread(
                target=self._serve, args=(sock,), name=f"vpicc-{self.port}", daemon=True
            )
            self._thread.start()
        log.info("virtual card inserted into vpcd port %d", self.port)

    def remove(self, timeout: float = 5.0) -> None:
        """Close the connection (= pull the card) and join the serving thread. Idempotent."""
        with self._lock:
            sock = self._sock
            if sock is not None:
                # shutdown() wakes the serving thread's blocking recv(); it closes the socket itself.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._reap_thread(timeout)

    def _reap_thread(self, timeout: float = 5.0) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError(f"vpicc serving thread for port {self.port} did not stop")
            self._thread = None

    def serve_forever(self, stop_event: threading.Event, *, poll: float = 0.2) -> None:
        """Keep the card inserted until ``stop_event`` is set (foreground mode of the CLI).

        When pcscd restarts, vpcd drops the connection; we reconnect (after the re-insert gap) as soon as
        vpcd listens again, so a long-running demo survives ``systemctl restart pcscd``.
        """
        try:
            while not stop_event.is_set():
                if not self.inserted:
                    try:
                        self.insert(timeout=poll)
                    except ConnectionError:
                        stop_event.wait(poll)
                        continue
                    except RuntimeError:
                        log.exception("vpicc: could not re-insert the card on port %d", self.port)
                        stop_event.wait(1.0)
                        continue
                # Wake up on removal or every ``poll`` seconds to look at stop_event.
                self._removed.wait(poll)
        finally:
            self.remove()

    def __enter__(self) -> VpiccServer:
        self.insert()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()

    # --- internals -------------------------------------------------------------------------------------

    def _wait_reinsert_gap(self) -> None:
        with _last_removal_lock:
            last = _last_removal.get((self.host, self.port))
        if last is not None:
            delay = last + self.reinsert_gap - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def _connect(self, timeout: float) -> socket.socket:
        deadline = time.monotonic() + timeout
        last_error: OSError | None = None
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=max(0.1, timeout))
            except OSError as exc:  # refused while pcscd (and so vpcd) is not up yet
                last_error = exc
                if time.monotonic() >= deadline:
                    raise ConnectionError(
                        f"vpcd does not accept connections on {self.host}:{self.port} "
                        f"(is pcscd running with vsmartcard-vpcd configured?): {exc}"
                    ) from last_error
                time.sleep(0.05)
                continue
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock

    def _serve(self, sock: socket.socket) -> None:
        try:
            self._serve_loop(sock)
        except OSError as exc:
            # A reset by vpcd (pcscd killed) or our own shutdown(): both simply mean "card out".
            log.debug("vpicc port %d: connection ended (%s)", self.port, type(exc).__name__)
        except Exception as exc:
            log.error(
                "vpicc port %d: serving stopped by %s at %s", self.port, type(exc).__name__, _where(exc)
            )
        finally:
            with contextlib.suppress(OSError):
                sock.close()
            with _last_removal_lock:
                _last_removal[(self.host, self.port)] = time.monotonic()
            # No self._lock here: remove() holds it while joining this thread. Plain assignment is safe
            # because insert() only replaces the socket after this thread has ended (it joins it first).
            if self._sock is sock:
                self._sock = None
            self._removed.set()
            log.info("virtual card removed from vpcd port %d", self.port)

    def _serve_loop(self, sock: socket.socket) -> None:
        while True:
            header = _recv_exactly(sock, 2)
            if header is None:
                return
            length = int.from_bytes(header, "big")
            payload = _recv_exactly(sock, length) if length else b""
            if payload is None:
                return
            if length == 1:
                reply = self._control(payload[0])
            elif length == 0:
                continue
            else:
                try:
                    reply = self._apdu(payload)
                except CardPulled:
                    log.info("vpicc port %d: card pulled mid-command (fault injection)", self.port)
                    return
            if reply is not None:
                sock.sendall(_frame(reply))  # one send: the frame must not be split by Nagle

    def _control(self, code: int) -> bytes | None:
        try:
            if code == CTRL_ATR:
                return bytes(self.card.atr)
            if code == CTRL_POWER_OFF:
                self.card.power_off()
            elif code == CTRL_POWER_ON:
                self.card.power_on()
            elif code == CTRL_RESET:
                self.card.reset()
            else:
                log.warning("vpicc port %d: unknown control byte %02X ignored", self.port, code)
        except Exception as exc:
            log.error(
                "vpicc port %d: card raised %s at %s on control byte %02X",
                self.port,
                type(exc).__name__,
                _where(exc),
                code,
            )
            if code == CTRL_ATR:
                raise  # without an ATR there is no card; end the connection (logged by _serve)
        return None

    def _apdu(self, command: bytes) -> bytes:
        self.apdu_count += 1
        try:
            response = bytes(self.card.process(command))
        except CardPulled:
            raise
        except Exception as exc:
            # Never the command data nor str(exc): either may hold a PIN.
            ins = command[1] if len(command) > 1 else 0
            log.error(
                "vpicc port %d: card raised %s at %s for INS %02X; answered 6F 00",
                self.port,
                type(exc).__name__,
                _where(exc),
                ins,
            )
            return SW_NO_PRECISE_DIAGNOSIS
        if len(response) < 2:
            ins = command[1] if len(command) > 1 else 0
            log.error("vpicc port %d: card answered INS %02X without a status word", self.port, ins)
            return SW_NO_PRECISE_DIAGNOSIS
        return response
