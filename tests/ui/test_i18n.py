"""Every message the kiosk can show exists, complete, in all ten languages — checked, not hoped.

The keys come from the two owners: ``kiosk.core.messages.ALL_MESSAGE_KEYS`` (what the flow says) and
``kiosk.ui.keys.UI_KEYS`` (what the screens say), and the literal keys written in the kv/py sources are
extracted and checked against those lists so that neither can drift.
"""

from __future__ import annotations

import gettext
import io
import re
from pathlib import Path

import pytest

from kiosk.core.messages import ALL_MESSAGE_KEYS
from kiosk.i18n import LANGUAGE_NAMES, LANGUAGES, catalog, placeholders, po_path, translator
from kiosk.i18n.po import PoError, mo_bytes, parse_po
from kiosk.ui.keys import UI_KEYS
from kiosk.ui.text import UiTranslator, format_date

pytestmark = pytest.mark.ui

UI_DIR = Path(__file__).resolve().parents[2] / "kiosk" / "ui"
ALL_KEYS = frozenset(UI_KEYS) | ALL_MESSAGE_KEYS
# app.t('key' …) in kv and py files; keys are lower-case dotted words.
LITERAL_KEY = re.compile(r"""\bt\(\s*['"]([a-z0-9_]+(?:\.[a-z0-9_]+)+)['"]""")
KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def test_the_kiosk_offers_ten_languages_each_named_in_its_own_script() -> None:
    assert len(LANGUAGES) == 10
    assert set(LANGUAGE_NAMES) == set(LANGUAGES)
    assert LANGUAGE_NAMES["ja"] == "日本語" and LANGUAGE_NAMES["vi"] == "Tiếng Việt"


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_key_has_a_non_empty_translation(language: str) -> None:
    entries = catalog(language)
    missing = sorted(key for key in ALL_KEYS if not entries.get(key, "").strip())
    assert missing == [], f"{language}: no translation for {missing}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogs_hold_no_stale_keys(language: str) -> None:
    assert sorted(set(catalog(language)) - ALL_KEYS) == []


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_placeholders_match_english(language: str) -> None:
    english, entries = catalog("en"), catalog(language)
    wrong = {key: (placeholders(entries[key]), placeholders(english[key]))
             for key in ALL_KEYS if placeholders(entries[key]) != placeholders(english[key])}
    assert wrong == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_translation_formats_with_the_arguments_the_ui_gives(language: str) -> None:
    t = UiTranslator(language)
    args = {"remaining": 2, "maximum": 3, "seconds": 15, "days": 30, "date": "2030/5/31", "pin": "auth",
            "year": 2030, "month": 5, "day": 31}
    for key in sorted(ALL_KEYS):
        text = t(key, **args)
        assert "{" not in text and "}" not in text, (language, key, text)


def test_literal_keys_in_the_screens_are_known() -> None:
    used: set[str] = set()
    for path in sorted(UI_DIR.rglob("*")):
        if path.suffix in (".kv", ".py"):
            used.update(LITERAL_KEY.findall(path.read_text(encoding="utf-8")))
    assert used, "the extraction found no keys: the pattern is out of date"
    assert sorted(used - ALL_KEYS) == []


def test_easy_japanese_is_written_without_kanji() -> None:
    """やさしい日本語 here is kana with spaces between phrases; it is also what espeak-ng reads for Japanese."""
    offenders = {key: text for key, text in catalog("ja-easy").items() if KANJI.search(text)}
    assert offenders == {}


def test_the_pin_code_in_a_message_becomes_the_pins_name() -> None:
    assert "利用者証明用" in UiTranslator("ja")("counter.last_try", pin="auth", remaining=1)
    assert "{pin}" not in UiTranslator("en")("counter.blocked")  # no PIN named: a generic word, not a hole


def test_dates_follow_each_languages_order() -> None:
    assert format_date(UiTranslator("ja"), "2030-05-31") == "2030年5月31日（令和12年）"
    assert format_date(UiTranslator("vi"), "2030-05-31") == "ngày 31 tháng 5 năm 2030"
    assert format_date(UiTranslator("en"), "not a date") == "not a date"


def test_unknown_keys_and_languages_degrade_visibly_not_fatally() -> None:
    assert translator("en")("no.such.key") == "no.such.key"
    assert translator("xx")("staff.call") == translator("en")("staff.call")


# --- the catalog compiler ----------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalogs_read_back_through_standard_gettext(language: str) -> None:
    source = po_path(language)
    entries = parse_po(source.read_text(encoding="utf-8"), str(source))
    compiled = gettext.GNUTranslations(io.BytesIO(mo_bytes(entries)))
    for entry in entries:
        if entry.msgid:
            assert compiled.gettext(entry.msgid) == entry.msgstr
    assert compiled.info()["content-type"] == "text/plain; charset=UTF-8"


def test_the_po_reader_handles_continuations_and_escapes() -> None:
    text = ('msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
            '#. note\nmsgid "a.b"\nmsgstr ""\n"x \\"y\\" "\n"z"\n')
    entries = parse_po(text)
    assert entries[1].msgid == "a.b" and entries[1].msgstr == 'x "y" z' and entries[1].comment == "note"


@pytest.mark.parametrize("bad", [
    'msgid "a"\nmsgid_plural "as"\nmsgstr[0] ""\n',
    'msgctxt "c"\nmsgid "a"\nmsgstr "b"\n',
    'msgid "a"\nmsgstr "b"\n\nmsgid "a"\nmsgstr "c"\n',
    'msgid "a"\n',
    'msgid a\nmsgstr "b"\n',
])
def test_the_po_reader_refuses_what_the_catalogs_must_not_contain(bad: str) -> None:
    with pytest.raises(PoError):
        parse_po(bad)
