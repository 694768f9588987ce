"""Basic-4 matching by keyed hash: the server compares residents without keeping their data in clear.

A pickup is created from the city's records with the resident's basic 4 information (name, address, birth
date, sex). The server stores only ``HMAC-SHA256(matching key, normalised basic-4)``. At the counter the clerk's
kiosk reads the basic 4 information from the new card and asks the server whether it matches
(``POST /v1/pickups/{id}/basic4-check``); the values are hashed and compared, never stored or logged.

Normalisation (version 1) — both sides must agree byte for byte, so it is deliberately simple:

1. Unicode NFKC, so full-width digits and Latin letters (``１２３``, ``ＡＢＣ``), half-width katakana
   (``ｶﾀｶﾅ``) and the ideographic space (U+3000) become their canonical forms.
2. Dash-like characters (U+2010–U+2015, U+2212 minus, U+FE58, U+FE63, U+FF0D) become ``-``; the
   katakana prolonged sound mark ``ー`` is left alone because it is part of names.
3. Every run of whitespace becomes one ASCII space; leading and trailing whitespace is removed.
4. ASCII letters are upper-cased (foreign residents' names in Latin letters).
5. Birth date: 8 digits ``YYYYMMDD`` (``YYYY-MM-DD`` and ``YYYY/MM/DD`` are accepted and reduced to digits).
   Sex: one ISO 5218 digit (``1``, ``2`` or ``9``, as on the card).
6. The fields are joined in card order — name, address, birth date, sex — with U+001F (unit separator),
   prefixed by ``basic4/v1``, and encoded as UTF-8.

Kanji variants (異体字, e.g. 髙/高) are NOT folded: the card and the resident register use the same
characters, and guessing equivalences would make two different people match.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass

NORMALISATION_VERSION = "basic4/v1"
_SEPARATOR = "\x1f"
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"), "-")
_WHITESPACE = re.compile(r"\s+")
_BIRTH = re.compile(r"^(\d{4})[-/]?(\d{2})[-/]?(\d{2})$", re.ASCII)
_SEXES = frozenset("129")


@dataclass(frozen=True, slots=True)
class Basic4:
    """The basic 4 information as read from a card or a register (synthetic in this repository)."""

    name: str
    address: str
    birth_date: str
    sex: str

    def __repr__(self) -> str:  # never print personal data, even in a debugger or a failing assert
        return "Basic4(<redacted>)"


def normalise_text(value: str) -> str:
    """Steps 1-4 of the module docstring."""
    text = unicodedata.normalize("NFKC", value).translate(_DASHES)
    text = _WHITESPACE.sub(" ", text).strip()
    return "".join(ch.upper() if ch.isascii() else ch for ch in text)


def normalise_birth_date(value: str) -> str:
    match = _BIRTH.match(unicodedata.normalize("NFKC", value).strip())
    if not match:
        raise ValueError("birth date must be YYYYMMDD")
    return "".join(match.groups())


def normalise_sex(value: str) -> str:
    text = unicodedata.normalize("NFKC", value).strip()
    if text not in _SEXES:
        raise ValueError("sex must be one ISO 5218 digit: 1, 2 or 9")
    return text


def normalised_basic4(basic4: Basic4) -> bytes:
    """The exact bytes that are hashed (step 6)."""
    name, address = normalise_text(basic4.name), normalise_text(basic4.address)
    if not name or not address:
        raise ValueError("name and address must not be empty")
    fields = (name, address, normalise_birth_date(basic4.birth_date), normalise_sex(basic4.sex))
    return _SEPARATOR.join((NORMALISATION_VERSION, *fields)).encode("utf-8")


def match_key(key: bytes, basic4: Basic4) -> str:
    """HMAC-SHA256 over the normalised basic 4 information, as 64 hex digits."""
    return hmac.new(key, normalised_basic4(basic4), hashlib.sha256).hexdigest()


def matches(key: bytes, basic4: Basic4, expected: str) -> bool:
    return hmac.compare_digest(match_key(key, basic4), expected)
