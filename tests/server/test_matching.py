"""Basic-4 normalisation and keyed matching (server/matching.py documents the rules)."""

from __future__ import annotations

import pytest

from server.matching import Basic4, match_key, matches, normalise_text, normalised_basic4

pytestmark = pytest.mark.server

KEY = b"k" * 32
BASE = Basic4(name="試験 太郎", address="東京都千代田区試験町1丁目2-3", birth_date="19800101", sex="1")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("試験　太郎", "試験 太郎"),  # ideographic space
        ("  試験 \t 太郎 ", "試験 太郎"),  # whitespace runs, ends
        ("１２３", "123"),  # full-width digits
        ("ｼｹﾝ", "シケン"),  # half-width katakana
        ("2−3", "2-3"),  # minus sign
        ("2‐3", "2-3"),  # hyphen
        ("2－3", "2-3"),  # full-width hyphen-minus
        ("ルーシー", "ルーシー"),  # the prolonged sound mark is part of names
        ("Smith John", "SMITH JOHN"),
        ("Ｓｍｉｔｈ", "SMITH"),
        ("髙橋", "髙橋"),  # kanji variants are not folded
    ],
)
def test_text_normalisation(given: str, expected: str) -> None:
    assert normalise_text(given) == expected


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


def test_the_key_matters_and_the_layout_is_fixed() -> None:
    assert match_key(KEY, BASE) != match_key(b"x" * 32, BASE)
    assert (
        normalised_basic4(BASE)
        == "\x1f".join(["basic4/v1", "試験 太郎", "東京都千代田区試験町1丁目2-3", "19800101", "1"]).encode()
    )


@pytest.mark.parametrize("field", ["birth_date", "sex", "name"])
def test_invalid_values_are_refused(field: str) -> None:
    values = {"name": BASE.name, "address": BASE.address, "birth_date": BASE.birth_date, "sex": BASE.sex}
    values[field] = {"birth_date": "1980011", "sex": "3", "name": "   "}[field]
    with pytest.raises(ValueError):
        normalised_basic4(Basic4(**values))


def test_repr_never_shows_personal_data() -> None:
    assert "試験" not in repr(BASE)
