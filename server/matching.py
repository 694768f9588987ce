"""Basic-4 matching by keyed hash: the server compares residents without keeping their data in clear.

A pickup is created from the city's records with the resident's basic 4 information (name, address, birth
date, sex). The server stores only ``HMAC-SHA256(matching key, normalised basic-4)``. At the counter the clerk's
kiosk reads the basic 4 information from the new card and asks the server whether it matches
(``POST /v1/pickups/{id}/basic4-check``); the values are hashed and compared, never stored or logged.

The normalisation (version ``basic4/v1``) and the exact bytes hashed are ``contract.basic4`` — the same
rules the kiosk uses to compare the sign certificate with the card. Only the key and the HMAC are here.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from contract import basic4 as rules

NORMALISATION_VERSION = rules.NORMALISATION_VERSION


@dataclass(frozen=True, slots=True)
class Basic4:
    """The basic 4 information as read from a card or a register (synthetic in this repository)."""

    name: str
    address: str
    birth_date: str
    sex: str

    def __repr__(self) -> str:  # never print personal data, even in a debugger or a failing assert
        return "Basic4(<redacted>)"


def normalised_basic4(basic4: Basic4) -> bytes:
    """The exact bytes that are hashed (``contract.basic4.normalised_basic4``); ValueError if unusable."""
    return rules.normalised_basic4(basic4.name, basic4.address, basic4.birth_date, basic4.sex)


def match_key(key: bytes, basic4: Basic4) -> str:
    """HMAC-SHA256 over the normalised basic 4 information, as 64 hex digits."""
    return hmac.new(key, normalised_basic4(basic4), hashlib.sha256).hexdigest()


def matches(key: bytes, basic4: Basic4, expected: str) -> bool:
    return hmac.compare_digest(match_key(key, basic4), expected)
