"""Colour palettes and the contrast arithmetic that keeps them honest — no Kivy, so tests can check them.

Two palettes: the everyday one meets WCAG/JIS X 8341-3 level AA (4.5:1 for text), the high-contrast one
level AAA (7:1) with a black background, because residents with low vision ask for exactly that switch.
Meaning never rests on colour alone: every status also has a word and a symbol.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

RGBA = tuple[float, float, float, float]


def hex_color(value: str, alpha: float = 1.0) -> RGBA:
    value = value.lstrip("#")
    r, g, b = (int(value[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return (r, g, b, alpha)


@dataclass(frozen=True, slots=True)
class Palette:
    background: RGBA
    surface: RGBA  # cards, panels
    text: RGBA
    muted: RGBA  # secondary text (still AA on background and surface)
    border: RGBA
    primary: RGBA  # the one main action of a screen
    primary_fg: RGBA
    secondary: RGBA  # other actions
    secondary_fg: RGBA
    danger: RGBA  # stop / failures
    danger_fg: RGBA
    staff: RGBA  # "call staff": distinct everywhere
    staff_fg: RGBA
    header: RGBA
    header_fg: RGBA
    ok: RGBA  # status words on surface
    warn: RGBA
    bad: RGBA
    scrim: RGBA  # behind overlays
    pin_dot: RGBA


NORMAL = Palette(
    background=hex_color("#F4F6F9"),
    surface=hex_color("#FFFFFF"),
    text=hex_color("#161A1F"),
    muted=hex_color("#4A5563"),
    border=hex_color("#8A94A3"),
    primary=hex_color("#0B4FB3"),
    primary_fg=hex_color("#FFFFFF"),
    secondary=hex_color("#DDE5F0"),
    secondary_fg=hex_color("#0E2A55"),
    danger=hex_color("#B3261E"),
    danger_fg=hex_color("#FFFFFF"),
    staff=hex_color("#8A4B00"),
    staff_fg=hex_color("#FFFFFF"),
    header=hex_color("#0E2A55"),
    header_fg=hex_color("#FFFFFF"),
    ok=hex_color("#1B6B2F"),
    warn=hex_color("#8A4B00"),
    bad=hex_color("#B3261E"),
    scrim=hex_color("#000000", 0.55),
    pin_dot=hex_color("#161A1F"),
)

HIGH_CONTRAST = Palette(
    background=hex_color("#000000"),
    surface=hex_color("#000000"),
    text=hex_color("#FFFFFF"),
    muted=hex_color("#F0F0F0"),
    border=hex_color("#FFFFFF"),
    primary=hex_color("#FFE600"),
    primary_fg=hex_color("#000000"),
    secondary=hex_color("#000000"),
    secondary_fg=hex_color("#FFFFFF"),
    danger=hex_color("#FFFFFF"),
    danger_fg=hex_color("#000000"),
    staff=hex_color("#00E5FF"),
    staff_fg=hex_color("#000000"),
    header=hex_color("#000000"),
    header_fg=hex_color("#FFFFFF"),
    ok=hex_color("#7CFF7C"),
    warn=hex_color("#FFE600"),
    bad=hex_color("#FF9E9E"),
    scrim=hex_color("#000000", 0.85),
    pin_dot=hex_color("#FFE600"),
)

# The clerk's counter: a dark slate page under an amber header band, so a clerk's screen can never be
# taken for a resident's (light page, blue header) at a glance — and the resident's PIN panel, which
# uses the resident palette, can never be taken for the clerk's. Level AA like NORMAL.
CLERK = Palette(
    background=hex_color("#1F252D"),
    surface=hex_color("#2B333D"),
    text=hex_color("#F3F5F8"),
    muted=hex_color("#C5CCD6"),
    border=hex_color("#8C97A6"),
    primary=hex_color("#F2B01E"),
    primary_fg=hex_color("#1A1A1A"),
    secondary=hex_color("#3D4754"),
    secondary_fg=hex_color("#F3F5F8"),
    danger=hex_color("#E5534B"),
    danger_fg=hex_color("#1A1A1A"),
    staff=hex_color("#F2B01E"),
    staff_fg=hex_color("#1A1A1A"),
    header=hex_color("#F2B01E"),
    header_fg=hex_color("#1A1A1A"),
    ok=hex_color("#7DDC8B"),
    warn=hex_color("#F7C95C"),
    bad=hex_color("#FF8A80"),
    scrim=hex_color("#000000", 0.6),
    pin_dot=hex_color("#F3F5F8"),
)

# (foreground, background) pairs that carry text; the contrast test walks these.
TEXT_PAIRS: tuple[tuple[str, str], ...] = (
    ("text", "background"),
    ("text", "surface"),
    ("muted", "background"),
    ("muted", "surface"),
    ("primary_fg", "primary"),
    ("secondary_fg", "secondary"),
    ("danger_fg", "danger"),
    ("staff_fg", "staff"),
    ("header_fg", "header"),
    ("ok", "surface"),
    ("warn", "surface"),
    ("bad", "surface"),
)


def relative_luminance(color: RGBA) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b, _ = color
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(foreground: RGBA, background: RGBA) -> float:
    lighter, darker = sorted((relative_luminance(foreground), relative_luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def palette_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(Palette))
