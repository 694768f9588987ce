"""Kinsoku line breaking (``kiosk.typeset.linebreak``) without Kivy: a fixed-advance "font" makes widths exact.

The rule check here is written from the requirement, not imported from the module under test, and is
proven on a naive character wrap (what Kivy does) before it is trusted on ``break_text``.
"""

from __future__ import annotations

import socket
import unicodedata
from collections.abc import Iterator

import pytest

from kiosk.i18n import catalog
from kiosk.typeset import linebreak
from kiosk.typeset.linebreak import BreakCache, break_text

EM = 10  # a fullwidth character; halfwidth ones are EM / 2

# From the requirement: never at a line start / never at a line end.
FORBIDDEN_START = set("。、）」ー・！？ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ，；：』】〕")
FORBIDDEN_END = set("「『（【〔［｛〈《([")


def measure(text: str) -> int:
    return sum(EM if unicodedata.east_asian_width(c) in "WF" else EM // 2 for c in text)


def rule_violations(broken: str) -> list[str]:
    """Lines (after the first) that start with a closing mark or a small kana; lines (before the last)
    that end with an opening bracket. For text without ``\n`` of its own."""
    lines = broken.split("\n")
    bad = [f"starts: {line!r}" for line in lines[1:] if line[:1] in FORBIDDEN_START]
    bad += [f"ends: {line!r}" for line in lines[:-1] if line[-1:] in FORBIDDEN_END]
    return bad


def naive_wrap(text: str, width: int) -> str:
    """What Kivy does with CJK text: as many characters as fit, then a new line, anywhere."""
    lines, line = [], ""
    for char in text:
        if line and measure(line + char) > width:
            lines.append(line)
            line = ""
        line += char
    return "\n".join([*lines, line])


NOT_MY_NUMBER = "このカードはマイナンバーカードではありません。マイナンバーカードを置いてください。"
CARD_INFO_PIN = "券面事項入力補助用の暗証番号（数字4桁）"


def test_the_rule_check_catches_a_naive_wrap_at_a_closing_mark() -> None:
    width = 22 * EM  # "…ありません" is 22 characters: the naive wrap puts "。" first on line 2
    naive = naive_wrap(NOT_MY_NUMBER, width)
    assert naive.split("\n")[1].startswith("。")
    assert rule_violations(naive)
    broken = break_text(NOT_MY_NUMBER, width, measure, "ja")
    assert rule_violations(broken) == []
    assert all(measure(line) <= width for line in broken.split("\n"))


def test_the_rule_check_catches_a_naive_wrap_after_an_opening_bracket() -> None:
    width = 15 * EM
    naive = naive_wrap(CARD_INFO_PIN, width)
    assert naive.split("\n")[0].endswith("（")
    assert rule_violations(naive)
    assert break_text(CARD_INFO_PIN, width, measure, "ja") == "券面事項入力補助用の暗証番号\n（数字4桁）"


@pytest.mark.parametrize("text", [
    "チェックディジットを確認しています・・・しばらくお待ちください！本当ですか？",
    "「係員を呼ぶ」を押してください。（あと３回）『注意』【重要】〔参考〕",
    "请按“呼叫工作人员”。为防止锁定，请到窗口；注意：密码（4位数字）！",
    "ちょっと　ぎゅっと　しゃっきり　キャッシュカードのチェック",
])
def test_no_width_breaks_the_rules(text: str) -> None:
    """Every width from 5 characters up ("す・・・" cannot be split at all): the rules hold and each line
    fits (a line is never empty). The kiosk's narrowest wrapping label holds 7."""
    for width in range(5 * EM, measure(text) + EM, EM // 2):
        broken = break_text(text, width, measure, "zh-Hans" if "请" in text else "ja")
        assert rule_violations(broken) == [], (width, broken)
        lines = broken.split("\n")
        assert all(line for line in lines), broken
        assert all(measure(line) <= width for line in lines), (width, broken)
        assert broken.replace("\n", "").replace(" ", "") == text.replace(" ", "")  # nothing lost


def test_phrases_are_kept_whole_when_a_whole_phrase_fits() -> None:
    # BudouX: 文字を|元の|大きさに|戻す. A character wrap at 7 would give 文字を元の大き|さに戻す.
    assert break_text("文字を元の大きさに戻す", 7 * EM, measure, "ja") == "文字を元の\n大きさに戻す"
    assert break_text("カードが電子証明書の鍵を持っていることを確認しました。", 20 * EM, measure, "ja") == (
        "カードが電子証明書の鍵を持っていることを\n確認しました。")
    # a short quoted button name moves down whole (BudouX alone would allow 「係員を|呼ぶ」)
    hint = "窓口の職員がご案内します。すぐに手助けが必要なときは「係員を呼ぶ」を押してください。"
    assert break_text(hint, 30 * EM, measure, "ja") == (
        "窓口の職員がご案内します。すぐに手助けが必要なときは\n「係員を呼ぶ」を押してください。")


def test_latin_words_numbers_and_counters_are_not_cut() -> None:
    text = "電子証明書は正規の発行者（J-LIS）が発行したものです。"
    for width in range(9 * EM, measure(text), EM // 2):
        lines = break_text(text, width, measure, "ja").split("\n")
        assert not any(line.endswith(("J", "J-", "J-L", "J-LI")) for line in lines), lines
    text = "有効期限は2030年12月31日です（あと62日）"
    for width in range(6 * EM, measure(text), EM // 2):
        lines = break_text(text, width, measure, "ja").split("\n")
        assert not any(line.endswith(("20", "203", "2030", "6", "62", "1", "12", "3", "31")) for line in lines), lines


def test_easy_japanese_breaks_at_its_spaces_and_drops_them() -> None:
    text = "この カードは マイナンバーカードでは ありません。マイナンバーカードを おいて ください。"
    broken = break_text(text, 20 * EM, measure, "ja-easy")
    assert broken == "この カードは マイナンバーカードでは\nありません。マイナンバーカードを おいて\nください。"
    assert not any(line.startswith(" ") or line.endswith(" ") for line in broken.split("\n"))


def test_text_that_fits_latin_text_and_existing_newlines_are_left_alone() -> None:
    assert break_text(NOT_MY_NUMBER, measure(NOT_MY_NUMBER), measure, "ja") == NOT_MY_NUMBER
    latin = "This card is not a My Number card. Place your My Number card on the reader."
    assert break_text(latin, 10 * EM, measure, "en") == latin  # Kivy's own word wrap does Latin text
    assert break_text("一行目。\n二行目です。", 20 * EM, measure, "ja") == "一行目。\n二行目です。"
    assert break_text("", 10, measure, "ja") == ""
    assert break_text(NOT_MY_NUMBER, 0, measure, "ja") == NOT_MY_NUMBER


def test_an_unbreakable_run_wider_than_the_line_is_cut_to_fit() -> None:
    text = "番号：12345678901234567890"
    broken = break_text(text, 8 * EM, measure, "ja")
    assert all(measure(line) <= 8 * EM for line in broken.split("\n"))
    assert broken.replace("\n", "") == text
    assert break_text("あいう", 1, measure, "ja") == "あ\nい\nう"  # narrower than one character: no loop


def test_characters_outside_the_bmp_keep_their_place() -> None:
    """ICU counts UTF-16 units; a name with 𠮷 (U+20BB7) must not shift the breaks after it."""
    text = "𠮷田様の住所は東京都千代田区霞が関二丁目です。𠮷野家の前で「お待ちください」。"
    for width in range(5 * EM, measure(text), EM):
        broken = break_text(text, width, measure, "ja")
        assert broken.replace("\n", "") == text and rule_violations(broken) == [], broken
        assert all(measure(line) <= width for line in broken.split("\n"))


def test_japanese_inside_another_language_is_broken_too() -> None:
    # a Japanese address on the English result screen, "やさしい にほんご" on the English language picker
    address = "東京都千代田区霞が関二丁目一番二号　中央合同庁舎第二号館"
    broken = break_text(address, 12 * EM, measure, "en")
    assert "\n" in broken and rule_violations(broken) == []


def test_the_cache_breaks_a_text_once_per_width_and_font() -> None:
    cache = BreakCache(size=2)
    calls: list[str] = []

    def counting(text: str) -> int:
        calls.append(text)
        return measure(text)

    first = cache.get(NOT_MY_NUMBER, 20 * EM, counting, "ja", ("font", 30))
    measured = len(calls)
    assert cache.get(NOT_MY_NUMBER, 20 * EM, counting, "ja", ("font", 30)) == first
    assert len(calls) == measured and cache.hits == 1
    assert cache.get(NOT_MY_NUMBER, 20 * EM, counting, "ja", ("font", 44)) == first  # another font: measured
    assert len(calls) > measured and cache.misses == 2
    cache.get(CARD_INFO_PIN, 5 * EM, counting, "ja", ("font", 30))
    assert len(cache._items) == 2  # bounded
    assert cache.get("English only", 1, counting, "en", None) == "English only" and cache.misses == 3


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def refuse(*_: object, **__: object) -> None:
        raise AssertionError("line breaking tried to use the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    linebreak._parser.cache_clear()
    linebreak.opportunities.cache_clear()
    yield
    linebreak._parser.cache_clear()


@pytest.mark.usefixtures("no_network")
def test_the_phrase_models_ship_inside_the_packages() -> None:
    for language, text in (("ja", "文字を大きくする"), ("zh-Hans", "请输入用户证明用电子证明书的4位数字密码"),
                           ("zh-Hant", "請輸入密碼")):
        assert linebreak._parser(linebreak.phrase_model(language)).parse(text)
        assert break_text(text, 3 * EM, measure, language).count("\n") >= 1


CJK_LANGUAGES = ("ja", "ja-easy", "zh-Hans")


@pytest.mark.parametrize("language", CJK_LANGUAGES)
def test_every_catalog_string_at_every_width(language: str) -> None:
    """The fixed-advance check over whole catalogs (the Kivy-measured one is test_kinsoku_catalogs)."""
    failures = []
    for key, text in catalog(language).items():
        for width in range(4 * EM, 40 * EM, EM):
            broken = break_text(text, width, measure, language)
            problems = rule_violations(broken)
            problems += [f"too wide: {line!r}" for line in broken.split("\n") if measure(line) > width]
            failures += [f"{key} @{width}: {p}" for p in problems]
    assert failures == []
