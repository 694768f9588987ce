"""Application photo rules, written once: the upload rules the server enforces and the face rules the kiosk
camera applies, as pure checks over bytes and pixel arrays (no I/O, no camera, no framework).

Sources (workflows-and-peers.md C.1; J-LIS "顔写真のチェックポイント",
https://www.kojinbango-card.go.jp/apprec/abroad/procedure/photo/ and its English page
https://www.kojinbango-card.go.jp/en-kofushinse-checkpoint/):

* **Upload rules** (official numbers): JPEG, RGB (no CMYK), 20 KB–7 MB, 480–6000 px wide and high.
  ``validate_photo(data)`` applies exactly these; ``validate_photo_header(data)`` the part that needs no
  pixels (all but a damaged scan), which is what the reference server checks on arrival before its
  background job runs ``validate_photo(data, content=True)``.
* **Face rules** (official words, our numbers): taken from the front, no hat, plain white or off-white
  background, no shadow on the background, not out of focus or shaken, not too dark, face not off to one
  side, head not tilted; printed 45 × 35 mm (portrait, 3.5:4.5). Each has a named threshold below, marked
  *our choice* or **UNCONFIRMED** (a number the docs do not give). ``check_photo(data)`` applies the upload
  rules and then every face rule to a finished photo; ``validate_photo(data, content=True)`` is the same as
  a refusal (the server can switch it on; it does not today).
* **The kiosk camera** uses ``inspect_frame`` on its live 16:9 frames (is there one face, in the oval, the
  right size, lit, sharp, eyes open, plain wall behind?), then ``portrait_crop`` + ``encode_jpeg`` and finally
  ``check_photo`` on the very bytes it would send, so the kiosk cannot accept a photo the server refuses.

Every failed face rule is a ``Problem(check, fix_key)`` whose key ``photo.fix.<check>`` names a plain-words
fix (``FIX_KEYS`` lists them all; the kiosk's catalogs translate them). A check whose measurement depends on
another is not judged while that one fails (eyes on a blurred or dark face, the wall behind a face that is
not yet where the crop goes), so a resident sees the fix that matters first, not a pile of consequences.

The face detector is OpenCV's frontal-face Haar cascade, whose model file ships inside the
``opencv-python-headless`` wheel (``cv2.data.haarcascades``): nothing is downloaded at run time. It finds
upright frontal faces only (roughly ±15° of tilt and turn), which is itself part of the "facing the front"
rule; the eyes come from the bundled eye cascade. The face box covers brow to chin, not the whole head, and
shrinks on dark skin, so the head (crown to chin) is measured from its silhouette against the wall and the
eye line where it can be, else estimated from the box (``_head``). No hat, glasses glare and "edited"
are not judged: the Haar models give no such information. numpy and cv2 are imported on first use of a
face rule, so the upload-rule path (the server, every importer of ``contract.payloads``) stays light.

Upload checks run cheapest first and the pixels are touched last: magic bytes, byte size, then the
dimensions and colour mode that Pillow reads from the JPEG header without decoding — so a 60000 x 60000
"decompression bomb" costs a header parse, not gigabytes. Pillow's own guard (``Image.MAX_IMAGE_PIXELS``)
stays in force as a second line (the global is left alone because other code in the process may rely on
it). Only then is the image decoded, in JPEG draft mode at 1/8 scale, which still walks every entropy-coded
segment and so catches truncated or corrupt files cheaply. Greyscale JPEGs are refused like CMYK ones: the
rule asks for RGB; a black-and-white photo is fine when saved as an RGB JPEG.
"""

from __future__ import annotations

import io
import math
import threading
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError

if TYPE_CHECKING:
    import numpy as np

# --- upload rules (official: J-LIS, C.1) -----------------------------------------------------------------

MIN_BYTES = 20 * 1000
MAX_BYTES = 7 * 1000 * 1000
MIN_SIDE = 480
MAX_SIDE = 6000
JPEG_MAGIC = b"\xff\xd8\xff"
_JPEG_FORMATS = frozenset({"JPEG", "MPO"})  # MPO: camera JPEGs carrying extra frames
_MODE_NAMES = {"CMYK": "CMYK", "L": "greyscale", "1": "black-and-white"}

# --- the print: 45 mm high x 35 mm wide (official, C.1) ----------------------------------------------------

PHOTO_WIDTH_MM = 35
PHOTO_HEIGHT_MM = 45
PORTRAIT_RATIO = Fraction(PHOTO_WIDTH_MM, PHOTO_HEIGHT_MM)  # width / height
PORTRAIT_TOLERANCE = Fraction(2, 100)  # ±2 % of that ratio (our choice: a few pixels of cropping slack)

# --- face size and position in the photo ------------------------------------------------------------------
# UNCONFIRMED: C.1 gives no numbers. J-LIS shows a dimensioned diagram ("適切な写真の規格の目安", unit mm) we
# could not read as text; guides quote the passport rule for this card: crown to chin 34 ± 2 mm and the crown
# 4 ± 2 mm below the top edge of the 45 mm photo. The kiosk crops to the middle of those ranges; the check
# accepts HEAD_SLACK_MM more either way because the head is estimated from the detector box (below).
HEAD_MM = (32, 36)  # UNCONFIRMED (passport rule quoted for this card)
CROWN_MARGIN_MM = (2, 6)  # UNCONFIRMED (same)
TARGET_HEAD_MM = 34  # the crop puts the head at this height ...
TARGET_CROWN_MM = 4  # ... with the crown this far below the top edge
HEAD_SLACK_MM = 2  # our choice: the box-to-head estimate is good to about ±5 %
PHOTO_CENTRE_TOLERANCE = 0.06  # face centre within ±6 % of the width of the middle (our choice; official: not 片寄り)

# How the Haar box relates to the head. Our measurement on the synthetic heads (tests/support/faces.py):
# crown-to-chin is 1.33–1.41 box heights and the crown 0.25–0.28 box heights above the box. UNCONFIRMED for
# real faces: calibrate with photos of consenting staff before production (only constants change).
HEAD_PER_BOX = 1.36
CROWN_ABOVE_BOX = 0.26
# The head from its silhouette instead (used when it is larger; see _head): the eyes sit halfway between crown
# and chin — the classical proportion of a head, UNCONFIRMED for any one person (±5 %) — and the crown is the
# first row above the face that is the wall again: within WALL_STEP luma of the wall in the picture's top
# corners, which must be plain (std <= WALL_PLAIN_STD). Whether the official crown includes the hair is
# UNCONFIRMED (this measure includes it, as photo booths do).
EYE_LINE = 0.5
WALL_STEP = 30  # our choice
WALL_PLAIN_STD = 15.0  # our choice

# --- the kiosk camera's frame (16:9, the resident stands in front of it) ------------------------------------
# The preview shows an oval where the head should be; these say where (fractions of the frame). The crop that
# puts the head at 34 mm of 45 must fit inside the frame (head <= 0.755 of the frame height) and keep each side
# >= MIN_SIDE pixels (at 1080p: head >= 0.44). Our choice, from that geometry.
OVAL_CENTRE = (0.5, 0.47)  # the head's centre (crown-to-chin midpoint), x and y as fractions of the frame
OVAL_HEAD = 0.56  # the head's height in the oval, as a fraction of the frame height
FRAME_HEAD_RANGE = (0.44, 0.72)  # head height / frame height accepted (our choice, see above)
FRAME_CENTRE_TOLERANCE = (0.08, 0.08)  # head centre within this of OVAL_CENTRE, per axis (our choice)

# --- detection --------------------------------------------------------------------------------------------
DETECT_SIDE = 480  # faces are looked for on a copy whose longer side is this (our choice: ~10 ms, see bench)
FACE_MIN_SIZE = 0.10  # smallest face box looked for, as a fraction of the shorter side (our choice)
OTHER_FACE_MIN = 0.4  # a second face counts when its box is at least this fraction of the largest (our choice)
FACE_SCALE_FACTOR = 1.1  # cascade pyramid step (OpenCV's usual value)
FACE_MIN_NEIGHBOURS = 5  # cascade votes for a face (OpenCV's usual value for frontalface_default)
EYE_MIN_NEIGHBOURS = 4  # our choice: closed synthetic eyes give no hit, open ones two, across skin tones
FACE_NORM = 256  # the face box is resized to this many pixels a side before it is measured (scale-free numbers)

# --- light, focus, eyes, background (our choices, tuned on synthetic faces; official words in brackets) ----
FACE_DARK_LUMA = 40  # face mean luma below this: too dark ("暗い"); low so that dark skin passes
FACE_DARK_SHARE = 0.40  # ... or this share of the face at luma <= 16 (crushed shadows)
FACE_BRIGHT_LUMA = 225  # face mean luma above this: too bright
FACE_BRIGHT_SHARE = 0.15  # ... or this share of the face at luma >= 250 (clipped highlights)
FRAME_DARK_LUMA = 50  # no face found and the whole picture is darker than this: say "dark", not "no face"
SHARPNESS_MIN = 30.0  # variance of the Laplacian on the FACE_NORM face ("ピンボケ・手ぶれ")
MAX_TILT_DEG = 8.0  # the line through the eyes may tilt this much ("顔が左右に傾いている")
MAX_EYE_OFFSET = 0.12  # eyes' midpoint within this of the face box's middle, in box widths (a turned head)
BACKGROUND_MIN_LUMA = 150  # median luma of the wall ("plain white or off-white")
BACKGROUND_EDGE_LEVEL = 24  # a background pixel with a Sobel gradient above this is an edge (pattern, objects)
BACKGROUND_EDGE_SHARE = 0.03  # more edge pixels than this share: not plain ("背景に柄がある")
BACKGROUND_MAX_SPREAD = 45  # plain but p95 - p5 luma above this: a shadow on the wall ("背景に影がある")
BACKGROUND_HEIGHT = 180  # the crop is measured at this height (pixels) for the background

# --- the kiosk's JPEG ---------------------------------------------------------------------------------------
JPEG_QUALITIES = (92, 95, 98, 100, 85, 75, 60)  # tried in order until the size is inside MIN_BYTES..MAX_BYTES

# --- checks and their fix keys ---------------------------------------------------------------------------
CHECKS = (
    "jpeg", "rgb", "file_size", "dimensions", "portrait", "camera",
    "face_found", "one_face", "centred", "face_small", "face_large",
    "dark", "bright", "sharpness", "eyes_open", "facing_front", "background", "shadow",
)
FIX_KEYS = tuple(f"photo.fix.{check}" for check in CHECKS)
_UPLOAD_CHECKS = {
    "photo_not_jpeg": "jpeg", "photo_corrupt": "jpeg", "photo_not_rgb": "rgb", "photo_too_small": "file_size",
    "photo_too_large": "file_size", "photo_dimensions": "dimensions", "photo_not_portrait": "portrait",
}
_MESSAGES = {  # for validate_photo(content=True): English sentences for API clients (the kiosk uses FIX_KEYS)
    "camera": "No picture came from the camera.",
    "face_found": "No face was found in the photo.",
    "one_face": "The photo must show exactly one person.",
    "centred": "The face must be in the middle of the photo.",
    "face_small": "The face is too small in the photo (crown to chin must be about 34 of its 45 mm).",
    "face_large": "The face is too large in the photo (crown to chin must be about 34 of its 45 mm).",
    "dark": "The photo is too dark.",
    "bright": "The photo is too bright (overexposed).",
    "sharpness": "The photo is out of focus or blurred.",
    "eyes_open": "Both eyes must be open and visible.",
    "facing_front": "The face must look straight at the camera, head level.",
    "background": "The background must be plain white or off-white.",
    "shadow": "There must be no shadow on the background.",
}


class PhotoRejected(ValueError):
    """The photo breaks a rule; ``code`` is stable for clients (``photo_*``), the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def check(self) -> str:
        """The check (``CHECKS``) this refusal belongs to."""
        return _UPLOAD_CHECKS.get(self.code, self.code.removeprefix("photo_"))


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    width: int
    height: int
    size_bytes: int


@dataclass(frozen=True, slots=True)
class Problem:
    """One failed check and the message key of its fix; the kiosk turns it into ``ports.PhotoProblem``."""

    check: str
    fix_key: str


def problem(check: str) -> Problem:
    if check not in CHECKS:
        raise ValueError(f"unknown photo check {check!r}")
    return Problem(check, f"photo.fix.{check}")


# --- upload rules -------------------------------------------------------------------------------------------


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
    """Is width:height within ``PORTRAIT_TOLERANCE`` of 3.5:4.5? (A face rule, not an upload rule.)"""
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


def validate_photo(data: bytes, *, content: bool = False) -> PhotoInfo:
    """Return the photo's dimensions, or raise PhotoRejected naming the first broken rule.

    By default only the official upload rules (what J-LIS refuses on upload; what the server enforces).
    ``content=True`` adds the portrait shape and every face rule (``check_photo``), refused with code
    ``photo_<check>`` — the same verdict the kiosk's final check reached on the same bytes.
    """
    info = _validate_upload(data)
    if content:
        report = _inspect_jpeg(data, info)
        if report.problems:
            check = report.problems[0].check
            if check == "portrait":
                check_portrait(info.width, info.height)
            raise PhotoRejected(f"photo_{check}", _MESSAGES.get(check, "The photo breaks a photo rule."))
    return info


def validate_photo_header(data: bytes) -> PhotoInfo:
    """The upload rules that need no pixels: JPEG magic, byte size, and what Pillow reads from the headers
    (format, dimensions, colour mode), plus an end-of-image marker after the first scan (not truncated).

    For a server that answers first and decodes later (the reference server's background photo check):
    about 20 µs instead of the ~2 ms draft decode, and ``validate_photo`` on the same bytes refuses nothing
    this accepts except damaged entropy-coded data — and the face rules when asked."""
    return _validate_upload(data, decode=False)


def _validate_upload(data: bytes, *, decode: bool = True) -> PhotoInfo:
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
            if not decode:
                return _check_header(image, size, data)
            return _check_opened(image, size)


def _check_header(image: Image.Image, size: int, data: bytes) -> PhotoInfo:
    width, height = _check_format(image)
    # In entropy-coded data a 0xFF byte is always followed by 0x00 or a restart marker, so an FF D9 after the
    # first start-of-scan is the image's own end (an EXIF thumbnail's comes before it): none means truncated.
    scan = data.find(b"\xff\xda")
    if scan < 0 or data.rfind(b"\xff\xd9") < scan:
        raise PhotoRejected("photo_corrupt", "The photo is truncated or damaged.")
    return PhotoInfo(width=width, height=height, size_bytes=size)


def _bad_dimensions(width: int | None = None, height: int | None = None) -> PhotoRejected:
    measured = f" (it is {width} x {height})" if width is not None and height is not None else ""
    return PhotoRejected(
        "photo_dimensions",
        f"Each side of the photo must be {MIN_SIDE}-{MAX_SIDE} pixels{measured}.",
    )


def _check_format(image: Image.Image) -> tuple[int, int]:
    """Format, dimensions and colour mode, as the headers give them; the dimensions."""
    if image.format not in _JPEG_FORMATS:
        raise PhotoRejected("photo_not_jpeg", "The photo must be a JPEG file.")
    width, height = image.size
    check_dimensions(width, height)
    check_mode(image.mode)
    return width, height


def _check_opened(image: Image.Image, size: int) -> PhotoInfo:
    width, height = _check_format(image)
    try:
        image.draft("RGB", (max(1, width // 8), max(1, height // 8)))
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise PhotoRejected("photo_corrupt", "The photo is truncated or damaged.") from exc
    return PhotoInfo(width=width, height=height, size_bytes=size)


# --- face rules: results ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Box:
    """A rectangle in pixels of the image it was found in."""

    x: int
    y: int
    w: int
    h: int

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def fractions(self, width: int, height: int) -> tuple[float, float, float, float]:
        return self.x / width, self.y / height, self.w / width, self.h / height


@dataclass(frozen=True, slots=True)
class Measures:
    """The numbers the checks compared with their thresholds (no pixels: safe to log, bench and tune)."""

    faces: int = 0
    head: float | None = None  # estimated crown-to-chin height / image (or frame) height
    face_luma: float | None = None
    dark_share: float | None = None
    bright_share: float | None = None
    sharpness: float | None = None
    eyes: int | None = None
    tilt_deg: float | None = None
    eye_offset: float | None = None
    background_luma: float | None = None
    background_edges: float | None = None
    background_spread: float | None = None


@dataclass(frozen=True, slots=True)
class FaceReport:
    """What the face rules found in one image. ``crop`` (frames only) is the 3.5:4.5 photo to cut, when one
    fits; ``problems`` is empty when every rule passed."""

    width: int
    height: int
    face: Box | None
    problems: tuple[Problem, ...]
    measures: Measures = field(default_factory=Measures)
    crop: Box | None = None

    @property
    def passed(self) -> bool:
        return self.face is not None and not self.problems

    @property
    def checks(self) -> tuple[str, ...]:
        return tuple(p.check for p in self.problems)


@dataclass(frozen=True, slots=True)
class PhotoCheck:
    """``check_photo``'s verdict on JPEG bytes: every problem found (upload rules first)."""

    problems: tuple[Problem, ...]
    info: PhotoInfo | None = None
    report: FaceReport | None = None

    @property
    def passed(self) -> bool:
        return not self.problems


# --- face rules: entry points ---------------------------------------------------------------------------


def inspect_frame(rgb: np.ndarray, *, detect_side: int = DETECT_SIDE) -> FaceReport:
    """The live checks on one camera frame (any shape; RGB uint8, H x W x 3): one face, lit, in the oval,
    the right size for a crop, sharp, eyes open and level, plain wall inside the crop."""
    grey = _grey(rgb)
    height, width = grey.shape
    found = _find_face(grey, detect_side)
    if isinstance(found, FaceReport):
        return found
    face, norm, measures = found
    light = _judge_light(norm, measures)
    if light is not None:  # the box of a badly lit face is unreliable, and light is the fix that comes first
        return FaceReport(width, height, face, (light,), Measures(**measures))
    eyes = _find_eyes(norm)
    head = _head(grey, face, eyes)
    measures["head"] = head.height / height
    problems: list[Problem] = []
    crop = _crop_for(face, head, width, height)
    centre_x, centre_y = face.centre[0] / width, (head.crown + head.height / 2) / height
    if (abs(centre_x - OVAL_CENTRE[0]) > FRAME_CENTRE_TOLERANCE[0]
            or abs(centre_y - OVAL_CENTRE[1]) > FRAME_CENTRE_TOLERANCE[1]):
        problems.append(problem("centred"))
    crop_height = head.height * PHOTO_HEIGHT_MM / TARGET_HEAD_MM
    if head.height / height < FRAME_HEAD_RANGE[0] or crop_height < MIN_SIDE / PORTRAIT_RATIO:
        problems.append(problem("face_small"))
    elif head.height / height > FRAME_HEAD_RANGE[1] or crop_height > height:
        problems.append(problem("face_large"))
    elif crop is None and not problems:
        problems.append(problem("centred"))  # the right size, but too near an edge for the crop to fit
    placed = crop if not problems else None
    problems += _judge_detail(grey, face, norm, eyes, head, measures, placed)
    return FaceReport(width, height, face, tuple(problems), Measures(**measures), placed)


def inspect_photo(rgb: np.ndarray, *, detect_side: int = DETECT_SIDE) -> FaceReport:
    """The face rules on a finished portrait photo: as ``inspect_frame``, with the (UNCONFIRMED) size and
    position rules of the 45 x 35 mm print instead of the oval."""
    grey = _grey(rgb)
    height, width = grey.shape
    found = _find_face(grey, detect_side)
    if isinstance(found, FaceReport):
        return found
    face, norm, measures = found
    light = _judge_light(norm, measures)
    if light is not None:
        return FaceReport(width, height, face, (light,), Measures(**measures))
    eyes = _find_eyes(norm)
    head = _head(grey, face, eyes)
    measures["head"] = head.height / height
    problems: list[Problem] = []
    crown_mm = head.crown / height * PHOTO_HEIGHT_MM
    if abs(face.centre[0] / width - 0.5) > PHOTO_CENTRE_TOLERANCE or not (
            CROWN_MARGIN_MM[0] - HEAD_SLACK_MM <= crown_mm <= CROWN_MARGIN_MM[1] + HEAD_SLACK_MM):
        problems.append(problem("centred"))
    head_mm = head.height / height * PHOTO_HEIGHT_MM
    if head_mm < HEAD_MM[0] - HEAD_SLACK_MM:
        problems.append(problem("face_small"))
    elif head_mm > HEAD_MM[1] + HEAD_SLACK_MM:
        problems.append(problem("face_large"))
    placed = Box(0, 0, width, height) if not problems else None
    problems += _judge_detail(grey, face, norm, eyes, head, measures, placed)
    return FaceReport(width, height, face, tuple(problems), Measures(**measures))


def check_photo(data: bytes) -> PhotoCheck:
    """Every rule on a finished photo's bytes: the upload rules, the portrait shape, then the face rules.

    Never raises for a bad photo: the kiosk shows the problems. An upload-rule failure stops there (the
    pixels of a file J-LIS refuses are not worth judging)."""
    try:
        info = _validate_upload(data)
    except PhotoRejected as exc:
        return PhotoCheck((problem(exc.check),))
    report = _inspect_jpeg(data, info)
    return PhotoCheck(report.problems, info, report)


def _inspect_jpeg(data: bytes, info: PhotoInfo) -> FaceReport:
    if not is_portrait_shape(info.width, info.height):
        return FaceReport(info.width, info.height, None, (problem("portrait"),))
    return inspect_photo(decode_jpeg(data))


# --- cropping and encoding (the kiosk's side) ---------------------------------------------------------------


def portrait_crop(rgb: np.ndarray, report: FaceReport) -> np.ndarray | None:
    """The 3.5:4.5 photo cut from a frame ``inspect_frame`` placed (a copy), or None when none fits."""
    if report.crop is None:
        return None
    box = report.crop
    return rgb[box.y : box.y + box.h, box.x : box.x + box.w].copy()


def encode_jpeg(rgb: np.ndarray) -> bytes:
    """An RGB (YCbCr) baseline JPEG without metadata, at the first of ``JPEG_QUALITIES`` whose size is inside
    20 KB–7 MB (the last one tried when none is)."""
    cv2 = _cv2()
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    data = b""
    for quality in JPEG_QUALITIES:
        ok, buffer = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise ValueError("the picture could not be encoded as JPEG")
        data = buffer.tobytes()
        if MIN_BYTES <= len(data) <= MAX_BYTES:
            break
    return data


def decode_jpeg(data: bytes) -> np.ndarray:
    """RGB pixels of JPEG bytes (call after ``validate_photo``: its header checks keep bombs out)."""
    cv2, np = _cv2(), _np()
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise PhotoRejected("photo_corrupt", "The photo is not a readable JPEG file.")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def target_oval(width: int, height: int) -> Box:
    """Where the preview draws the oval on a ``width`` x ``height`` frame (the head's target, in pixels)."""
    head = OVAL_HEAD * height
    head_width = head * 0.74  # a head is about three quarters as wide as it is high
    cx, cy = OVAL_CENTRE[0] * width, OVAL_CENTRE[1] * height
    return Box(round(cx - head_width / 2), round(cy - head / 2), round(head_width), round(head))


# --- internals ----------------------------------------------------------------------------------------------

_local = threading.local()  # cascades are not shared between threads (OpenCV does not promise it is safe)


def _cv2() -> Any:
    import cv2

    return cv2


def _np() -> Any:
    import numpy

    return numpy


def _cascade(name: str) -> Any:
    cascades = getattr(_local, "cascades", None)
    if cascades is None:
        cascades = _local.cascades = {}
    if name not in cascades:
        cv2 = _cv2()
        cascade = cv2.CascadeClassifier(cv2.data.haarcascades + name)
        if cascade.empty():
            raise RuntimeError(f"OpenCV's bundled cascade {name} is missing (opencv-python-headless < 5 ships it)")
        cascades[name] = cascade
    return cascades[name]


def _grey(rgb: np.ndarray) -> np.ndarray:
    cv2 = _cv2()
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype.name != "uint8":
        raise ValueError("expected an RGB uint8 picture (height x width x 3)")
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _detect_faces(grey: np.ndarray, detect_side: int) -> list[Box]:
    """Frontal faces, largest first; small ones beside a large one are ignored (OTHER_FACE_MIN).

    When the plain pass finds nothing, two more try with contrast evened out (CLAHE, then a histogram
    equalisation): a dark face before a light wall has too little contrast for the cascade otherwise."""
    cv2 = _cv2()
    scale = min(1.0, detect_side / max(grey.shape))
    small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
    side = max(16, int(FACE_MIN_SIZE * min(small.shape)))
    cascade = _cascade("haarcascade_frontalface_default.xml")
    found: Any = ()
    for prepare in (None, "clahe", "equalise"):
        if prepare == "clahe":
            image = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(small)
        elif prepare == "equalise":
            image = cv2.equalizeHist(small)
        else:
            image = small
        found = cascade.detectMultiScale(image, FACE_SCALE_FACTOR, FACE_MIN_NEIGHBOURS, minSize=(side, side))
        if len(found):
            break
    boxes = sorted((Box(*(round(float(v) / scale) for v in b)) for b in found), key=lambda b: -b.w)
    return [b for b in boxes if b.w >= OTHER_FACE_MIN * boxes[0].w]


def _find_face(grey: np.ndarray, detect_side: int) -> tuple[Box, np.ndarray, dict[str, Any]] | FaceReport:
    """The one face (its box, the box resized to FACE_NORM, fresh measures), or the report saying why not."""
    np = _np()
    height, width = grey.shape
    faces = _detect_faces(grey, detect_side)
    if len(faces) == 1:
        return faces[0], _face_norm(grey, faces[0]), {"faces": 1}
    if faces:
        found = problem("one_face")
    else:
        small = grey[::8, ::8]
        if float(small.mean()) < FRAME_DARK_LUMA:
            found = problem("dark")  # nothing to see in the dark: light is the fix, not "show your face"
        elif float(np.mean(small >= 250)) > 0.5:
            found = problem("bright")
        else:
            found = problem("face_found")
    return FaceReport(width, height, None, (found,), Measures(faces=len(faces)))


def _face_norm(grey: np.ndarray, face: Box) -> np.ndarray:
    """The face box resized to FACE_NORM x FACE_NORM, so measures do not depend on the face's pixel size."""
    cv2 = _cv2()
    roi = grey[max(0, face.y) : face.y + face.h, max(0, face.x) : face.x + face.w]
    return cv2.resize(roi, (FACE_NORM, FACE_NORM), interpolation=cv2.INTER_AREA)


def _inner(norm: np.ndarray) -> np.ndarray:
    """The middle of the face (brows to mouth, cheek to cheek): skin and features, no hair or wall."""
    return norm[int(0.2 * FACE_NORM) : int(0.9 * FACE_NORM), int(0.15 * FACE_NORM) : int(0.85 * FACE_NORM)]


def _find_eyes(norm: np.ndarray) -> list[tuple[float, float]]:
    """Eye centres (FACE_NORM coordinates) found by the eye cascade in the upper part of the face: the
    largest on each half, left first. Closed eyes give none: the cascade was trained on open ones."""
    cv2 = _cv2()
    offset = int(0.12 * FACE_NORM)
    upper = norm[offset : int(0.62 * FACE_NORM)]
    cascade = _cascade("haarcascade_eye.xml")
    size, largest = (FACE_NORM // 12, FACE_NORM // 12), (FACE_NORM // 3, FACE_NORM // 3)
    sides: list[tuple[float, float]] = []
    for prepare in (False, True):  # again with local contrast evened out, for dark skin
        image = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4, 4)).apply(upper) if prepare else upper
        eyes = cascade.detectMultiScale(image, 1.1, EYE_MIN_NEIGHBOURS, minSize=size, maxSize=largest)
        best: dict[int, tuple[int, float, float]] = {}
        for x, y, w, h in eyes:
            cx, cy = x + w / 2, y + h / 2 + offset
            side = 0 if cx < FACE_NORM / 2 else 1
            if side not in best or w > best[side][0]:
                best[side] = (int(w), float(cx), float(cy))
        sides = [(best[s][1], best[s][2]) for s in sorted(best)]
        if len(sides) == 2:
            break
    return sides


@dataclass(frozen=True, slots=True)
class _Head:
    crown: float  # y of the top of the head, pixels
    height: float  # crown to chin, pixels


def _head(grey: np.ndarray, face: Box, eyes: list[tuple[float, float]]) -> _Head:
    """Crown and crown-to-chin height of the head whose face box this is.

    Two estimates, the larger kept. From the box (``HEAD_PER_BOX``, ``CROWN_ABOVE_BOX``). And from the
    silhouette: the crown is where the head meets the light wall above it, and the eyes sit halfway between
    crown and chin (``EYE_LINE``), which does not depend on the skin tone — the Haar box shrinks by up to
    20 % on the darkest synthetic skin, this estimate by under 1 %. It needs both eyes and a light, plain wall
    above the head; beyond 1.4 box estimates it is not believed.
    """
    by_box = _Head(face.y - CROWN_ABOVE_BOX * face.h, HEAD_PER_BOX * face.h)
    if len(eyes) < 2:
        return by_box
    crown = _silhouette_crown(grey, face)
    if crown is None:
        return by_box
    eye_y = face.y + (eyes[0][1] + eyes[1][1]) / 2 / FACE_NORM * face.h
    height = (eye_y - crown) / EYE_LINE
    if by_box.height < height <= 1.4 * by_box.height:
        return _Head(crown, height)
    return by_box


def _silhouette_crown(grey: np.ndarray, face: Box) -> float | None:
    """The first row above the face (in its middle columns) that is the wall again; None without a light,
    plain wall in the picture's top corners to compare with, or when the head reaches the top edge."""
    np = _np()
    height, width = grey.shape
    patch_h, patch_w = max(4, height // 20), max(4, width // 10)
    corners = np.concatenate([grey[:patch_h, :patch_w].ravel(), grey[:patch_h, -patch_w:].ravel()])
    wall = float(np.median(corners))
    if wall < BACKGROUND_MIN_LUMA or float(corners.std()) > WALL_PLAIN_STD:
        return None
    top = max(0, face.y)
    left, right = int(face.x + 0.35 * face.w), int(face.x + 0.65 * face.w)
    if top == 0 or right <= left:
        return None
    rows = np.median(grey[:top, left:right], axis=1)
    above = np.flatnonzero(rows >= wall - WALL_STEP)
    if above.size == 0:
        return None  # no wall above the head: it is cut off at the top
    return float(above[-1] + 1)


def _crop_for(face: Box, head: _Head, width: int, height: int) -> Box | None:
    """The 35:45 crop with the head at TARGET_HEAD_MM and the crown TARGET_CROWN_MM below the top edge,
    centred on the face; None when it does not fit inside the frame or would be under MIN_SIDE."""
    crop_h = round(head.height * PHOTO_HEIGHT_MM / TARGET_HEAD_MM)
    crop_w = round(crop_h * PORTRAIT_RATIO)
    top = round(head.crown - TARGET_CROWN_MM / PHOTO_HEIGHT_MM * crop_h)
    left = round(face.centre[0] - crop_w / 2)
    if left < 0 or top < 0 or left + crop_w > width or top + crop_h > height or crop_w < MIN_SIDE:
        return None
    return Box(left, top, crop_w, crop_h)


def _judge_light(norm: np.ndarray, measures: dict[str, Any]) -> Problem | None:
    """Too dark or too bright: the face's mean luma and its share of crushed or clipped pixels."""
    np = _np()
    inner = _inner(norm)
    luma = float(inner.mean())
    dark, bright = float(np.mean(inner <= 16)), float(np.mean(inner >= 250))
    measures.update(face_luma=luma, dark_share=dark, bright_share=bright)
    if luma < FACE_DARK_LUMA or dark > FACE_DARK_SHARE:
        return problem("dark")
    if luma > FACE_BRIGHT_LUMA or bright > FACE_BRIGHT_SHARE:
        return problem("bright")
    return None


def _judge_detail(grey: np.ndarray, face: Box, norm: np.ndarray, eyes: list[tuple[float, float]], head: _Head,
                  measures: dict[str, Any], region: Box | None) -> list[Problem]:
    """Focus, then the eyes (when in focus), and the wall inside ``region`` (when the face is placed)."""
    cv2 = _cv2()
    problems: list[Problem] = []
    sharpness = float(cv2.Laplacian(_inner(norm), cv2.CV_64F).var())
    measures["sharpness"] = sharpness
    if sharpness < SHARPNESS_MIN:
        problems.append(problem("sharpness"))
    else:
        problems += _judge_eyes(eyes, measures)
    if region is not None:
        problems += _judge_background(grey, face, head, region, measures)
    return problems


def _judge_eyes(eyes: list[tuple[float, float]], measures: dict[str, Any]) -> list[Problem]:
    """Both eyes open (found), level (the tilt of the line through them) and centred in the face box."""
    measures["eyes"] = len(eyes)
    if len(eyes) < 2:
        return [problem("eyes_open")]
    (lx, ly), (rx, ry) = eyes
    tilt = math.degrees(math.atan2(ry - ly, rx - lx))
    offset = abs((lx + rx) / 2 / FACE_NORM - 0.5)
    measures.update(tilt_deg=tilt, eye_offset=offset)
    if abs(tilt) > MAX_TILT_DEG or offset > MAX_EYE_OFFSET:
        return [problem("facing_front")]
    return []


def _judge_background(grey: np.ndarray, face: Box, head: _Head, region: Box,
                      measures: dict[str, Any]) -> list[Problem]:
    """The wall beside and above the head inside ``region``: light, plain (few edges), evenly lit."""
    cv2, np = _cv2(), _np()
    crop = grey[region.y : region.y + region.h, region.x : region.x + region.w]
    scale = BACKGROUND_HEIGHT / crop.shape[0]
    small = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), BACKGROUND_HEIGHT),
                       interpolation=cv2.INTER_AREA)
    cx = (face.centre[0] - region.x) * scale
    top = (head.crown - region.y) * scale
    size = head.height * scale
    mask = np.zeros(small.shape, np.uint8)
    mask[: max(0, int(top + 0.9 * size))] = 255  # above the chin: shoulders and clothes are not the wall
    centre = (round(cx), round(top + 0.5 * size))
    cv2.ellipse(mask, centre, (round(0.47 * size), round(0.58 * size)), 0, 0, 360, 0, -1)
    mask = cv2.erode(mask, np.ones((5, 5), np.uint8))
    wall = mask > 0
    if int(wall.sum()) < 50:
        return []  # hardly any wall in view (a head filling the crop): nothing to judge
    values = small[wall]
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    gradient = cv2.magnitude(gx, gy) / 4.0  # Sobel 3x3 weighs a step by 4: back to luma per pixel
    edges = float(np.mean(gradient[wall] > BACKGROUND_EDGE_LEVEL))
    luma = float(np.median(values))
    p5, p95 = np.percentile(values, (5, 95))
    spread = float(p95 - p5)
    measures.update(background_luma=luma, background_edges=edges, background_spread=spread)
    if luma < BACKGROUND_MIN_LUMA or edges > BACKGROUND_EDGE_SHARE:
        return [problem("background")]
    if spread > BACKGROUND_MAX_SPREAD:
        return [problem("shadow")]
    return []


__all__ = [
    "CHECKS", "FIX_KEYS", "MAX_BYTES", "MAX_SIDE", "MIN_BYTES", "MIN_SIDE", "PORTRAIT_RATIO", "Box", "FaceReport",
    "Measures", "PhotoCheck", "PhotoInfo", "PhotoRejected", "Problem", "check_dimensions", "check_mode",
    "check_photo", "check_portrait", "check_size", "decode_jpeg", "encode_jpeg", "inspect_frame", "inspect_photo",
    "is_portrait_shape", "portrait_crop", "problem", "target_oval", "validate_photo",
]
