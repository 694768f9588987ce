"""Synthetic card-face images: a drawn avatar (JPEG 2000) and text rendered to PNG.

The visual AP holds a face photo and images of the name, address and security code. A simulator must
never carry a real person's photo, so the face is a simple drawing whose colours and shapes follow a
seed; everything is deterministic so that card images (and their signatures) are reproducible.
"""

from __future__ import annotations

import functools
import hashlib
import io
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
CJK_FONT_INDEX = 0  # the Japanese face of the collection
FACE_SIZE = (300, 400)
_FACE_RATE = 40  # JPEG 2000 compression ratio; a 300×400 avatar lands near 8 KB

_SKIN = [(241, 206, 180), (224, 182, 150), (198, 150, 115), (160, 114, 84), (250, 222, 200)]
_HAIR = [(40, 30, 25), (70, 50, 35), (110, 80, 50), (25, 25, 30), (150, 150, 150), (190, 160, 110)]
_CLOTHES = [(40, 60, 110), (60, 60, 60), (120, 40, 40), (40, 90, 70), (90, 90, 120), (200, 200, 205)]
_BACKGROUND = [(222, 230, 240), (235, 235, 228), (226, 236, 230), (238, 232, 236)]


def _rng(seed: str) -> random.Random:
    # Not for security: only a reproducible choice of colours and proportions.
    return random.Random(hashlib.sha256(seed.encode("utf-8")).digest())  # noqa: S311


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Noto Sans CJK when installed (covers kanji and kana); else Pillow's default font (Latin only)."""
    try:
        return ImageFont.truetype(str(CJK_FONT), size, index=CJK_FONT_INDEX)
    except OSError:
        return ImageFont.load_default(size)


def face_image(seed: str, size: tuple[int, int] = FACE_SIZE) -> Image.Image:
    """An avatar on a plain light background: clearly a drawing, shaped like an ID photo."""
    rng = _rng(seed)
    width, height = size
    image = Image.new("RGB", size, rng.choice(_BACKGROUND))
    draw = ImageDraw.Draw(image)
    skin, hair, clothes = rng.choice(_SKIN), rng.choice(_HAIR), rng.choice(_CLOTHES)
    cx = width // 2
    head_w = int(width * rng.uniform(0.36, 0.44))
    head_h = int(head_w * rng.uniform(1.22, 1.36))
    head_top = int(height * 0.16)
    head_box = (cx - head_w // 2, head_top, cx + head_w // 2, head_top + head_h)

    # shoulders and neck
    shoulder_top = head_box[3] + int(height * 0.06)
    draw.rounded_rectangle(
        (int(width * 0.08), shoulder_top, int(width * 0.92), height + 40),
        radius=int(width * 0.22),
        fill=clothes,
    )
    neck_w = int(head_w * 0.38)
    draw.rectangle((cx - neck_w // 2, head_box[3] - 20, cx + neck_w // 2, shoulder_top + 18), fill=skin)
    draw.polygon(
        [(cx - neck_w // 2, shoulder_top), (cx, shoulder_top + 42), (cx + neck_w // 2, shoulder_top)],
        fill=skin,
    )

    # hair behind the head, head, ears
    hair_long = rng.random() < 0.45
    if hair_long:
        draw.rounded_rectangle(
            (head_box[0] - 14, head_top - 12, head_box[2] + 14, head_box[3] + 30),
            radius=head_w // 2,
            fill=hair,
        )
    ear_y = head_top + head_h // 2
    for ear_x in (head_box[0], head_box[2]):
        draw.ellipse((ear_x - 11, ear_y - 18, ear_x + 11, ear_y + 14), fill=skin)
    draw.ellipse(head_box, fill=skin)
    draw.chord(
        (head_box[0] - 4, head_top - 14, head_box[2] + 4, head_top + int(head_h * 0.62)), 180, 360, fill=hair
    )

    # face: brows, eyes, nose, mouth
    eye_y = head_top + int(head_h * 0.5)
    eye_dx = int(head_w * 0.2)
    for side in (-1, 1):
        ex = cx + side * eye_dx
        draw.ellipse((ex - 9, eye_y - 6, ex + 9, eye_y + 6), fill=(250, 250, 250))
        draw.ellipse((ex - 4, eye_y - 5, ex + 4, eye_y + 5), fill=(45, 35, 30))
        draw.line((ex - 12, eye_y - 16, ex + 12, eye_y - 17 + rng.randint(-2, 2)), fill=hair, width=4)
    shade = tuple(max(0, c - 40) for c in skin)
    nose_y = eye_y + int(head_h * 0.16)
    draw.line((cx, eye_y + 6, cx - 4, nose_y, cx + 3, nose_y + 2), fill=shade, width=2)
    mouth_y = nose_y + int(head_h * 0.12)
    mouth_w = int(head_w * rng.uniform(0.14, 0.2))
    draw.arc((cx - mouth_w, mouth_y - 8, cx + mouth_w, mouth_y + 8), 20, 160, fill=(150, 70, 70), width=3)
    if rng.random() < 0.3:  # glasses
        for side in (-1, 1):
            ex = cx + side * eye_dx
            draw.rounded_rectangle(
                (ex - 17, eye_y - 12, ex + 17, eye_y + 12), radius=6, outline=(30, 30, 30), width=2
            )
        draw.line((cx - eye_dx + 17, eye_y, cx + eye_dx - 17, eye_y), fill=(30, 30, 30), width=2)
    return image


def face_jpeg2000(seed: str, size: tuple[int, int] = FACE_SIZE) -> bytes:
    """The face as a JPEG 2000 file (JP2 container; JP2 or bare codestream on the card is UNCONFIRMED)."""
    out = io.BytesIO()
    face_image(seed, size).save(
        out, "JPEG2000", irreversible=True, quality_mode="rates", quality_layers=[_FACE_RATE]
    )
    return out.getvalue()


def text_png(text: str, *, font_size: int = 28, max_width: int = 640, padding: int = 6) -> bytes:
    """Black text on white, wrapped to ``max_width`` pixels, as a small greyscale PNG."""
    font = _font(font_size)
    lines = _wrap(text, font, max_width - 2 * padding)
    line_height = int(font_size * 1.3)
    width = max(int(font.getlength(line)) for line in lines) + 2 * padding
    height = line_height * len(lines) + 2 * padding
    image = Image.new("L", (max(width, 1), height), 255)
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((padding, padding + row * line_height), line, fill=0, font=font)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int) -> list[str]:
    """Break by characters (Japanese has no spaces), keeping every line within ``width`` pixels."""
    lines: list[str] = []
    current = ""
    for char in text:
        if current and font.getlength(current + char) > width:
            lines.append(current)
            current = char.lstrip()
        else:
            current += char
    return [*lines, current] if current or not lines else lines


def name_png(name: str) -> bytes:
    return text_png(name, font_size=32, max_width=520)


def address_png(address: str) -> bytes:
    return text_png(address, font_size=24, max_width=560)


def security_code_png(code: str) -> bytes:
    return text_png(code, font_size=28, max_width=200)


def my_number_png(my_number: str) -> bytes:
    """The 12 digits grouped 4-4-4 as printed on the back of the card."""
    return text_png(f"{my_number[:4]} {my_number[4:8]} {my_number[8:]}", font_size=30, max_width=400)
