"""Photo rules as pure functions: cheapest checks first, nothing decoded before the header is judged."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageFile

from server.photos import MAX_BYTES, PhotoRejected, validate_photo
from tests.server.helpers import bomb_jpeg, noise_jpeg, png_photo, tiny_jpeg

pytestmark = pytest.mark.server


def _code(data: bytes) -> str:
    with pytest.raises(PhotoRejected) as caught:
        validate_photo(data)
    return caught.value.code


def test_a_normal_photo_passes() -> None:
    info = validate_photo(noise_jpeg(600, 800))
    assert (info.width, info.height) == (600, 800)


@pytest.mark.parametrize(("width", "height"), [(480, 480), (6000, 480), (480, 6000)])
def test_the_bounds_are_inclusive(width: int, height: int) -> None:
    assert validate_photo(noise_jpeg(width, height, quality=30)).width == width


@pytest.mark.parametrize(("width", "height"), [(479, 600), (600, 479), (6001, 480), (480, 6001)])
def test_sides_outside_480_to_6000_are_refused(width: int, height: int) -> None:
    assert _code(noise_jpeg(width, height, quality=30)) == "photo_dimensions"


def test_sizes() -> None:
    assert _code(tiny_jpeg()) == "photo_too_small"
    assert _code(noise_jpeg(600, 800) + b"\0" * MAX_BYTES) == "photo_too_large"


def test_formats_and_colour_modes() -> None:
    assert _code(png_photo()) == "photo_not_jpeg"
    assert _code(b"GIF89a" + b"\0" * 30000) == "photo_not_jpeg"
    assert _code(noise_jpeg(600, 800, mode="CMYK")) == "photo_not_rgb"
    assert _code(noise_jpeg(600, 800, mode="L")) == "photo_not_rgb"


def test_a_decompression_bomb_is_judged_by_its_header(monkeypatch: pytest.MonkeyPatch) -> None:
    bombs = [bomb_jpeg(), bomb_jpeg(30000, 2000), bomb_jpeg(6001, 6001)]

    def no_decoding(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the bomb must be refused before any pixel is decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    monkeypatch.setattr(Image.Image, "load", no_decoding)
    assert [_code(bomb) for bomb in bombs] == ["photo_dimensions"] * 3


def test_truncated_and_corrupt_files() -> None:
    photo = noise_jpeg(600, 800)
    assert _code(photo[: len(photo) // 2]) == "photo_corrupt"
    assert _code(b"\xff\xd8\xff" + b"\x00" * 30000) == "photo_corrupt"


def test_the_pillow_guard_is_left_in_place() -> None:
    before = Image.MAX_IMAGE_PIXELS
    validate_photo(noise_jpeg(600, 800))
    assert Image.MAX_IMAGE_PIXELS == before is not None


def test_messages_are_for_people() -> None:
    with pytest.raises(PhotoRejected) as caught:
        validate_photo(noise_jpeg(600, 800, mode="CMYK"))
    assert "RGB" in caught.value.message
    assert "CMYK" in caught.value.message
    buffer = io.BytesIO()
    Image.new("RGB", (10, 10)).save(buffer, "JPEG")
    with pytest.raises(PhotoRejected, match="20 KB"):
        validate_photo(buffer.getvalue())
