"""Synthetic face pictures for the photo rules: a good one and one variant per failure.

No photo of a real person may enter the repository, so every picture here is drawn (by
``kiosk.defaults.camera``, the same drawing the demo camera plays). Deterministic: the same call gives the
same pixels. ``FRAME_VARIANTS`` are 1920 x 1080 camera frames (``contract.photo.inspect_frame``);
``PHOTO_VARIANTS`` are finished 700 x 900 portrait photos as JPEG bytes (``check_photo``/``validate_photo``);
each maps a variant name to the one check it must fail (None: must pass).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace

import cv2
import numpy as np
from PIL import Image

from contract.photo import encode_jpeg
from kiosk.defaults.camera import Head, busy_wall, cast_shadow, default_head, draw_head, to_rgb8, wall

FRAME = (1920, 1080)
PORTRAIT = (700, 900)  # 35:45


def frame(*heads: Head, background: str = "plain", size: tuple[int, int] = FRAME) -> np.ndarray:
    width, height = size
    canvas = busy_wall(width, height) if background == "busy" else wall(width, height)
    if background == "shadow":
        for head in heads:
            cast_shadow(canvas, head)
    for head in heads:
        draw_head(canvas, head)
    return to_rgb8(canvas)


def good_head(size: tuple[int, int] = FRAME) -> Head:
    return default_head(*size)


def portrait_head(size: tuple[int, int] = PORTRAIT) -> Head:
    """A head placed by the (UNCONFIRMED) rule: crown to chin 34 of 45 mm, crown 4 mm below the top."""
    width, height = size
    head = height * 34 / 45
    return Head(x=width / 2, y=height * 4 / 45 + head / 2, height=head)


def exposed(picture: np.ndarray, gain: float, offset: float = 0.0) -> np.ndarray:
    return np.clip(picture.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)


def blurred(picture: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(picture, (0, 0), sigma)


def _frame_variants() -> dict[str, tuple[Callable[[], np.ndarray], str | None]]:
    good = good_head()
    return {
        "good": (lambda: frame(good), None),
        "no_face": (lambda: frame(), "face_found"),
        "two_faces": (lambda: frame(replace(good, x=560, height=500), replace(good, x=1360, height=500)), "one_face"),
        "off_centre": (lambda: frame(replace(good, x=good.x - 420)), "centred"),
        "too_far": (lambda: frame(replace(good, height=1080 * 0.34)), "face_small"),
        "too_close": (lambda: frame(replace(good, height=1080 * 0.86, y=540)), "face_large"),
        "eyes_closed": (lambda: frame(replace(good, eyes_open=False)), "eyes_open"),
        "tilted": (lambda: frame(replace(good, tilt=15)), "facing_front"),
        "dark": (lambda: exposed(frame(good), 0.18), "dark"),
        "overexposed": (lambda: exposed(frame(good), 1.5, 70), "bright"),
        "blurred": (lambda: blurred(frame(good), 9), "sharpness"),
        "busy_background": (lambda: frame(good, background="busy"), "background"),
        "shadow": (lambda: frame(good, background="shadow"), "shadow"),
    }


FRAME_VARIANTS = _frame_variants()


def portrait(*heads: Head, background: str = "plain") -> np.ndarray:
    return frame(*(heads or (portrait_head(),)), background=background, size=PORTRAIT)


def _photo_variants() -> dict[str, tuple[Callable[[], bytes], str | None]]:
    good = portrait_head()
    return {
        "good": (lambda: encode_jpeg(portrait(good)), None),
        "no_face": (lambda: encode_jpeg(frame(size=PORTRAIT)), "face_found"),
        "two_faces": (lambda: encode_jpeg(portrait(replace(good, x=175, height=330), replace(good, x=525, height=330))),
                      "one_face"),
        "off_centre": (lambda: encode_jpeg(portrait(replace(good, x=good.x - 120))), "centred"),
        "too_small": (lambda: encode_jpeg(portrait(replace(good, height=495, y=80 + 495 / 2))), "face_small"),
        "too_big": (lambda: encode_jpeg(portrait(replace(good, height=900, y=450))), "face_large"),
        "eyes_closed": (lambda: encode_jpeg(portrait(replace(good, eyes_open=False))), "eyes_open"),
        "tilted": (lambda: encode_jpeg(portrait(replace(good, tilt=15))), "facing_front"),
        "dark": (lambda: encode_jpeg(exposed(portrait(good), 0.18)), "dark"),
        "overexposed": (lambda: encode_jpeg(exposed(portrait(good), 1.5, 70)), "bright"),
        "blurred": (lambda: encode_jpeg(blurred(portrait(good), 7)), "sharpness"),
        "busy_background": (lambda: encode_jpeg(portrait(good, background="busy")), "background"),
        "shadow": (lambda: encode_jpeg(portrait(good, background="shadow")), "shadow"),
        "landscape": (lambda: encode_jpeg(frame(good_head((900, 700)), size=(900, 700))), "portrait"),
        "png": (lambda: _pillow(portrait(good), "PNG"), "jpeg"),
        "greyscale": (lambda: _pillow(portrait(good), "JPEG", mode="L"), "rgb"),
        "too_few_pixels": (lambda: encode_jpeg(frame(portrait_head((350, 450)), size=(350, 450))), "dimensions"),
    }


def _pillow(picture: np.ndarray, fmt: str, *, mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(picture).convert(mode).save(buffer, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buffer.getvalue()


PHOTO_VARIANTS = _photo_variants()

__all__ = ["FRAME", "FRAME_VARIANTS", "PHOTO_VARIANTS", "PORTRAIT", "blurred", "exposed", "frame", "good_head",
           "portrait", "portrait_head"]
