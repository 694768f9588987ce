"""Application photo rules (J-LIS digital upload, workflows-and-peers.md C.1), as checks over bytes.

Official: JPEG, RGB (no CMYK), 20 KB–7 MB, 480–6000 px wide and high. The server applies them on arrival
(``validate_photo``); a kiosk step that takes or accepts a photo calls the same function, so the kiosk
cannot accept a photo the server then refuses for a rule the kiosk did not know.

Also here, but NOT part of the upload rule: the printed photo is 45 × 35 mm (portrait, width:height
3.5:4.5). ``check_portrait`` tells a framing step whether a crop has that shape (within
``PORTRAIT_TOLERANCE``, our choice); the server does not enforce it, because J-LIS does not on upload.

Checks run cheapest first and the pixels are touched last: magic bytes, byte size, then the dimensions and
colour mode that Pillow reads from the JPEG header without decoding — so a 60000 x 60000 "decompression
bomb" costs a header parse, not gigabytes. Pillow's own guard (``Image.MAX_IMAGE_PIXELS``) stays in force
as a second line (our 6000 x 6000 limit is far below it; the global is left alone because other code in the
process may rely on it). Only then is the image decoded, in JPEG draft mode at 1/8 scale, which still walks
every entropy-coded segment and so catches truncated or corrupt files cheaply. Everything happens in memory.

Greyscale JPEGs are refused like CMYK ones: the rule asks for RGB; a black-and-white photo is fine when
saved as an RGB JPEG.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from fractions import Fraction

from PIL import Image, UnidentifiedImageError

MIN_BYTES = 20 * 1000
MAX_BYTES = 7 * 1000 * 1000
MIN_SIDE = 480
MAX_SIDE = 6000
PORTRAIT_RATIO = Fraction(35, 45)  # width / height of the 35 × 45 mm print
PORTRAIT_TOLERANCE = Fraction(2, 100)  # ±2 % of that ratio (our choice: a few pixels of cropping slack)
JPEG_MAGIC = b"\xff\xd8\xff"
_JPEG_FORMATS = frozenset({"JPEG", "MPO"})  # MPO: camera JPEGs carrying extra frames
_MODE_NAMES = {"CMYK": "CMYK", "L": "greyscale", "1": "black-and-white"}


class PhotoRejected(ValueError):
    """The photo breaks a rule; ``code`` is stable for clients (``photo_*``), the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    width: int
    height: int
    size_bytes: int


def check_size(size: int) -> None:
    """20 KB (20 000 bytes) to 7 MB (7 000 000 bytes), both inclusive."""
    if size < MIN_BYTES:
        raise PhotoRejected(
            "photo_too_small", f"The photo is {size} bytes; at least {MIN_BYTES} bytes (20 KB) are required."
        )
    if size > MAX_BYTES:
        raise PhotoRejected(
            "photo_too_large", f"The photo is {size} bytes; at most {MAX_BYTES} bytes (7 MB) are allowed."
        )


def check_dimensions(width: int, height: int) -> None:
    """Each side 480 to 6000 pixels, both inclusive."""
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise _bad_dimensions(width, height)


def check_mode(mode: str) -> None:
    """Pillow's mode of the decoded JPEG must be RGB."""
    if mode != "RGB":
        kind = _MODE_NAMES.get(mode, mode)
        raise PhotoRejected(
            "photo_not_rgb", f"The photo must be an RGB colour JPEG; this one is {kind}. Save it as RGB."
        )


def is_portrait_shape(width: int, height: int) -> bool:
    """Is width:height within ``PORTRAIT_TOLERANCE`` of 3.5:4.5? (Framing advice, not an upload rule.)"""
    if width <= 0 or height <= 0:
        return False
    return abs(Fraction(width, height) - PORTRAIT_RATIO) <= PORTRAIT_RATIO * PORTRAIT_TOLERANCE


def check_portrait(width: int, height: int) -> None:
    """``is_portrait_shape`` as a refusal with code ``photo_not_portrait``."""
    if not is_portrait_shape(width, height):
        raise PhotoRejected(
            "photo_not_portrait",
            f"The photo must be portrait with sides in the ratio 3.5:4.5 (35 x 45 mm); it is {width} x {height}.",
        )


def validate_photo(data: bytes) -> PhotoInfo:
    """Return the photo's dimensions, or raise PhotoRejected naming the first broken upload rule."""
    if not data.startswith(JPEG_MAGIC):
        raise PhotoRejected("photo_not_jpeg", "The photo must be a JPEG file (PNG, HEIC and others are refused).")
    size = len(data)
    check_size(size)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=["JPEG"])  # parses the header only
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _bad_dimensions() from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise PhotoRejected("photo_corrupt", "The photo is not a readable JPEG file.") from exc
        with image:
            return _check_opened(image, size)


def _bad_dimensions(width: int | None = None, height: int | None = None) -> PhotoRejected:
    measured = f" (it is {width} x {height})" if width is not None and height is not None else ""
    return PhotoRejected(
        "photo_dimensions",
        f"Each side of the photo must be {MIN_SIDE}-{MAX_SIDE} pixels{measured}.",
    )


def _check_opened(image: Image.Image, size: int) -> PhotoInfo:
    if image.format not in _JPEG_FORMATS:
        raise PhotoRejected("photo_not_jpeg", "The photo must be a JPEG file.")
    width, height = image.size
    check_dimensions(width, height)
    check_mode(image.mode)
    try:
        image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise PhotoRejected("photo_corrupt", "The photo is truncated or damaged.") from exc
    return PhotoInfo(width=width, height=height, size_bytes=size)
