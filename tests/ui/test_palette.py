"""Text stays readable in both palettes: WCAG/JIS X 8341-3 contrast levels, computed, not eyeballed."""

from __future__ import annotations

import pytest

from kiosk.ui.palette import HIGH_CONTRAST, NORMAL, TEXT_PAIRS, contrast_ratio, hex_color

pytestmark = pytest.mark.ui


@pytest.mark.parametrize(("palette", "minimum"), [(NORMAL, 4.5), (HIGH_CONTRAST, 7.0)], ids=["normal", "high"])
@pytest.mark.parametrize(("foreground", "background"), TEXT_PAIRS)
def test_text_contrast(palette, minimum: float, foreground: str, background: str) -> None:
    ratio = contrast_ratio(getattr(palette, foreground), getattr(palette, background))
    assert ratio >= minimum, f"{foreground} on {background}: {ratio:.2f} < {minimum}"


def test_contrast_arithmetic_matches_the_reference_values() -> None:
    assert contrast_ratio(hex_color("#000000"), hex_color("#FFFFFF")) == pytest.approx(21.0)
    assert contrast_ratio(hex_color("#777777"), hex_color("#FFFFFF")) == pytest.approx(4.48, abs=0.01)
