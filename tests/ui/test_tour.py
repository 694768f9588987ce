"""The tour: a PNG of every screen in every language, offscreen, none of them blank or half drawn."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageStat

from kiosk.core.view import Screen
from kiosk.i18n import LANGUAGES
from kiosk.ui.palette import CLERK, HIGH_CONTRAST, NORMAL
from kiosk.ui.samples import CLERK_SCREENS
from kiosk.ui.tour import PORTRAIT, file_name, render_tour

pytestmark = pytest.mark.ui


def header_pixel(path: Path) -> tuple[int, ...]:
    with Image.open(path) as image:
        return image.convert("RGB").getpixel((image.width // 2, 4))


def rgb(color: tuple[float, ...]) -> tuple[int, ...]:
    return tuple(round(c * 255) for c in color[:3])


def test_every_screen_in_every_language(tmp_path: Path) -> None:
    """…and every text fits its box (kiosk.ui.fit: nothing cut off, nothing outside the window)."""
    written = render_tour(tmp_path)
    assert render_tour.clipped == []  # type: ignore[attr-defined]
    expected = {f"{language}__{screen.value}.png" for language in LANGUAGES for screen in Screen}
    assert {p.name for p in written} == expected
    assert {p.name for p in tmp_path.iterdir()} == expected
    for path in written:
        with Image.open(path) as image:
            assert image.size == PORTRAIT and image.mode == "RGB"  # opaque by construction
            spread = ImageStat.Stat(image.convert("L")).stddev[0]
            assert spread > 20, f"{path.name} looks blank (stddev {spread:.1f})"
        screen = Screen(path.stem.split("__")[1])
        clerk = screen in CLERK_SCREENS and screen is not Screen.PIN_SETUP  # the resident's panel is not staff
        assert header_pixel(path) == rgb(CLERK.header if clerk else NORMAL.header), (
            f"{path.name}: the header is not drawn in the {'clerk' if clerk else 'resident'} palette")


def test_large_text_fits_on_every_screen_in_every_language(tmp_path: Path) -> None:
    written = render_tour(tmp_path, variants=("large-text",))
    assert len(written) == len(LANGUAGES) * len(Screen)
    assert render_tour.clipped == []  # type: ignore[attr-defined]


def test_variants_and_extras(tmp_path: Path) -> None:
    written = render_tour(tmp_path, ["vi"], [Screen.ATTRACT, Screen.RESULT],
                          variants=("normal", "large-text", "high-contrast"), extras=True)
    assert render_tour.clipped == []  # type: ignore[attr-defined]  # large text too
    names = {p.name for p in written}
    assert file_name("vi", "result", "high-contrast") in names and "vi__attract__language-picker.png" in names
    assert "vi__result__details.png" in names and "vi__attract__idle-warning.png" in names
    assert header_pixel(tmp_path / "vi__attract__high-contrast.png") == rgb(HIGH_CONTRAST.header)
    with Image.open(tmp_path / "vi__attract.png") as normal, \
            Image.open(tmp_path / "vi__attract__language-picker.png") as picker:
        assert ImageStat.Stat(picker.convert("L")).mean[0] < ImageStat.Stat(normal.convert("L")).mean[0]  # scrim


def test_unknown_variants_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown tour variants"):
        render_tour(tmp_path, ["en"], [Screen.ATTRACT], variants=("sepia",))
