"""Application photo rules (J-LIS digital upload): JPEG, RGB, 20 KB–7 MB, 480–6000 px on each side.

Checks run cheapest first and the pixels are touched last: magic bytes, byte size, then the dimensions and
colour mode that Pillow reads from the JPEG header without decoding — so a 60000 x 60000 "decompression
bomb" costs a header parse, not gigabytes. Pillow's own guard (``Image.MAX_IMAGE_PIXELS``) stays in force
as a second line (our 6000 x 6000 limit is far below it; the global is left alone because other code in the
process may rely on it). Only then is the image decoded, in JPEG draft mode at 1/8 scale, which still walks
every entropy-coded segment and so catches truncated or corrupt files cheaply.

Greyscale JPEGs are refused like CMYK ones: the rule asks for RGB; a black-and-white photo is fine when
saved as an RGB JPEG.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

MIN_BYTES = 20 * 1000
MAX_BYTES = 7 * 1000 * 1000
MIN_SIDE = 480
MAX_SIDE = 6000
_JPEG_MAGIC = b"\xff\xd8\xff"
_JPEG_FORMATS = frozenset({"JPEG", "MPO"})  # MPO: camera JPEGs carrying extra frames


class PhotoRejected(ValueError):
    """The photo breaks a rule; ``code`` is stable for clients, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    width: int
    height: int
    size_bytes: int


def validate_photo(data: bytes) -> PhotoInfo:
    """Return the photo's dimensions, or raise PhotoRejected naming the first broken rule."""
    if not data.startswith(_JPEG_MAGIC):
        raise PhotoRejected("photo_not_jpeg", "The photo must be a JPEG file (PNG, HEIC and others are refused).")
    size = len(data)
    if size < MIN_BYTES:
        raise PhotoRejected(
            "photo_too_small", f"The photo is {size} bytes; at least {MIN_BYTES} bytes (20 KB) are required."
        )
    if size > MAX_BYTES:
        raise PhotoRejected(
            "photo_too_large", f"The photo is {size} bytes; at most {MAX_BYTES} bytes (7 MB) are allowed."
        )
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
    measured = f" (it is {width} x {height})" if width and height else ""
    return PhotoRejected(
        "photo_dimensions",
        f"Each side of the photo must be {MIN_SIDE}-{MAX_SIDE} pixels{measured}.",
    )


def _check_opened(image: Image.Image, size: int) -> PhotoInfo:
    if image.format not in _JPEG_FORMATS:
        raise PhotoRejected("photo_not_jpeg", "The photo must be a JPEG file.")
    width, height = image.size
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        raise _bad_dimensions(width, height)
    if image.mode != "RGB":
        kind = {"CMYK": "CMYK", "L": "greyscale", "1": "black-and-white"}.get(image.mode, image.mode)
        raise PhotoRejected(
            "photo_not_rgb", f"The photo must be an RGB colour JPEG; this one is {kind}. Save it as RGB."
        )
    try:
        image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise PhotoRejected("photo_corrupt", "The photo is truncated or damaged.") from exc
    return PhotoInfo(width=width, height=height, size_bytes=size)
