"""Line breaking for Japanese and Chinese text (kinsoku shori), done before Kivy sees the text.

Kivy's Label wraps text that has no spaces at *any* character, so "。" or "ー" can start a line and "（"
can end one — the first thing a Japanese reader notices as broken. Here a text containing CJK characters
gets explicit ``\\n`` at positions that are:

1. UAX #14 line-break opportunities with CLDR's strict Japanese/Chinese tailoring (ICU through
   ``icu4py``, ``lb=strict``: small kana and "ー" never start a line; "1980" or "PIN" are never split);
2. allowed by the kinsoku rules below, checked again explicitly so that no corner case (a break after
   spaces, an emergency break) puts a closing mark at a line start or an opening bracket at an end;
3. for preference, phrase (文節) boundaries from BudouX (Google's segmenter, models inside the package)
   or spaces (やさしい日本語 is written with spaces between words), so that a word is not cut in half when
   a whole phrase can move to the next line.

Lines are filled greedily to the given pixel width with a measuring function (the widget passes Kivy's
own ``get_extents``, so Kivy never re-wraps a line). Text without CJK characters is returned unchanged:
Latin-script languages keep Kivy's word wrapping. Kivy-free, so it is unit-tested without a window.

Cost matters because this runs on the UI thread when a label first shows a sentence: ICU and BudouX take
~10–30 µs for a kiosk sentence (a pure-Python UAX #14, uniseg, took ~3 ms and made frames late).
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from functools import cache, lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from budoux import Parser
    from icu4py.locale import Locale

Measure = Callable[[str], float]
log = logging.getLogger(__name__)

# 行頭禁則: never first on a line (JIS X 4051 classes cl-02…cl-06 and cl-11 small kana; Chinese GB/T 15834).
NO_LINE_START = frozenset(
    "、。，．,.・：；:;！？!?‼⁇⁈⁉"  # punctuation, Japanese, Chinese, fullwidth, ASCII
    "）」』】〕〗〙〛］｝〉》〟’”»›)]}｣"  # closing brackets and quotes
    "ー‐゠–〜～ゝゞヽヾ々〻…‥"  # prolonged sound, hyphens, wave dash, iteration marks, ellipses
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ"  # small kana
    "｡､･ｧｨｩｪｫｬｭｮｯｰ％%"  # halfwidth forms; a percent sign belongs to its number
)
# 行末禁則: never last on a line.
NO_LINE_END = frozenset("（「『【〔〖〘〚［｛〈《〝‘“«‹([{｢")

# Hiragana, katakana, CJK punctuation and ideographs, fullwidth forms: text that Kivy would cut anywhere.
_CJK = re.compile(
    "[\u3000-\u303f\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\uff00-\uffef\U00020000-\U0003ffff]"
)
_SPACE = " "
_SPACED = re.compile(_CJK.pattern + " +" + _CJK.pattern)  # a space between two CJK characters
_CLAUSE_END = frozenset("。、，．！？；：")
_BRACKETS = {"「": "」", "『": "』", "（": "）", "【": "】", "〔": "〕", "［": "］", "〈": "〉", "《": "》", "“": "”",
             "(": ")"}
_SHORT_BRACKETED = 10  # characters
_CACHE_SIZE = 2048


def has_cjk(text: str) -> bool:
    """True when Kivy's wrapping would treat the text as breakable anywhere (no spaces between words)."""
    return _CJK.search(text) is not None


def phrase_model(language: str) -> str:
    """The BudouX model for a kiosk language: Chinese for zh-*, else Japanese.

    CJK text shown in any other language (a resident's name and address, "日本語" on the language picker)
    is Japanese at a Japanese municipal kiosk.
    """
    lowered = language.lower()
    if lowered.startswith("zh"):
        return "zh-hant" if ("hant" in lowered or lowered in ("zh-tw", "zh-hk", "zh-mo")) else "zh-hans"
    return "ja"


@cache
def _parser(model: str) -> Parser:
    """Loaded once: a ~100 kB JSON model shipped inside the package (nothing is downloaded)."""
    import budoux

    loaders = {
        "ja": budoux.load_default_japanese_parser,
        "zh-hans": budoux.load_default_simplified_chinese_parser,
        "zh-hant": budoux.load_default_traditional_chinese_parser,
    }
    return loaders[model]()


@cache
def _icu_locale(model: str) -> Locale:
    """CLDR's strict line breaking (CSS ``line-break: strict``) for the text's language."""
    from icu4py.locale import Locale

    language, country = {"ja": ("ja", "JP"), "zh-hans": ("zh", "CN"), "zh-hant": ("zh", "TW")}[model]
    return Locale(language, country, None, {"lb": "strict"})


def _boundaries(parts: Iterable[str], text: str) -> list[int]:
    """Inner boundaries from ICU's segments, counted in code points (``segments()`` counts UTF-16 units,
    which is wrong after a character outside the BMP such as 𠮷)."""
    ends, offset = [], 0
    for part in parts:
        offset += len(part)
        ends.append(offset)
    if offset != len(text):
        raise ValueError(f"ICU segments do not add up to the text: {text!r}")
    return [p for p in ends if 0 < p < len(text)]


def break_allowed(text: str, position: int) -> bool:
    """Kinsoku: may a line end before ``text[position]``? Spaces at the break are dropped, so they are skipped."""
    after = position
    while after < len(text) and text[after] == _SPACE:
        after += 1
    before = position - 1
    while before >= 0 and text[before] == _SPACE:
        before -= 1
    if after >= len(text) or before < 0:
        return False
    return text[after] not in NO_LINE_START and text[before] not in NO_LINE_END


def _number_and_counter(text: str, position: int) -> bool:
    """A tailoring of UAX #14 (which allows it): "4|桁", "1|回", "1|次" are read as one word."""
    return text[position - 1].isdigit() and _CJK.match(text, position) is not None


@lru_cache(maxsize=_CACHE_SIZE)
def opportunities(paragraph: str, model: str = "ja") -> tuple[tuple[int, ...], frozenset[int]]:
    """(every allowed break position, the preferred ones) for one paragraph without ``\\n``.

    A position ``p`` means "a line may end before ``paragraph[p]``". Cached by text: it depends on the
    text only, not on width or font.
    """
    from icu4py.breakers import LineBreaker

    allowed = tuple(
        p for p in _boundaries(LineBreaker(paragraph, _icu_locale(model)), paragraph)
        if break_allowed(paragraph, p) and not _number_and_counter(paragraph, p)
    )
    if not allowed:
        return allowed, frozenset()
    if _SPACED.search(paragraph):
        # 分かち書き (やさしい日本語): the writer's spaces are the word boundaries; BudouX, trained on
        # unspaced text, would cut "に|ほんご". A clause ends at "。" or "、" too.
        preferred = frozenset(p for p in allowed if paragraph[p - 1] == _SPACE or paragraph[p - 1] in _CLAUSE_END)
    else:
        phrases: set[int] = set()
        offset = 0
        for chunk in _parser(model).parse(paragraph):
            offset += len(chunk)
            phrases.add(offset)
        preferred = frozenset(p for p in allowed if p in phrases or paragraph[p - 1] == _SPACE)
        preferred -= _inside_short_brackets(paragraph)
    return allowed, preferred


def _inside_short_brackets(text: str) -> set[int]:
    """Positions inside a short 「…」 or （…）: a quoted button name ("「係員を呼ぶ」を押して") or a short
    aside moves to the next line whole rather than at a phrase boundary inside it (still allowed there)."""
    inside: set[int] = set()
    opened: list[tuple[str, int]] = []
    for index, char in enumerate(text):
        if char in _BRACKETS:
            opened.append((_BRACKETS[char], index))
        elif opened and char == opened[-1][0]:
            _, start = opened.pop()
            if index - start - 1 <= _SHORT_BRACKETED:
                inside.update(range(start + 1, index + 1))
    return inside


def _graphemes(text: str) -> list[int]:
    """Inner grapheme boundaries: an emergency break never separates a base from its marks."""
    from icu4py.breakers import CharacterBreaker

    return _boundaries(CharacterBreaker(text, _icu_locale("ja")), text)


class _Filler:
    """Greedy line filling of one paragraph; every width is measured on the line as it will be drawn."""

    def __init__(self, paragraph: str, width: float, measure: Measure, model: str) -> None:
        self.text = paragraph
        self.width = width
        self.measure = measure
        self.allowed, self.preferred = opportunities(paragraph, model)
        self.preferred_sorted = sorted(self.preferred)

    def fits(self, start: int, end: int) -> bool:
        return self.measure(self.text[start:end].rstrip(_SPACE)) <= self.width

    def farthest_fitting(self, start: int, candidates: Sequence[int]) -> int | None:
        """The last candidate after ``start`` whose line fits (widths grow with the line: binary search)."""
        lo = bisect_right(candidates, start)
        hi = len(candidates)  # candidates[lo:hi] to search
        best = None
        while lo < hi:
            mid = (lo + hi) // 2
            if self.fits(start, candidates[mid]):
                best = candidates[mid]
                lo = mid + 1
            else:
                hi = mid
        return best

    def next_break(self, start: int) -> int:
        by_rule = self.farthest_fitting(start, self.allowed)
        by_phrase = self.farthest_fitting(start, self.preferred_sorted)
        if by_phrase is not None and by_phrase != by_rule:
            following = bisect_left(self.preferred_sorted, by_phrase + 1)
            phrase_end = self.preferred_sorted[following] if following < len(self.preferred_sorted) else len(self.text)
            if self.fits(by_phrase, phrase_end):
                return by_phrase  # the next phrase moves down whole
            # the next phrase is longer than a line anyway: fill this line instead of leaving a gap
        if by_rule is not None:
            return by_rule
        return self.emergency_break(start)

    def emergency_break(self, start: int) -> int:
        """One unbreakable run (a long number, a URL) wider than the line: cut it where kinsoku allows."""
        boundaries = _graphemes(self.text)
        polite = [p for p in boundaries if break_allowed(self.text, p)]
        for candidates in (polite, boundaries):
            cut = self.farthest_fitting(start, candidates)
            if cut is not None:
                return cut
        following = bisect_right(boundaries, start)  # not even one character fits: one per line
        return boundaries[following] if following < len(boundaries) else len(self.text)

    def lines(self) -> list[str]:
        text, start, result = self.text, 0, []
        while not self.fits(start, len(text)):
            end = self.next_break(start)
            if end >= len(text):
                break
            result.append(text[start:end].rstrip(_SPACE))
            start = end
            while start < len(text) and text[start] == _SPACE:
                start += 1
        result.append(text[start:].rstrip(_SPACE) if result else text[start:])
        return result


def break_text(text: str, width: float, measure: Measure, language: str = "ja") -> str:
    """``text`` with ``\\n`` inserted so that every line fits ``width`` pixels and obeys kinsoku.

    ``measure(s)`` is the drawn width of ``s`` in pixels in the label's font and size. Existing ``\\n``
    are kept. Text without CJK characters, or a width ≤ 0, comes back unchanged.
    """
    if width <= 0 or not text or not has_cjk(text):
        return text
    model = phrase_model(language)
    out: list[str] = []
    for paragraph in text.split("\n"):
        if not paragraph or measure(paragraph) <= width:
            out.append(paragraph)
        else:
            try:
                out.extend(_Filler(paragraph, width, measure, model).lines())
            except ValueError as exc:  # ICU disagreed with Python about the text: Kivy's wrap beats no screen
                # never the text itself: a label may hold a resident's name or address
                log.error("line breaking failed (%s) on a %d-character text; Kivy wraps it", type(exc).__name__,
                          len(paragraph))
                out.append(paragraph)
    return "\n".join(out)


def warm_up() -> None:
    """Load the phrase models and ICU once, before the first resident sees a screen (10–30 ms)."""
    for model in ("ja", "zh-hans"):
        opportunities("カードを入れてください。", model)


class BreakCache:
    """``break_text`` results by (text, language, width, font key): a label re-laid out at the same size
    (every frame of a layout pass, every language switch back) costs a dict look-up on the UI thread."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._size = size
        self._items: OrderedDict[tuple[Hashable, ...], str] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, text: str, width: float, measure: Measure, language: str, font_key: Hashable) -> str:
        if not text or width <= 0 or not has_cjk(text):
            return text
        key = (text, phrase_model(language), int(width), font_key)
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
            self.hits += 1
            return found
        self.misses += 1
        result = break_text(text, int(width), measure, language)
        self._items[key] = result
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return result

    def clear(self) -> None:
        self._items.clear()
        self.hits = self.misses = 0
