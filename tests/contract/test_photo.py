"""Photo rules as pure functions: cheapest checks first, nothing decoded before the header is judged."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from contract.photo import (
    MAX_BYTES,
    MAX_SIDE,
    MIN_BYTES,
    MIN_SIDE,
    PhotoRejected,
    check_dimensions,
    check_mode,
    check_portrait,
    check_size,
    is_portrait_shape,
    validate_photo,
)
from tests.contract.images import bomb_jpeg, noise_jpeg, png_photo, tiny_jpeg
from tests.support.fuzzing import examples


def _code(data: bytes) -> str:
    with pytest.raises(PhotoRejected) as caught:
        validate_photo(data)
    return caught.value.code


def test_the_official_numbers() -> None:
    assert (MIN_BYTES, MAX_BYTES, MIN_SIDE, MAX_SIDE) == (20_000, 7_000_000, 480, 6000)


def test_a_normal_photo_passes() -> None:
    photo = noise_jpeg(600, 800)
    info = validate_photo(photo)
    assert (info.width, info.height, info.size_bytes) == (600, 800, len(photo))


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
    assert _code(b"") == "photo_not_jpeg"
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


# --- the checks that need only numbers ---------------------------------------------------------------------


@pytest.mark.parametrize(("size", "code"), [(MIN_BYTES - 1, "photo_too_small"), (MAX_BYTES + 1, "photo_too_large"),
                                            (0, "photo_too_small")])
def test_check_size_refuses(size: int, code: str) -> None:
    with pytest.raises(PhotoRejected) as caught:
        check_size(size)
    assert caught.value.code == code


def test_check_mode() -> None:
    check_mode("RGB")
    for mode, word in (("CMYK", "CMYK"), ("L", "greyscale"), ("1", "black-and-white"), ("P", "P")):
        with pytest.raises(PhotoRejected, match=word):
            check_mode(mode)


@settings(max_examples=examples(300), deadline=None)
@given(st.integers(min_value=-10, max_value=8_000_000))
def test_check_size_is_the_inclusive_range(size: int) -> None:
    inside = MIN_BYTES <= size <= MAX_BYTES
    try:
        check_size(size)
    except PhotoRejected:
        assert not inside
    else:
        assert inside


@settings(max_examples=examples(300), deadline=None)
@given(st.integers(min_value=0, max_value=7000), st.integers(min_value=0, max_value=7000))
def test_check_dimensions_is_the_inclusive_square(width: int, height: int) -> None:
    inside = MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE
    try:
        check_dimensions(width, height)
    except PhotoRejected as exc:
        assert not inside and exc.code == "photo_dimensions" and f"{width} x {height}" in exc.message
    else:
        assert inside


@pytest.mark.parametrize(("width", "height"), [(350, 450), (700, 900), (3500, 4500), (700, 895), (700, 905)])
def test_portrait_shapes(width: int, height: int) -> None:
    assert is_portrait_shape(width, height)
    check_portrait(width, height)


@pytest.mark.parametrize(("width", "height"), [(450, 350), (480, 480), (600, 800), (700, 880), (700, 930),
                                               (0, 450), (350, 0), (-350, -450)])
def test_other_shapes_are_not_portrait(width: int, height: int) -> None:
    assert not is_portrait_shape(width, height)
    with pytest.raises(PhotoRejected) as caught:
        check_portrait(width, height)
    assert caught.value.code == "photo_not_portrait" and "3.5:4.5" in caught.value.message


def test_the_upload_rule_does_not_require_the_portrait_shape() -> None:
    """J-LIS refuses nothing on aspect ratio at upload, so neither does validate_photo."""
    assert validate_photo(noise_jpeg(800, 600)).width == 800
