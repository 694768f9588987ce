"""Keyed basic-4 matching. The normalisation itself is contract/basic4.py (tests/contract/test_basic4.py)."""

from __future__ import annotations

import pytest

from contract import basic4 as rules
from server.matching import NORMALISATION_VERSION, Basic4, match_key, matches, normalised_basic4

pytestmark = pytest.mark.server

KEY = b"k" * 32
BASE = Basic4(name="試験 太郎", address="東京都千代田区試験町1丁目2-3", birth_date="19800101", sex="1")


def test_equivalent_spellings_share_a_key() -> None:
    variant = Basic4(name="試験　太郎 ", address="東京都千代田区試験町１丁目２−３", birth_date="1980-01-01", sex="１")
    assert match_key(KEY, variant) == match_key(KEY, BASE)
    assert matches(KEY, variant, match_key(KEY, BASE))


@pytest.mark.parametrize(
    "other",
    [
        Basic4(name="試験 次郎", address=BASE.address, birth_date=BASE.birth_date, sex=BASE.sex),
        Basic4(name=BASE.name, address=BASE.address, birth_date="19800102", sex=BASE.sex),
        Basic4(name=BASE.name, address=BASE.address, birth_date=BASE.birth_date, sex="2"),
        Basic4(name="高橋", address=BASE.address, birth_date=BASE.birth_date, sex=BASE.sex),
    ],
)
def test_different_people_do_not_match(other: Basic4) -> None:
    assert not matches(KEY, other, match_key(KEY, BASE))


def test_the_key_matters_and_the_bytes_are_the_contracts() -> None:
    assert match_key(KEY, BASE) != match_key(b"x" * 32, BASE)
    assert normalised_basic4(BASE) == rules.normalised_basic4(BASE.name, BASE.address, BASE.birth_date, BASE.sex)
    assert normalised_basic4(BASE) == "\x1f".join(
        ["basic4/v1", "試験 太郎", "東京都千代田区試験町1丁目2-3", "19800101", "1"]
    ).encode()
    assert NORMALISATION_VERSION == rules.NORMALISATION_VERSION == "basic4/v1"


def test_known_vectors_stay_fixed() -> None:
    """Stored match keys depend on these bytes (values computed before the rules moved to contract/):
    a change to the normalisation must fail here, not silently orphan every stored pickup."""
    assert match_key(KEY, BASE) == "cd1f7199c15c29c8fad255b2d9c1f40197d0b7d842b8a4c6223b61099c7a9435"
    latin = Basic4(name="Smith  John", address="東京都千代田区試験町１丁目２−３", birth_date="1980/01/01", sex="２")
    assert match_key(KEY, latin) == "d9c8b94ae44ae05ce3e0a1384710b94c730f1bccbbc41025ef2c13e89d16b71f"


@pytest.mark.parametrize("field", ["birth_date", "sex", "name"])
def test_invalid_values_are_refused(field: str) -> None:
    values = {"name": BASE.name, "address": BASE.address, "birth_date": BASE.birth_date, "sex": BASE.sex}
    values[field] = {"birth_date": "19800231", "sex": "3", "name": "   "}[field]
    with pytest.raises(ValueError):
        normalised_basic4(Basic4(**values))


def test_repr_never_shows_personal_data() -> None:
    assert "試験" not in repr(BASE)
