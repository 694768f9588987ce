"""Text stays readable in both palettes: WCAG/JIS X 8341-3 contrast levels, computed, not eyeballed."""

from __future__ import annotations

import pytest

from kiosk.ui.palette import CLERK, HIGH_CONTRAST, NORMAL, TEXT_PAIRS, contrast_ratio, hex_color

pytestmark = pytest.mark.ui


@pytest.mark.parametrize(("palette", "minimum"), [(NORMAL, 4.5), (HIGH_CONTRAST, 7.0), (CLERK, 4.5)],
                         ids=["normal", "high", "clerk"])
@pytest.mark.parametrize(("foreground", "background"), TEXT_PAIRS)
def test_text_contrast(palette, minimum: float, foreground: str, background: str) -> None:
    ratio = contrast_ratio(getattr(palette, foreground), getattr(palette, background))
    assert ratio >= minimum, f"{foreground} on {background}: {ratio:.2f} < {minimum}"


def test_contrast_arithmetic_matches_the_reference_values() -> None:
    assert contrast_ratio(hex_color("#000000"), hex_color("#FFFFFF")) == pytest.approx(21.0)
    assert contrast_ratio(hex_color("#777777"), hex_color("#FFFFFF")) == pytest.approx(4.48, abs=0.01)


def test_the_clerk_palette_cannot_be_taken_for_the_residents() -> None:
    """Page and header differ strongly in lightness from the resident's, not just slightly in hue."""
    assert contrast_ratio(CLERK.background, NORMAL.background) >= 7.0
    assert contrast_ratio(CLERK.header, NORMAL.header) >= 4.5
    assert contrast_ratio(CLERK.primary, NORMAL.primary) >= 3.0
