"""The receipt printer: one slip, typeset once as a monochrome bitmap, sent to a PDF file, CUPS or ESC/POS.

What a slip carries is decided in one place, ``slip_lines``: a title, the kiosk's reference number (big),
the masked application ID, the state, the date and time to the minute, the kiosk's id and "keep this slip /
ask at the counter" — in the resident's language (``kiosk.i18n``). Nothing else about the resident: no
name, no address, not the whole ID, no QR code or barcode (nothing machine-readable). A slip whose "masked"
ID still shows more than a few digits is refused rather than printed.

The bitmap is drawn with Pillow at the printer's dot width (203 dpi: 58 mm paper → 384 dots, 80 mm → 576)
in Noto Sans CJK (``kiosk.typeset.fonts``, the screens' font, the face of the slip's language from the
``.ttc`` collection), Japanese and Chinese lines broken by the screens' kinsoku rules
(``kiosk.typeset.linebreak``), other languages word-wrapped. Then one of three sinks, each a
``kiosk.core.ports.PrinterPort``:

- ``PdfReceiptPrinter``: ``receipt-<number>-<time>.pdf`` in a 0700 folder, 0600, written atomically (demo);
- ``CupsReceiptPrinter``: the same PDF handed to ``lp -d <queue>`` (argv, no shell, a timeout);
- ``EscPosReceiptPrinter``: ESC/POS raster (``GS v 0``) written to the device file, then feed and cut.

Every failure is a ``PrinterFailed`` with a short ``code`` and a sentence staff can act on; neither ever
contains what is printed on the slip.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import re
import select
import shutil
import subprocess
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

from kiosk.i18n import translator
from kiosk.typeset.fonts import FontChoice, choose_fonts
from kiosk.typeset.linebreak import break_text, has_cjk

if TYPE_CHECKING:
    from kiosk.config import KioskConfig
    from kiosk.core.ports import PrinterPort, ReceiptSlip

log = logging.getLogger(__name__)

DPI = 203  # every common thermal receipt printer: 8 dots per mm
PAPER_DOTS: dict[int, int] = {58: 384, 80: 576}  # printable width in dots of a 58 / 80 mm roll

# The message keys of the slip (kiosk/i18n catalogs). The first ones are shared with the receipt screen.
TITLE_KEY = "receipt.title"
ID_KEY = "receipt.id"
REFERENCE_KEY = "receipt.slip.reference"
ISSUED_KEY = "receipt.slip.issued"
KIOSK_KEY = "receipt.slip.kiosk"
KEEP_KEY = "receipt.slip.keep"
DATE_KEY = "date.full"
STATE_KEYS: dict[str, str] = {
    "queued": "receipt.slip.state.queued",
    "delivered": "receipt.slip.state.delivered",
    "refused": "receipt.state.refused",
}
SLIP_KEYS: frozenset[str] = frozenset({REFERENCE_KEY, ISSUED_KEY, KIOSK_KEY, KEEP_KEY,
                                       STATE_KEYS["queued"], STATE_KEYS["delivered"]})  # new with the printer

_MAX_ID_DIGITS = 4  # "**** **** **** **** **** 123" shows 3: more would be (part of) the resident's ID
_SAFE_NAME = re.compile(r"[^A-Za-z0-9-]+")


class PrinterFailed(Exception):
    """The slip was not printed. ``str()`` is a sentence for staff (never the slip's text); ``code`` a short
    token for logs and the screen: printer_missing, printer_denied, printer_offline, printer_busy,
    printer_error, printer_config, lp_missing, lp_failed, lp_timeout, pdf_write_failed, font_missing,
    not_masked."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code

    def __reduce__(self) -> tuple[type[PrinterFailed], tuple[str, str]]:
        return type(self), (self.message, self.code)


# --- what is on the slip --------------------------------------------------------------------------------

# Styles: (bold, size in dots on 58 mm paper, on 80 mm paper, centred). 23 dots ≈ 2.9 mm, 28 ≈ 3.5 mm.
_STYLES: dict[str, tuple[bool, dict[int, int], bool]] = {
    "title": (True, {58: 30, 80: 38}, True),
    "label": (False, {58: 23, 80: 28}, True),
    "number": (True, {58: 76, 80: 104}, True),
    "body": (False, {58: 23, 80: 28}, False),
    "note": (False, {58: 23, 80: 28}, False),
}
NBSP = "\u00a0"  # between the groups of the masked ID: it moves to the next line whole, never split
_RULE_AFTER = frozenset({"number", "kiosk"})  # a thin line after the number and after the facts


@dataclass(frozen=True, slots=True)
class SlipItem:
    """One logical line of the slip before wrapping: ``role`` names it, ``style`` decides how it looks;
    ``keep`` is a part of ``text`` never split, that starts a line of its own when the text is too long."""

    role: str
    style: str
    text: str
    keep: str = ""


def check_masked(masked: str) -> None:
    """Refuse a slip whose "masked" ID shows more than a few digits: it would put the resident's ID on paper."""
    if sum(char.isdigit() for char in masked) > _MAX_ID_DIGITS:
        raise PrinterFailed("the application ID on the slip is not masked: the slip was not printed", "not_masked")


def slip_items(slip: ReceiptSlip) -> list[SlipItem]:
    """Everything printed on the slip, in order, in the slip's language."""
    check_masked(slip.application_id_masked)
    masked = slip.application_id_masked.replace(" ", NBSP)
    t = translator(slip.language)
    when = slip.issued_at.astimezone()  # an aware time in the kiosk's zone (the flow passes local time)
    date = t(DATE_KEY, year=when.year, month=when.month, day=when.day)
    items = [
        SlipItem("title", "title", t(TITLE_KEY)),
        SlipItem("reference_label", "label", t(REFERENCE_KEY)),
        SlipItem("reference", "number", slip.local_number),
    ]
    if masked:  # a renewal by card has no application ID
        items.append(SlipItem("id", "body", t(ID_KEY, masked=masked), keep=masked))
    state_key = STATE_KEYS.get(slip.state)
    if state_key is not None:
        items.append(SlipItem("state", "body", t(state_key)))
    else:
        log.warning("receipt slip with an unknown state %r: printed without it", slip.state)
    items += [
        SlipItem("issued", "body", t(ISSUED_KEY, date=date, time=f"{when.hour:02d}:{when.minute:02d}")),
        SlipItem("kiosk", "body", t(KIOSK_KEY, kiosk=slip.kiosk_id)),
        SlipItem("keep", "note", t(KEEP_KEY)),
    ]
    return items


def slip_lines(slip: ReceiptSlip) -> list[str]:
    """The text of the slip, one entry per logical line (before wrapping): what the renderer draws. The
    masked ID's groups are joined by no-break spaces (``NBSP``)."""
    return [item.text for item in slip_items(slip)]


# --- fonts ------------------------------------------------------------------------------------------------

_FACE_OF_LANGUAGE = {"zh-Hans": "SC", "ko": "KR"}  # Noto Sans CJK faces; everything else uses the JP face


@lru_cache(maxsize=16)
def _face_index(path: str, region: str) -> int:
    """The index in a ``.ttc`` of "Noto Sans CJK <region>" (face 0, JP, when the collection is another one)."""
    if not path.lower().endswith((".ttc", ".otc")):
        return 0
    for index in range(16):
        try:
            family, _style = ImageFont.truetype(path, 12, index=index).getname()
        except OSError:
            break
        if family and family.endswith(f"CJK {region}") and "Mono" not in family:
            return index
    return 0


@lru_cache(maxsize=64)
def _font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=index)


def _needs_cjk_font(text: str) -> bool:
    return has_cjk(text) or any("\u1100" <= char <= "\u11ff" or "\uac00" <= char <= "\ud7af" for char in text)


class _Fonts:
    """The slip's fonts at any size: Noto Sans CJK in the language's face, else what ``choose_fonts`` found."""

    def __init__(self, choice: FontChoice | None, language: str) -> None:
        self.choice = choice
        self.region = _FACE_OF_LANGUAGE.get(language, "JP")

    def get(self, size: int, bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        if self.choice is None:
            return ImageFont.load_default(size)
        path = str(self.choice.bold if bold else self.choice.regular)
        return _font(path, _face_index(path, self.region), size)


# --- layout and drawing -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DrawnLine:
    """A line as printed: its text (after wrapping), the logical line it belongs to, where it is drawn."""

    role: str
    text: str
    x: int
    y: int
    size: int
    bold: bool


@dataclass(frozen=True, slots=True)
class SlipLayout:
    width: int
    height: int
    lines: tuple[DrawnLine, ...]
    rules: tuple[int, ...]  # y of each thin horizontal line


def _word_wrap(text: str, width: float, measure: Callable[[str], float]) -> list[str]:
    """Greedy wrapping at spaces for scripts written with spaces; a word wider than a line is cut (never
    between a letter and its combining marks)."""
    lines: list[str] = []
    current = ""
    for word in (part for part in text.split(" ") if part):  # not split(): it would split at NBSP too
        candidate = f"{current} {word}" if current else word
        if measure(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while measure(current) > width and len(current) > 1:
            cut = len(current) - 1
            while cut > 1 and (measure(current[:cut]) > width or unicodedata.combining(current[cut])):
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
    if current or not lines:
        lines.append(current)
    return lines


def wrap(text: str, width: float, measure: Callable[[str], float], language: str) -> list[str]:
    """Lines of ``text`` that fit ``width``: kinsoku for Japanese/Chinese, word wrapping otherwise."""
    if has_cjk(text):
        return break_text(text, width, measure, language).split("\n")
    return _word_wrap(text, width, measure)


def _wrap_item(item: SlipItem, width: float, measure: Callable[[str], float], language: str) -> list[str]:
    if item.keep and item.keep in item.text and measure(item.text) > width:
        head, _, tail = item.text.partition(item.keep)
        lines = wrap(head.rstrip(" "), width, measure, language) if head.strip() else []
        return lines + wrap(item.keep + tail, width, measure, language)
    return wrap(item.text, width, measure, language)


def layout_slip(slip: ReceiptSlip, paper_mm: int = 80, fonts: FontChoice | None = None) -> SlipLayout:
    """Where every line of the slip goes on paper ``paper_mm`` wide (fonts: ``choose_fonts()`` by default)."""
    width = paper_dots(paper_mm)
    items = slip_items(slip)
    choice = fonts if fonts is not None else choose_fonts()
    if (choice is None or not choice.covers_cjk) and any(_needs_cjk_font(item.text) for item in items):
        raise PrinterFailed("Noto Sans CJK is not installed (apt install fonts-noto-cjk): this slip would print "
                            "as empty boxes", "font_missing")
    face = _Fonts(choice, slip.language)
    margin = round(width * 0.03)
    usable = width - 2 * margin
    y = margin
    lines: list[DrawnLine] = []
    rules: list[int] = []
    for item in items:
        bold, sizes, centred = _STYLES[item.style]
        size = sizes[paper_mm]
        font = face.get(size, bold)
        ascent, descent = font.getmetrics()
        if item.style in ("label", "note") or item.role == "id":
            y += size // 2  # a little air before a new group
        for text in _wrap_item(item, usable, font.getlength, slip.language):
            x = margin + (round((usable - font.getlength(text)) / 2) if centred else 0)
            lines.append(DrawnLine(item.role, text, x, y, size, bold))
            y += ascent + descent
        if item.role in _RULE_AFTER:
            y += size // 3
            rules.append(y)
            y += 2
    return SlipLayout(width, y + margin, tuple(lines), tuple(rules))


_THRESHOLD = [0 if value < 150 else 255 for value in range(256)]  # anti-aliased grey → black dot (thermal)
_RENDER_LOCK = threading.Lock()  # one FreeType face is not drawn with from two threads at once


def render_slip(slip: ReceiptSlip, paper_mm: int = 80, fonts: FontChoice | None = None) -> Image.Image:
    """The slip as a mode "1" image (white 1, black 0) exactly the printer's dot width wide."""
    choice = fonts if fonts is not None else choose_fonts()
    with _RENDER_LOCK:
        layout = layout_slip(slip, paper_mm, choice)
        face = _Fonts(choice, slip.language)
        image = Image.new("L", (layout.width, layout.height), 255)
        draw = ImageDraw.Draw(image)
        for line in layout.lines:
            draw.text((line.x, line.y), line.text, fill=0, font=face.get(line.size, line.bold))
        margin = round(layout.width * 0.03)
        for y in layout.rules:
            draw.line([(margin, y), (layout.width - margin - 1, y)], fill=0, width=2)
        return image.point(_THRESHOLD, "1")


def paper_dots(paper_mm: int) -> int:
    try:
        return PAPER_DOTS[paper_mm]
    except KeyError:
        raise PrinterFailed(f"unsupported paper width {paper_mm} mm (58 or 80)", "printer_config") from None


def pdf_bytes(image: Image.Image) -> bytes:
    """One PDF page the size of the slip on paper (203 dpi), the bitmap inside as a lossless 1-bit image."""
    out = io.BytesIO()
    image.save(out, "PDF", resolution=float(DPI), title="Receipt", creator="mynumber-kiosk")
    return out.getvalue()


def _file_part(text: str, fallback: str) -> str:
    cleaned = _SAFE_NAME.sub("", text)[:32]
    return cleaned or fallback


# --- sinks ---------------------------------------------------------------------------------------------------


class PdfReceiptPrinter:
    """Demo mode: each slip becomes ``receipt-<local_number>-<YYYYmmdd-HHMMSS>.pdf`` in ``directory``."""

    def __init__(self, directory: Path | str, paper_mm: int = 80) -> None:
        self.directory = Path(directory)
        self.paper_mm = paper_mm
        paper_dots(paper_mm)
        self._lock = threading.Lock()

    def print_receipt(self, slip: ReceiptSlip) -> str:
        data = pdf_bytes(render_slip(slip, self.paper_mm))
        stamp = slip.issued_at.astimezone().strftime("%Y%m%d-%H%M%S")
        target = self.directory / f"receipt-{_file_part(slip.local_number, 'slip')}-{stamp}.pdf"
        with self._lock:
            try:
                self._ensure_directory()
                _write_atomically(target, data)
            except OSError as exc:
                raise PrinterFailed(f"could not write the receipt PDF in {self.directory}: "
                                    f"{exc.strerror or type(exc).__name__}", "pdf_write_failed") from None
        log.info("receipt %s written as a PDF (%d bytes)", _file_part(slip.local_number, "?"), len(data))
        return f"pdf:{target}"

    def _ensure_directory(self) -> None:
        if self.directory.is_dir():
            return
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)  # mkdir's mode is filtered by the umask


def _write_atomically(target: Path, data: bytes) -> None:
    """Readers see no file or the whole file: a temp file (0600) in the same folder, fsync, rename."""
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".receipt-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    folder = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


_REQUEST_ID = re.compile(r"request id is (\S+)")
_LONG_DIGITS = re.compile(r"\d{5,}")
_QUEUE_NAME = re.compile(r"[^\s/#\\\x00-\x1f\x7f-][^\s/#\\\x00-\x1f\x7f]*")


def summarise(text: str, *, replace: dict[str, str] | None = None, limit: int = 160) -> str:
    """The first useful line of a tool's output, short, paths replaced, long digit runs hidden."""
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if line:
            break
    else:
        return "no message"
    for old, new in (replace or {}).items():
        line = line.replace(old, new)
    line = _LONG_DIGITS.sub("#", line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


class CupsReceiptPrinter:
    """A CUPS queue: the slip as a PDF page handed to ``lp -d <destination>`` (no shell; ``lp`` on PATH)."""

    def __init__(self, destination: str, paper_mm: int = 80, *, timeout: float = 30.0, lp: str = "lp") -> None:
        if not _QUEUE_NAME.fullmatch(destination or ""):
            raise PrinterFailed(f"the CUPS queue name {destination!r} is not usable (set printer.destination)",
                                "printer_config")
        paper_dots(paper_mm)
        self.destination = destination
        self.paper_mm = paper_mm
        self.timeout = timeout
        self.lp = lp

    def print_receipt(self, slip: ReceiptSlip) -> str:
        data = pdf_bytes(render_slip(slip, self.paper_mm))
        lp = shutil.which(self.lp)
        if lp is None:
            raise PrinterFailed("CUPS's lp command was not found (apt install cups-client)", "lp_missing")
        title = f"kiosk receipt {_file_part(slip.local_number, '')}".strip()
        fd, temp = tempfile.mkstemp(prefix="kiosk-receipt-", suffix=".pdf")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            env = {**os.environ, "LC_ALL": "C", "LANG": "C"}  # "request id is …" in English, to parse it
            try:
                result = subprocess.run(  # noqa: S603 - argv list, no shell; lp found on PATH
                    [lp, "-d", self.destination, "-t", title, temp], stdin=subprocess.DEVNULL,
                    capture_output=True, text=True, errors="replace", timeout=self.timeout, env=env, check=False)
            except subprocess.TimeoutExpired:
                raise PrinterFailed(f"lp did not answer within {self.timeout:g} s (is cupsd running?)",
                                    "lp_timeout") from None
            except OSError as exc:
                raise PrinterFailed(f"lp could not be started: {exc.strerror or type(exc).__name__}",
                                    "lp_missing") from None
        finally:
            Path(temp).unlink(missing_ok=True)
        if result.returncode != 0:
            detail = summarise(result.stderr or result.stdout, replace={temp: "<file>"})
            raise PrinterFailed(f"CUPS did not accept the receipt for queue {self.destination!r} "
                                f"(lp exit {result.returncode}): {detail}", "lp_failed")
        found = _REQUEST_ID.search(result.stdout)
        job = found.group(1) if found else "submitted"
        log.info("receipt %s sent to CUPS queue %s as %s", _file_part(slip.local_number, "?"), self.destination, job)
        return f"cups:{job}"


# ESC/POS commands (Epson's reference; the same on the common 58/80 mm clones).
ESC_INIT = b"\x1b\x40"  # ESC @
GS_RASTER = b"\x1d\x76\x30\x00"  # GS v 0, m = 0 (normal density): then xL xH yL yH and the bits
FEED_LINES = 4
GS_PARTIAL_CUT = b"\x1d\x56\x42\x00"  # GS V 66 0: feed to the cutter, partial cut
BAND_ROWS = 256  # rows per GS v 0 command: small printers have small receive buffers
_INVERT = bytes(255 - value for value in range(256))


def escpos_bytes(image: Image.Image) -> bytes:
    """The bitmap as ESC/POS raster bands (1 = a black dot), then a feed and a partial cut."""
    mono = image if image.mode == "1" else image.convert("1")
    width, height = mono.size
    row_bytes = (width + 7) // 8
    bits = mono.tobytes().translate(_INVERT)  # Pillow's "1": set bit = white; ESC/POS: set bit = print
    out = bytearray(ESC_INIT)
    for top in range(0, height, BAND_ROWS):
        rows = min(BAND_ROWS, height - top)
        out += GS_RASTER + bytes([row_bytes & 0xFF, row_bytes >> 8, rows & 0xFF, rows >> 8])
        out += bits[top * row_bytes:(top + rows) * row_bytes]
    out += b"\x1b\x64" + bytes([FEED_LINES])  # ESC d n: feed n lines
    out += GS_PARTIAL_CUT
    return bytes(out)


_OPEN_ERRORS = {
    errno.ENOENT: ("printer_missing", "the receipt printer {device} is not there (unplugged, or another device name?)"),
    errno.ENODEV: ("printer_missing", "the receipt printer {device} is not there (unplugged?)"),
    errno.ENXIO: ("printer_offline", "the receipt printer {device} is not answering (switched off or offline?)"),
    errno.EACCES: ("printer_denied", "the kiosk may not write to {device} (add its user to the 'lp' group)"),
    errno.EPERM: ("printer_denied", "the kiosk may not write to {device} (add its user to the 'lp' group)"),
    errno.EROFS: ("printer_denied", "{device} is read-only"),
    errno.EBUSY: ("printer_busy", "the receipt printer {device} is in use by another program"),
    errno.EISDIR: ("printer_config", "{device} is a folder, not a printer"),
}
_WRITE_OFFLINE = {errno.EIO, errno.ENODEV, errno.ENXIO, errno.EPIPE, errno.ESHUTDOWN}


class EscPosReceiptPrinter:
    """A USB or serial receipt printer's device file (e.g. ``/dev/usb/lp0``), ESC/POS raster, no driver."""

    CHUNK = 4096

    def __init__(self, device: str | Path, paper_mm: int = 80, *, timeout: float = 10.0) -> None:
        if not str(device):
            raise PrinterFailed("no receipt printer device is configured (set printer.device)", "printer_config")
        paper_dots(paper_mm)
        self.device = str(device)
        self.paper_mm = paper_mm
        self.timeout = timeout
        self._lock = threading.Lock()

    def print_receipt(self, slip: ReceiptSlip) -> str:
        data = escpos_bytes(render_slip(slip, self.paper_mm))
        with self._lock:
            self._write(data)
        log.info("receipt %s sent to %s (%d bytes)", _file_part(slip.local_number, "?"), self.device, len(data))
        return f"escpos:{self.device}"

    def _write(self, data: bytes) -> None:
        flags = os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(self.device, flags)
        except OSError as exc:
            code, text = _OPEN_ERRORS.get(exc.errno or 0, ("printer_error", "{device} cannot be opened: {reason}"))
            raise PrinterFailed(text.format(device=self.device, reason=exc.strerror), code) from None
        try:
            self._write_all(fd, data)
        finally:
            os.close(fd)

    def _write_all(self, fd: int, data: bytes) -> None:
        """Write everything within ``timeout`` seconds; a printer out of paper stops taking data, and the
        kiosk must say so instead of hanging its worker thread."""
        view = memoryview(data)
        deadline = time.monotonic() + self.timeout
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        written = 0
        while written < len(view):
            left = deadline - time.monotonic()
            if left <= 0:
                raise PrinterFailed(f"the receipt printer {self.device} stopped taking data for {self.timeout:g} s "
                                    "(out of paper, cover open or offline?)", "printer_busy")
            events = poller.poll(max(1, int(left * 1000)))
            if not events:
                continue
            if any(event & (select.POLLERR | select.POLLHUP | select.POLLNVAL) for _fd, event in events):
                raise PrinterFailed(f"the receipt printer {self.device} went away while printing", "printer_offline")
            try:
                written += os.write(fd, view[written:written + self.CHUNK])
            except BlockingIOError:
                continue
            except OSError as exc:
                code = "printer_offline" if exc.errno in _WRITE_OFFLINE else "printer_error"
                raise PrinterFailed(f"writing to the receipt printer {self.device} failed: "
                                    f"{exc.strerror or type(exc).__name__}", code) from None


def printer_from_config(config: KioskConfig) -> PrinterPort | None:
    """The configured receipt printer, or None for ``kind = "none"`` (the receipt stays on screen)."""
    section = config.printer
    if section.kind == "none":
        return None
    if section.kind == "pdf":
        return PdfReceiptPrinter(config.resolve(section.pdf_dir), section.paper_mm)
    if section.kind == "cups":
        return CupsReceiptPrinter(section.destination, section.paper_mm)
    if section.kind == "escpos":
        return EscPosReceiptPrinter(section.device, section.paper_mm)
    raise PrinterFailed(f"unknown printer kind {section.kind!r} (none, pdf, cups or escpos)", "printer_config")


__all__ = [
    "DPI",
    "PAPER_DOTS",
    "SLIP_KEYS",
    "CupsReceiptPrinter",
    "EscPosReceiptPrinter",
    "PdfReceiptPrinter",
    "PrinterFailed",
    "escpos_bytes",
    "layout_slip",
    "pdf_bytes",
    "printer_from_config",
    "render_slip",
    "slip_lines",
]
