"""Sizes and colours every kv rule binds to, switchable at run time (large text, high contrast).

Sizes are in dp/sp so that the same layout holds on a 1080×1920 portrait panel and a landscape one. On
such panels (about 100–150 dpi) 96 dp is 16–24 mm: the touch target floor for older fingers and tremor
(JIS X 8341 / EN 301 549 ask for large, well-separated controls; we use ≥ 15 mm). Large text scales text
by 1.4 and grows targets too, because larger words in the same button would wrap into a cramped box.
"""

from __future__ import annotations

from kivy.event import EventDispatcher
from kivy.metrics import dp, sp
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty

from kiosk.core.view import Screen, ViewState
from kiosk.ui.palette import CLERK, HIGH_CONTRAST, NORMAL, Palette, palette_names

TOUCH_TARGET_DP = 96.0
LARGE_TOUCH_TARGET_DP = 120.0
LARGE_TEXT_SCALE = 1.4

# Text sizes (sp) at scale 1.0: body text ~7 mm high on a 21.5" 1080×1920 panel.
BASE_SIZES_SP = {
    "small": 24.0,
    "body": 30.0,
    "button": 32.0,
    "title": 44.0,
    "huge": 60.0,  # PIN dots and digits
}


def is_clerk_screen(view: ViewState) -> bool:
    """The counter's clerk-facing screens get the clerk palette; the resident's PIN panel never does."""
    return view.clerk is not None and view.screen is not Screen.PIN_SETUP


class Theme(EventDispatcher):
    """Observable theme: kv writes ``app.theme.body`` and follows every switch without Python glue."""

    large_text = BooleanProperty(False)
    high_contrast = BooleanProperty(False)
    clerk = BooleanProperty(False)  # the clerk's counter screens (kiosk.ui.palette.CLERK)

    small = NumericProperty(sp(BASE_SIZES_SP["small"]))
    body = NumericProperty(sp(BASE_SIZES_SP["body"]))
    button = NumericProperty(sp(BASE_SIZES_SP["button"]))
    title = NumericProperty(sp(BASE_SIZES_SP["title"]))
    huge = NumericProperty(sp(BASE_SIZES_SP["huge"]))
    touch = NumericProperty(dp(TOUCH_TARGET_DP))  # minimum height/width of anything touchable
    gap = NumericProperty(dp(16))
    pad = NumericProperty(dp(24))
    radius = NumericProperty(dp(14))
    line = NumericProperty(dp(2))  # border width

    background = ColorProperty(NORMAL.background)
    surface = ColorProperty(NORMAL.surface)
    text = ColorProperty(NORMAL.text)
    muted = ColorProperty(NORMAL.muted)
    border = ColorProperty(NORMAL.border)
    primary = ColorProperty(NORMAL.primary)
    primary_fg = ColorProperty(NORMAL.primary_fg)
    secondary = ColorProperty(NORMAL.secondary)
    secondary_fg = ColorProperty(NORMAL.secondary_fg)
    danger = ColorProperty(NORMAL.danger)
    danger_fg = ColorProperty(NORMAL.danger_fg)
    staff = ColorProperty(NORMAL.staff)
    staff_fg = ColorProperty(NORMAL.staff_fg)
    header = ColorProperty(NORMAL.header)
    header_fg = ColorProperty(NORMAL.header_fg)
    ok = ColorProperty(NORMAL.ok)
    warn = ColorProperty(NORMAL.warn)
    bad = ColorProperty(NORMAL.bad)
    scrim = ColorProperty(NORMAL.scrim)
    pin_dot = ColorProperty(NORMAL.pin_dot)

    def apply(self, large_text: bool, high_contrast: bool, clerk: bool = False) -> None:
        """Switch modes; only changed values are set, so an unchanged view costs no re-layout. ``clerk``
        wins over high contrast: a clerk's screen must never look like a resident's."""
        if large_text != self.large_text or self.touch == 0:
            scale = LARGE_TEXT_SCALE if large_text else 1.0
            for name, size in BASE_SIZES_SP.items():
                setattr(self, name, sp(size * scale))
            self.touch = dp(LARGE_TOUCH_TARGET_DP if large_text else TOUCH_TARGET_DP)
            self.gap = dp(20 if large_text else 16)
            self.line = dp(2)
            self.large_text = large_text
        if high_contrast != self.high_contrast or clerk != self.clerk:
            self._set_palette(CLERK if clerk else HIGH_CONTRAST if high_contrast else NORMAL)
            self.line = dp(4 if high_contrast and not clerk else 2)
            self.high_contrast = high_contrast
            self.clerk = clerk

    def _set_palette(self, palette: Palette) -> None:
        for name in palette_names():
            setattr(self, name, getattr(palette, name))
