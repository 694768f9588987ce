"""Which font files draw the kiosk's ten languages — decided once, without Kivy, so tests can check glyphs
and the receipt printer (Pillow) draws with the same faces as the screens (Kivy registers them in
``kiosk.ui.fonts``).

Noto Sans CJK (Debian ``fonts-noto-cjk``) covers Japanese, Chinese, Korean and every Latin letter our
languages use, Vietnamese stacked diacritics included, so one family gives the whole screen (the language
picker shows all ten scripts at once) a consistent look. Face 0 of the collection is the Japanese one;
Simplified Chinese therefore shows Japanese glyph shapes for shared ideographs, which stays legible.
When the CJK collection is missing we fall back to Noto Sans (``fonts-noto-core``): Latin languages stay
right and the doctor/logs say why Japanese would show boxes.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_CJK_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts/noto-cjk", "/usr/share/fonts/google-noto-cjk")
_LATIN_DIRS = ("/usr/share/fonts/truetype/noto", "/usr/share/fonts/noto", "/usr/share/fonts/google-noto")

# An operator can point at other files (e.g. a city's licensed font) without a code change.
ENV_REGULAR = "KIOSK_FONT_REGULAR"
ENV_BOLD = "KIOSK_FONT_BOLD"


@dataclass(frozen=True, slots=True)
class FontChoice:
    regular: Path
    bold: Path
    covers_cjk: bool


def _first(directories: tuple[str, ...], name: str) -> Path | None:
    for directory in directories:
        candidate = Path(directory) / name
        if candidate.is_file():
            return candidate
    return None


def choose_fonts() -> FontChoice | None:
    """The font files for the screens and the printed slip, or None when even the Latin fallback is missing."""
    regular_env, bold_env = os.environ.get(ENV_REGULAR), os.environ.get(ENV_BOLD)
    if regular_env and Path(regular_env).is_file():
        bold = Path(bold_env) if bold_env and Path(bold_env).is_file() else Path(regular_env)
        return FontChoice(Path(regular_env), bold, covers_cjk=True)
    regular = _first(_CJK_DIRS, "NotoSansCJK-Regular.ttc")
    if regular is not None:
        bold = _first(_CJK_DIRS, "NotoSansCJK-Bold.ttc") or regular
        return FontChoice(regular, bold, covers_cjk=True)
    latin = _first(_LATIN_DIRS, "NotoSans-Regular.ttf")
    if latin is not None:
        log.warning("Noto Sans CJK not found (install fonts-noto-cjk): Japanese, Chinese and Korean will not render")
        bold = _first(_LATIN_DIRS, "NotoSans-Bold.ttf") or latin
        return FontChoice(latin, bold, covers_cjk=False)
    log.warning("neither Noto Sans CJK nor Noto Sans found: the kiosk falls back to Kivy's Roboto (Latin only)")
    return None

