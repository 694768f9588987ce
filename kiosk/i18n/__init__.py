"""Translations: gettext catalogs whose msgids are message keys, one catalog per kiosk language.

Keys, not English sentences, are the msgids so that a change of English wording never silently orphans
nine other languages, and so that the flow (which only knows keys) and the catalogs meet on one name.
Sentences are never assembled from pieces: each key is a whole sentence with named ``{placeholders}``,
because word order differs between the ten languages.

``.po`` files under ``locale/<language>/LC_MESSAGES/kiosk.po`` are the source and the only form the wheel
ships. ``python -m kiosk.i18n`` can compile them to ``.mo`` in a checkout; at run time a ``.mo`` that is
missing or older than its ``.po`` is compiled in memory instead (about 3 ms a language), so a fresh
checkout and an installed wheel work without a build step.
"""

from __future__ import annotations

import gettext
import io
import logging
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

from kiosk.i18n.po import mo_bytes, parse_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "kiosk"

# The kiosk's languages, in the order the language picker shows them.
LANGUAGES: tuple[str, ...] = ("ja", "ja-easy", "en", "zh-Hans", "ko", "vi", "pt-BR", "es", "tl", "id")

# Each language named in its own script: a resident looks for the name they can read.
LANGUAGE_NAMES: dict[str, str] = {
    "ja": "日本語",
    "ja-easy": "やさしい にほんご",
    "en": "English",
    "zh-Hans": "简体中文",
    "ko": "한국어",
    "vi": "Tiếng Việt",
    "pt-BR": "Português",
    "es": "Español",
    "tl": "Tagalog",
    "id": "Bahasa Indonesia",
}

# When a key is missing at run time (a test failure, never a release), show the nearest readable thing.
FALLBACKS: dict[str, tuple[str, ...]] = {"ja-easy": ("ja",), "ja": ("en",)}
DEFAULT_FALLBACK = ("en", "ja")

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")

log = logging.getLogger(__name__)

Translate = Callable[..., str]


class _Args(dict):
    """Format arguments where a missing one shows as nothing instead of crashing the kiosk screen."""

    def __missing__(self, key: str) -> str:
        log.warning("translation placeholder {%s} has no value", key)
        return ""


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def catalog(language: str) -> dict[str, str]:
    """Key → text for one language, read through the standard library's gettext machinery."""
    source = po_path(language)
    if not source.exists():
        raise LookupError(f"no catalog for language {language!r} ({source})")
    compiled = source.with_suffix(".mo")
    if compiled.exists() and compiled.stat().st_mtime >= source.stat().st_mtime:
        data = compiled.read_bytes()
    else:
        data = mo_bytes(parse_po(source.read_text(encoding="utf-8"), str(source)))
    translations = gettext.GNUTranslations(io.BytesIO(data))
    return {key: text for key, text in translations._catalog.items() if isinstance(key, str) and key}


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def translator(language: str) -> Translate:
    """``t = translator("vi"); t("pin.remaining", remaining=2)`` → the sentence, with arguments filled in.

    Unknown languages fall back to English; a missing key falls back along FALLBACKS and finally shows
    the key itself (so a gap is visible in screenshots instead of crashing a resident's session).
    """
    if language not in LANGUAGES:
        log.warning("unknown language %r, using English", language)
        language = "en"
    chain = (language, *FALLBACKS.get(language, ()), *DEFAULT_FALLBACK)
    catalogs = [catalog(code) for code in dict.fromkeys(chain)]

    def translate(key: str, **args: object) -> str:
        for entries in catalogs:
            text = entries.get(key)
            if text:
                break
        else:
            log.warning("no translation for key %r", key)
            return key
        return text.format_map(_Args(args)) if args or "{" in text else text

    translate.language = language  # type: ignore[attr-defined]
    return translate


def compile_catalogs() -> list[Path]:
    """Build step: write every ``kiosk.mo`` next to its ``kiosk.po``."""
    from kiosk.i18n.po import compile_po

    return [compile_po(po_path(language)) for language in LANGUAGES]
