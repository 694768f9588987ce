"""Synthetic photos for the photo rules (random noise, nothing real): shared by the contract and server tiers."""

from __future__ import annotations

import io
import random
import struct

from PIL import Image


def noise_jpeg(width: int, height: int, *, mode: str = "RGB", quality: int = 60, seed: int = 1) -> bytes:
    """A JPEG of random pixels: random data does not compress, so small sizes still exceed 20 KB."""
    channels = {"RGB": 3, "CMYK": 4, "L": 1}[mode]
    rng = random.Random(seed)  # noqa: S311 - picture noise, not a secret
    pixels = rng.randbytes(width * height * channels)
    buffer = io.BytesIO()
    Image.frombytes(mode, (width, height), pixels).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def tiny_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (500, 500), (200, 180, 160)).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def png_photo() -> bytes:
    rng = random.Random(7)  # noqa: S311 - picture noise, not a secret
    buffer = io.BytesIO()
    Image.frombytes("RGB", (600, 600), rng.randbytes(600 * 600 * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def bomb_jpeg(width: int = 60000, height: int = 60000) -> bytes:
    """A real, small JPEG whose SOF header claims ``width`` x ``height`` pixels (a decompression bomb)."""
    data = bytearray(noise_jpeg(600, 600))
    index = 2
    while index < len(data):
        marker = data[index + 1]
        length = struct.unpack(">H", data[index + 2 : index + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            data[index + 5 : index + 9] = struct.pack(">HH", height, width)
            return bytes(data)
        index += 2 + length
    raise AssertionError("no SOF marker found")
