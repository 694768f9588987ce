"""The receipt printer (``kiosk.services.receipt_printer``) with real files, a fake ``lp`` and device files.

What a resident or clerk would notice is checked on what comes out: the PDF is a page the paper's width
whose picture is the slip, the ESC/POS bytes are raster bands of the paper's dot width ending in a cut, the
slip says what it should in the resident's language and nothing more (never the whole application ID),
Japanese and Chinese lines obey kinsoku, nothing runs off the paper, and every failure is a
``PrinterFailed`` with a sentence and a code. The byte layouts are parsed from the ESC/POS and TIFF
specifications here, not taken from the module under test.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import re
import stat
import struct
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image, ImageChops, PdfParser

from kiosk.config import KioskConfig, PrinterSection
from kiosk.core.ports import ReceiptSlip
from kiosk.i18n import LANGUAGES, catalog
from kiosk.services import receipt_printer as rp
from kiosk.services.receipt_printer import (
    CupsReceiptPrinter,
    EscPosReceiptPrinter,
    PdfReceiptPrinter,
    PrinterFailed,
    layout_slip,
    printer_from_config,
    render_slip,
    slip_lines,
)
from kiosk.typeset.fonts import choose_fonts
from tests.conftest import require
from tests.typeset.test_linebreak import FORBIDDEN_END, FORBIDDEN_START

FULL_ID = "98765432109876543210123"  # synthetic: the whole 23-digit application ID, never on a slip
MASKED = "**** **** **** **** **** 123"
DOTS = {58: 384, 80: 576}  # 203 dpi printable widths
WHEN = datetime(2030, 5, 31, 14, 5, 59).astimezone()  # local time; printed to the minute as 14:05
CJK_LANGUAGES = ("ja", "ja-easy", "zh-Hans")
NBSP = "\u00a0"


@pytest.fixture(autouse=True, scope="module")
def _cjk_fonts() -> None:
    choice = choose_fonts()
    require(choice is not None and choice.covers_cjk, "Noto Sans CJK is not installed (apt fonts-noto-cjk)")


def make_slip(language: str = "en", state: str = "queued", masked: str = MASKED) -> ReceiptSlip:
    return ReceiptSlip(language, "000042", masked, state, "kiosk-01", WHEN)


def plain(text: str) -> str:
    return text.replace(NBSP, " ")


# --- what the slip says ------------------------------------------------------------------------------------


def test_the_slip_says_title_reference_masked_id_state_time_kiosk_and_keep_it() -> None:
    assert [plain(line) for line in slip_lines(make_slip("en"))] == [
        "Your application has been received",
        "Reference number",
        "000042",
        f"Application ID: {MASKED}",
        "Status: saved on this kiosk; it will be sent automatically",
        "Issued: 2030/5/31 14:05",
        "Kiosk: kiosk-01",
        "Please keep this slip. If you have a question, show it at the counter.",
    ]
    assert plain(slip_lines(make_slip("en", "delivered"))[4]) == "Status: sent"


def test_the_slip_is_in_the_residents_language() -> None:
    lines = [plain(line) for line in slip_lines(make_slip("ja"))]
    assert lines[0] == "申請を受け付けました"
    assert f"申請書ID：{MASKED}" in lines
    assert "2030年5月31日 14:05発行" in lines
    assert "端末：kiosk-01" in lines


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("state", ["queued", "delivered", "refused"])
def test_no_personal_data_and_no_whole_id_in_any_language(language: str, state: str) -> None:
    lines = [plain(line) for line in slip_lines(make_slip(language, state))]
    text = "\n".join(lines)
    assert FULL_ID not in text.replace(" ", "")
    assert sum(MASKED in line for line in lines) == 1
    # Every number on the slip is one we put there: the reference, the date and time, the ID's last 3 digits.
    assert set(re.findall(r"\d+", text)) <= {"000042", "2030", "5", "31", "14", "05", "123", "01"}
    for key in ("receipt.title", "receipt.slip.keep"):  # translated, not a key shown by a missing entry
        assert catalog(language).get(key) and key not in text


def test_an_id_that_is_not_masked_is_never_printed(tmp_path: Path) -> None:
    unmasked = make_slip(masked="9876 5432 1098 7654 3210 123")
    device = tmp_path / "lp0"
    device.write_bytes(b"")
    for printer in (PdfReceiptPrinter(tmp_path / "receipts"), EscPosReceiptPrinter(device)):
        with pytest.raises(PrinterFailed) as caught:
            printer.print_receipt(unmasked)
        assert caught.value.code == "not_masked"
        assert "3210" not in str(caught.value)
    assert not (tmp_path / "receipts").exists() and device.read_bytes() == b""


def test_a_japanese_slip_without_a_cjk_font_is_refused_not_printed_as_boxes() -> None:
    latin_only = rp.FontChoice(Path("/nonexistent/NotoSans-Regular.ttf"), Path("/nonexistent/b.ttf"), covers_cjk=False)
    with pytest.raises(PrinterFailed) as caught:
        layout_slip(make_slip("ja"), 58, fonts=latin_only)
    assert caught.value.code == "font_missing" and "fonts-noto-cjk" in str(caught.value)


# --- how it is laid out --------------------------------------------------------------------------------------


def lines_by_role(slip: ReceiptSlip, paper_mm: int) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for line in layout_slip(slip, paper_mm).lines:
        grouped.setdefault(line.role, []).append(line.text)
    return grouped


@pytest.mark.parametrize("language", CJK_LANGUAGES)
@pytest.mark.parametrize("paper_mm", [58, 80])
@pytest.mark.parametrize("state", ["queued", "delivered", "refused"])
def test_japanese_and_chinese_lines_obey_kinsoku(language: str, paper_mm: int, state: str) -> None:
    for role, lines in lines_by_role(make_slip(language, state), paper_mm).items():
        starts = [line for line in lines[1:] if line[:1] in FORBIDDEN_START]
        ends = [line for line in lines[:-1] if line[-1:] in FORBIDDEN_END]
        assert (starts, ends) == ([], []), (role, lines)


def test_the_kinsoku_check_has_wrapped_lines_to_look_at() -> None:
    wrapped = {role: lines for role, lines in lines_by_role(make_slip("ja"), 58).items() if len(lines) > 1}
    assert "keep" in wrapped  # the long sentence at the end really is broken into lines on 58 mm paper


def test_the_masked_id_is_never_split_across_lines() -> None:
    for language in LANGUAGES:
        for paper_mm in (58, 80):
            lines = lines_by_role(make_slip(language), paper_mm)["id"]
            assert any(MASKED in plain(line) for line in lines), (language, paper_mm, lines)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("paper_mm", [58, 80])
def test_every_language_fits_the_paper_and_loses_no_text(language: str, paper_mm: int) -> None:
    slip = make_slip(language)
    image = render_slip(slip, paper_mm)
    assert image.mode == "1" and image.width == DOTS[paper_mm] and image.height > 200
    width, height = image.size
    for margin in (image.crop((0, 0, 8, height)), image.crop((width - 8, 0, width, height))):
        assert margin.getextrema() == (255, 255), "something is drawn at the paper's edge (cut off?)"
    assert image.getextrema() == (0, 255)  # and something is printed
    grouped = lines_by_role(slip, paper_mm)
    for item in rp.slip_items(slip):
        squeeze = str.maketrans("", "", " " + NBSP)
        assert "".join(grouped[item.role]).translate(squeeze) == item.text.translate(squeeze)


# --- PDF -------------------------------------------------------------------------------------------------------


def tiff_from_g4(raw: bytes, width: int, height: int) -> Image.Image:
    """A minimal TIFF (one strip, CCITT group 4, BlackIsZero) around a PDF's CCITTFaxDecode stream."""
    tags = [(256, 3, width), (257, 3, height), (258, 3, 1), (259, 3, 4), (262, 3, 1), (273, 4, 0),
            (278, 3, height), (279, 4, len(raw))]
    data_at = 8 + 2 + 12 * len(tags) + 4
    out = bytearray(b"II*\x00" + struct.pack("<IH", 8, len(tags)))
    for tag, kind, value in tags:
        value = data_at if tag == 273 else value
        out += struct.pack("<HHII", tag, kind, 1, value) if kind == 4 else struct.pack("<HHIHH", tag, kind, 1, value, 0)
    out += struct.pack("<I", 0) + raw
    image = Image.open(io.BytesIO(bytes(out)))
    image.load()
    return image


def open_pdf(data: bytes) -> tuple[list[float], Image.Image]:
    """(the page's MediaBox in points, the page's picture) read back with Pillow's PDF parser."""
    assert data.startswith(b"%PDF-")
    pdf = PdfParser.PdfParser(buf=data)
    assert len(pdf.pages) == 1
    page = pdf.read_indirect(pdf.pages[0])
    (reference,) = page[b"Resources"][b"XObject"].values()
    stream = pdf.read_indirect(reference)
    info = stream.dictionary
    assert info.Filter == [PdfParser.PdfName("CCITTFaxDecode")] and info.BitsPerComponent == 1  # lossless 1-bit
    return list(page[b"MediaBox"]), tiff_from_g4(stream.buf, info.Width, info.Height)


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a.convert("L"), b.convert("L")).getbbox() is None


@pytest.mark.parametrize("paper_mm", [58, 80])
def test_the_pdf_is_the_slip_at_the_papers_width_private_and_atomic(tmp_path: Path, paper_mm: int) -> None:
    folder = tmp_path / "state" / "receipts"
    where = PdfReceiptPrinter(folder, paper_mm).print_receipt(make_slip("ja"))
    assert where.startswith("pdf:")
    path = Path(where.removeprefix("pdf:"))
    assert path.parent == folder and re.fullmatch(r"receipt-000042-\d{8}-\d{6}\.pdf", path.name)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert sorted(p.name for p in folder.iterdir()) == [path.name]  # no temp file left behind
    media_box, picture = open_pdf(path.read_bytes())
    assert picture.width == DOTS[paper_mm]
    assert media_box[2] == pytest.approx(DOTS[paper_mm] / 203 * 72, abs=0.01)  # 48 / 72 mm printable, in points
    assert same_pixels(picture, render_slip(make_slip("ja"), paper_mm))
    assert FULL_ID.encode() not in path.read_bytes() and FULL_ID not in path.name


def test_a_pdf_folder_that_cannot_be_made_gives_a_clear_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "receipts"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(PrinterFailed) as caught:
        PdfReceiptPrinter(blocker).print_receipt(make_slip())
    assert caught.value.code == "pdf_write_failed" and str(blocker) in str(caught.value)


# --- CUPS ------------------------------------------------------------------------------------------------------

FAKE_LP = """#!{python}
import json, os, shutil, sys, time
record = {record!r}
json.dump({{"argv": sys.argv[1:], "lc_all": os.environ.get("LC_ALL")}}, open(os.path.join(record, "argv.json"), "w"))
shutil.copy(sys.argv[-1], os.path.join(record, "job.pdf"))
mode = {mode!r}
if mode == "fail":
    sys.stderr.write('lp: The printer or class does not exist. (' + sys.argv[-1] + ')\\n')
    sys.exit(1)
if mode == "hang":
    time.sleep(60)
print("request id is Receipts-42 (1 file(s))")
"""


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tempfile's folder for this test only, so that a temp file left behind would be seen."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def fake_lp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str = "ok") -> Path:
    """An ``lp`` first on PATH that records its argv and a copy of the file it was given."""
    bin_dir, record = tmp_path / "bin", tmp_path / "lp-record"
    bin_dir.mkdir()
    record.mkdir()
    script = bin_dir / "lp"
    script.write_text(FAKE_LP.format(python=sys.executable, record=str(record), mode=mode), encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return record


def test_cups_gets_the_pdf_through_lp_and_answers_the_job_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             private_tmp: Path) -> None:
    record = fake_lp(tmp_path, monkeypatch)
    assert CupsReceiptPrinter("Receipts", 58).print_receipt(make_slip("ja")) == "cups:Receipts-42"
    called = json.loads((record / "argv.json").read_text(encoding="utf-8"))
    argv = called["argv"]
    assert argv[:4] == ["-d", "Receipts", "-t", "kiosk receipt 000042"] and len(argv) == 5
    assert argv[4].endswith(".pdf") and not Path(argv[4]).exists()  # deleted after lp took it
    assert called["lc_all"] == "C"  # lp's answer in English, so the job id can be read
    _media, picture = open_pdf((record / "job.pdf").read_bytes())
    assert picture.width == 384 and same_pixels(picture, render_slip(make_slip("ja"), 58))
    assert list(private_tmp.iterdir()) == []


def test_lp_refusing_gives_a_human_message_without_the_slip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            private_tmp: Path) -> None:
    fake_lp(tmp_path, monkeypatch, mode="fail")
    with pytest.raises(PrinterFailed) as caught:
        CupsReceiptPrinter("Nowhere").print_receipt(make_slip("en"))
    message = str(caught.value)
    assert caught.value.code == "lp_failed"
    assert "Nowhere" in message and "does not exist" in message and "<file>" in message
    assert str(private_tmp) not in message
    assert not any(line in message for line in slip_lines(make_slip("en")))
    assert list(private_tmp.iterdir()) == []


def test_lp_hanging_is_cut_off_by_the_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              private_tmp: Path) -> None:
    fake_lp(tmp_path, monkeypatch, mode="hang")
    with pytest.raises(PrinterFailed) as caught:
        CupsReceiptPrinter("Receipts", timeout=1.0).print_receipt(make_slip())
    assert caught.value.code == "lp_timeout" and "cupsd" in str(caught.value)
    assert list(private_tmp.iterdir()) == []


def test_no_lp_installed_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              private_tmp: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there
    with pytest.raises(PrinterFailed) as caught:
        CupsReceiptPrinter("Receipts").print_receipt(make_slip())
    assert caught.value.code == "lp_missing" and "cups-client" in str(caught.value)
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize("queue", ["", "-o", "two words", "a/b"])
def test_a_queue_name_lp_would_misread_is_refused_up_front(queue: str) -> None:
    with pytest.raises(PrinterFailed) as caught:
        CupsReceiptPrinter(queue)
    assert caught.value.code == "printer_config"


# --- ESC/POS ---------------------------------------------------------------------------------------------------


def parse_escpos(data: bytes) -> tuple[int, Image.Image, bytes]:
    """(bytes per row, the raster as an image, what follows the raster) from ESC @, GS v 0 bands, the rest."""
    assert data[:2] == b"\x1b@", "ESC @ (initialise) first"
    position, row_bytes, rows, bits = 2, None, 0, bytearray()
    while data[position:position + 4] == b"\x1dv0\x00":  # GS v 0, m = 0
        x_low, x_high, y_low, y_high = data[position + 4:position + 8]
        width, height = x_low + 256 * x_high, y_low + 256 * y_high
        assert row_bytes in (None, width) and height > 0
        row_bytes = width
        bits += data[position + 8:position + 8 + width * height]
        rows += height
        position += 8 + width * height
    assert row_bytes is not None, "no GS v 0 raster band"
    assert len(bits) == row_bytes * rows
    picture = Image.frombytes("1", (row_bytes * 8, rows), bytes(255 - b for b in bits))  # ESC/POS: 1 = black dot
    return row_bytes, picture, data[position:]


def read_all(path: Path, into: bytearray) -> None:
    with open(path, "rb") as fifo:
        while chunk := fifo.read(65536):
            into += chunk


@pytest.mark.parametrize("paper_mm", [58, 80])
def test_escpos_raster_has_the_papers_width_then_feed_and_cut(tmp_path: Path, paper_mm: int) -> None:
    device = tmp_path / "lp0"
    device.write_bytes(b"")
    assert EscPosReceiptPrinter(device, paper_mm).print_receipt(make_slip("ja")) == f"escpos:{device}"
    row_bytes, picture, tail = parse_escpos(device.read_bytes())
    assert row_bytes == DOTS[paper_mm] // 8 and picture.height > 0
    assert same_pixels(picture, render_slip(make_slip("ja"), paper_mm))
    assert tail.endswith(b"\x1dVB\x00")  # GS V 66 0: feed to the cutter, partial cut
    assert tail[:2] == b"\x1bd" and tail[2] > 0  # ESC d n: feed before the cut


def test_escpos_through_a_fifo_like_a_character_device(tmp_path: Path) -> None:
    device = tmp_path / "fifo"
    os.mkfifo(device)
    received = bytearray()
    reader = threading.Thread(target=read_all, args=(device, received), name="fifo-reader")
    reader.start()
    try:
        deadline = time.monotonic() + 10
        while True:  # the printer "answers" once the reader has opened its end
            try:
                EscPosReceiptPrinter(device, 58).print_receipt(make_slip("zh-Hans"))
                break
            except PrinterFailed as failure:
                assert failure.code == "printer_offline" and time.monotonic() < deadline
                time.sleep(0.01)
    finally:
        if reader.is_alive():  # a failed print: let the reader's open() return, so the thread ends
            with contextlib.suppress(OSError):
                os.close(os.open(device, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(timeout=10)
    assert not reader.is_alive()
    assert bytes(received) == rp.escpos_bytes(render_slip(make_slip("zh-Hans"), 58))


def test_a_missing_device_says_so(tmp_path: Path) -> None:
    with pytest.raises(PrinterFailed) as caught:
        EscPosReceiptPrinter(tmp_path / "usb" / "lp0").print_receipt(make_slip())
    assert caught.value.code == "printer_missing"
    assert "not there" in str(caught.value) and str(tmp_path / "usb" / "lp0") in str(caught.value)


def test_a_printer_nobody_listens_to_is_offline(tmp_path: Path) -> None:
    device = tmp_path / "fifo"
    os.mkfifo(device)  # no reader: like a printer that is switched off
    with pytest.raises(PrinterFailed) as caught:
        EscPosReceiptPrinter(device).print_receipt(make_slip())
    assert caught.value.code == "printer_offline"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write to any file")
def test_a_device_the_kiosk_may_not_write_to_says_which_group(tmp_path: Path) -> None:
    device = tmp_path / "lp0"
    device.write_bytes(b"")
    device.chmod(0o444)
    with pytest.raises(PrinterFailed) as caught:
        EscPosReceiptPrinter(device).print_receipt(make_slip())
    assert caught.value.code == "printer_denied" and "'lp' group" in str(caught.value)


def test_a_printer_that_stops_taking_data_times_out_instead_of_hanging(tmp_path: Path) -> None:
    device = tmp_path / "fifo"
    os.mkfifo(device)
    stalled = os.open(device, os.O_RDONLY | os.O_NONBLOCK)  # a reader that never reads: out of paper
    try:
        fcntl.fcntl(stalled, fcntl.F_SETPIPE_SZ, 4096)
        with pytest.raises(PrinterFailed) as caught:
            EscPosReceiptPrinter(device, timeout=0.3).print_receipt(make_slip())
    finally:
        os.close(stalled)
    assert caught.value.code == "printer_busy" and "out of paper" in str(caught.value)


def test_a_folder_is_not_a_printer(tmp_path: Path) -> None:
    with pytest.raises(PrinterFailed) as caught:
        EscPosReceiptPrinter(tmp_path).print_receipt(make_slip())
    assert caught.value.code == "printer_config" and "folder" in str(caught.value)


# --- configuration ----------------------------------------------------------------------------------------------


def test_printer_from_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSK_STATE_DIR", str(tmp_path / "state"))

    def configured(**section: object) -> object:
        return printer_from_config(KioskConfig(printer=PrinterSection(**section)))

    assert configured() is None
    pdf = configured(kind="pdf", paper_mm=58)
    assert isinstance(pdf, PdfReceiptPrinter) and pdf.directory == tmp_path / "state" / "receipts"
    assert pdf.paper_mm == 58
    assert not (tmp_path / "state").exists()  # nothing is created before the first slip
    cups = configured(kind="cups", destination="Receipts")
    assert isinstance(cups, CupsReceiptPrinter) and cups.destination == "Receipts" and cups.paper_mm == 80
    escpos = configured(kind="escpos", device="/dev/usb/lp0", paper_mm=58)
    assert isinstance(escpos, EscPosReceiptPrinter) and escpos.device == "/dev/usb/lp0"
    with pytest.raises(PrinterFailed) as caught:
        configured(kind="escpos")
    assert caught.value.code == "printer_config"


def test_the_slip_keys_are_the_ones_the_catalogs_are_checked_for() -> None:
    from kiosk.core.application_keys import ALL_KEYS
    from kiosk.core.application_keys import SLIP_KEYS as CORE_SLIP_KEYS
    from kiosk.services.receipt_printer import SLIP_KEYS

    assert set(CORE_SLIP_KEYS) == SLIP_KEYS and SLIP_KEYS <= ALL_KEYS


def test_a_renewal_by_card_has_no_id_line() -> None:
    from datetime import datetime

    from kiosk.core.ports import ReceiptSlip
    from kiosk.services.receipt_printer import slip_lines

    lines = slip_lines(ReceiptSlip("en", "000009", "", "queued", "kiosk-1", datetime(2026, 12, 1, 10, 0).astimezone()))
    assert "000009" in lines and not any("ID" in line for line in lines)
