"""Every character the kiosk can draw is in the font it draws with — no tofu boxes for any language.

Kivy's SDL2 text provider draws a missing glyph as an empty box without any error, so the check is made
on the font itself: every code point of every translation (and of the language names, symbols and staff
texts) must be in the cmap of the regular and the bold face Kivy is given (``kiosk.ui.fonts``). fontTools
reads the cmap, including face 0 of the .ttc collection that Kivy/SDL_ttf uses.
"""

from __future__ import annotations

import pytest

from kiosk.i18n import LANGUAGE_NAMES, LANGUAGES, catalog
from kiosk.typeset.fonts import choose_fonts
from kiosk.ui.keys import STAFF_TEXTS, SYMBOLS
from kiosk.ui.samples import SAMPLE_DETAILS
from tests.conftest import require

pytestmark = pytest.mark.ui

IGNORED = {"\n", "\t"}


def cmap_of(path: str) -> set[int]:
    ttlib = pytest.importorskip("fontTools.ttLib")
    if path.lower().endswith((".ttc", ".otc")):
        font = ttlib.TTCollection(path).fonts[0]  # face 0: what SDL_ttf opens
    else:
        font = ttlib.TTFont(path)
    return set(font.getBestCmap())


@pytest.fixture(scope="module")
def fonts():
    choice = choose_fonts()
    require(choice is not None and choice.covers_cjk, "Noto Sans CJK is not installed (apt fonts-noto-cjk)")
    return choice


def texts_by_source() -> dict[str, str]:
    sources = {f"catalog {language}": "".join(catalog(language).values()) for language in LANGUAGES}
    sources["language names"] = "".join(LANGUAGE_NAMES.values())
    sources["symbols"] = "".join(SYMBOLS.values())
    sources["staff texts"] = "".join(STAFF_TEXTS.values())
    sources["sample details"] = "".join(value for _, value in SAMPLE_DETAILS)
    sources["digits"] = "0123456789*"
    return sources


@pytest.mark.parametrize("face", ["regular", "bold"])
def test_every_character_is_in_the_font(fonts, face: str) -> None:
    cmap = cmap_of(str(getattr(fonts, face)))
    missing = {
        source: sorted({f"{ch} U+{ord(ch):04X}" for ch in text if ch not in IGNORED and ord(ch) not in cmap})
        for source, text in texts_by_source().items()
    }
    assert {source: chars for source, chars in missing.items() if chars} == {}


def test_the_check_would_notice_a_missing_glyph(fonts) -> None:
    cmap = cmap_of(str(fonts.regular))
    assert ord("あ") in cmap and ord("ệ") in cmap
    assert 0x1F50A not in cmap  # 🔊: emoji are not in the kiosk font — which is why the UI uses none
