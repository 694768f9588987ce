"""Basic-4 normalisation (version 1): the one comparison form of name, address, birth date and sex.

Used where two spellings of one resident's basic 4 information must compare equal: the server's keyed
hash (server/matching.py) that matches a card to its pickup, and the kiosk's check that the sign
certificate's SAN attributes describe the basic 4 on the card (drivers/mynumber/certificates.py). The
hash is stored, so these rules are frozen: changing what a value normalises to needs a new version.

1. Unicode NFKC, so full-width digits and Latin letters (``１２３``, ``ＡＢＣ``), half-width katakana
   (``ｶﾀｶﾅ``) and the ideographic space (U+3000) become their canonical forms.
2. Dash-like characters (U+2010–U+2015, U+2212 minus, U+FE58, U+FE63, U+FF0D) become ``-``; the
   katakana prolonged sound mark ``ー`` is left alone because it is part of names.
3. Every run of whitespace becomes one ASCII space; leading and trailing whitespace is removed.
4. ASCII letters are upper-cased (foreign residents' names in Latin letters).
5. Birth date: 8 digits ``YYYYMMDD`` that form a real Gregorian date. ``YYYY-MM-DD``, ``YYYY/MM/DD`` and
   ``YYYY.MM.DD`` (one separator, used twice) are accepted and reduced to the digits. Era dates
   (``H07.07.07``) are refused, not converted.
6. Sex: one ISO 5218 code as cards store it — ``1``, ``2`` or ``9`` (``0`` is ISO 5218 but not seen on
   cards). The words 男/男性/male/m and 女/女性/female/f are read as ``1``/``2``, because the text format
   inside the sign certificate is UNCONFIRMED.
7. The normalised fields are joined in card order — name, address, birth date, sex — with U+001F (unit
   separator), prefixed by ``basic4/v1``, and encoded as UTF-8 (``normalised_basic4``).

Kanji variants (異体字, e.g. 髙/高) are NOT folded: the card and the resident register use the same
characters, and guessing equivalences would make two different people match.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

NORMALISATION_VERSION = "basic4/v1"
SEPARATOR = "\x1f"
SEX_CODES = ("1", "2", "9")
SEX_WORDS = {"男": "1", "男性": "1", "male": "1", "m": "1", "女": "2", "女性": "2", "female": "2", "f": "2"}
# What an API field accepts before normalisation (ASCII digits only; NFKC forms are for card text).
BIRTH_DATE_PATTERN = r"^[0-9]{4}(?:[0-9]{4}|-[0-9]{2}-[0-9]{2}|/[0-9]{2}/[0-9]{2}|\.[0-9]{2}\.[0-9]{2})$"

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-")
_WHITESPACE = re.compile(r"\s+")
_BIRTH = re.compile(r"^(\d{4})([-/.]?)(\d{2})\2(\d{2})$", re.ASCII)


def normalise_text(value: str) -> str:
    """Steps 1-4: the comparison form of a name or an address (display always uses the original)."""
    text = unicodedata.normalize("NFKC", value).translate(_DASHES)
    text = _WHITESPACE.sub(" ", text).strip()
    return "".join(ch.upper() if ch.isascii() else ch for ch in text)


def normalise_birth_date(value: str) -> str:
    """Step 5: ``YYYYMMDD``; ValueError when the text is not one of the accepted forms of a real date."""
    match = _BIRTH.match(unicodedata.normalize("NFKC", value).strip())
    if not match:
        raise ValueError("birth date must be YYYYMMDD (or YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD)")
    year, _, month, day = match.groups()
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        raise ValueError("birth date is not a calendar date") from None
    return year + month + day


def normalise_sex(value: str) -> str:
    """Step 6: the ISO 5218 code; ValueError when the value is neither a card code nor a known word."""
    text = normalise_text(value)
    code = text if text in SEX_CODES else SEX_WORDS.get(text.lower())
    if code is None:
        raise ValueError("sex must be one ISO 5218 digit: 1, 2 or 9")
    return code


def same_text(value: str, *candidates: str | None) -> bool:
    """Does any present candidate normalise to the same text as ``value``? (An empty text matches nothing.)"""
    expected = normalise_text(value)
    return bool(expected) and any(c is not None and normalise_text(c) == expected for c in candidates)


def normalised_basic4(name: str, address: str, birth_date: str, sex: str) -> bytes:
    """Step 7: the exact bytes the server hashes; ValueError naming the first field that cannot be used."""
    name_text, address_text = normalise_text(name), normalise_text(address)
    if not name_text or not address_text:
        raise ValueError("name and address must not be empty")
    fields = (name_text, address_text, normalise_birth_date(birth_date), normalise_sex(sex))
    return SEPARATOR.join((NORMALISATION_VERSION, *fields)).encode("utf-8")
