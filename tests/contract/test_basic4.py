"""Basic-4 normalisation v1 (contract/basic4.py documents the rules); the byte layout the server hashes."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.basic4 import (
    NORMALISATION_VERSION,
    SEX_CODES,
    normalise_birth_date,
    normalise_sex,
    normalise_text,
    normalised_basic4,
    same_text,
)
from tests.support.fuzzing import examples

NAME, ADDRESS = "試験 太郎", "東京都千代田区試験町1丁目2-3"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("試験　太郎", "試験 太郎"),  # ideographic space
        ("  試験 \t 太郎 ", "試験 太郎"),  # whitespace runs, ends
        ("１２３", "123"),  # full-width digits
        ("ｼｹﾝ", "シケン"),  # half-width katakana
        ("ｼｹﾝ　ﾀﾛｳ", "シケン タロウ"),
        ("2−3", "2-3"),  # minus sign
        ("2‐3", "2-3"),  # hyphen
        ("2－3", "2-3"),  # full-width hyphen-minus
        ("2—3", "2-3"),  # em dash
        ("ルーシー", "ルーシー"),  # the prolonged sound mark is part of names
        ("Smith John", "SMITH JOHN"),
        ("Ｓｍｉｔｈ", "SMITH"),
        ("ＳＡＭＰＬＥ　ＡＬＥＸ  tester", "SAMPLE ALEX TESTER"),
        ("髙橋", "髙橋"),  # kanji variants are not folded
        ("émile", "éMILE"),  # only ASCII letters change case: a non-ASCII letter is kept as written
    ],
)
def test_text_normalisation(given: str, expected: str) -> None:
    assert normalise_text(given) == expected


def test_kanji_variants_stay_different_people() -> None:
    assert not same_text("髙橋 一郎", "高橋 一郎")
    assert same_text("髙橋 一郎", "𠮷橋 一郎", "髙橋　一郎")  # any candidate may match
    assert not same_text("名", None, None) and not same_text("", "")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("19800101", "19800101"),
        ("1980-01-01", "19800101"),
        ("1980/01/01", "19800101"),
        ("1980.01.01", "19800101"),
        ("１９９５０７０７", "19950707"),
        (" 2000-02-29 ", "20000229"),  # leap day
    ],
)
def test_birth_dates_accepted(given: str, expected: str) -> None:
    assert normalise_birth_date(given) == expected


@pytest.mark.parametrize(
    "given",
    ["1980011", "198001011", "1980-0101", "1980/01-01", "19800231", "19001329", "19000229", "H07.07.07", "",
     "1980 01 01", "abcdefgh"],
)
def test_birth_dates_refused(given: str) -> None:
    with pytest.raises(ValueError, match="birth date"):
        normalise_birth_date(given)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("1", "1"), ("2", "2"), ("9", "9"), ("１", "1"), (" 2 ", "2"), ("男", "1"), ("男性", "1"), ("Male", "1"),
     ("M", "1"), ("女", "2"), ("女性", "2"), ("Female", "2"), ("ｆ", "2")],
)
def test_sex_codes_and_words(given: str, expected: str) -> None:
    assert normalise_sex(given) == expected


@pytest.mark.parametrize("given", ["0", "3", "12", "x", "", "unknown", "男女"])
def test_other_sex_values_are_refused(given: str) -> None:
    with pytest.raises(ValueError, match="ISO 5218"):
        normalise_sex(given)


def test_the_layout_is_fixed() -> None:
    assert normalised_basic4(NAME, ADDRESS, "19800101", "1") == "\x1f".join(
        [NORMALISATION_VERSION, NAME, ADDRESS, "19800101", "1"]
    ).encode("utf-8")
    assert NORMALISATION_VERSION == "basic4/v1" and SEX_CODES == ("1", "2", "9")


def test_equivalent_spellings_give_the_same_bytes() -> None:
    variant = normalised_basic4("試験　太郎 ", "東京都千代田区試験町１丁目２−３", "1980-01-01", "１")
    assert variant == normalised_basic4(NAME, ADDRESS, "19800101", "1")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (("   ", ADDRESS, "19800101", "1"), "empty"),
        ((NAME, "\u3000", "19800101", "1"), "empty"),
        ((NAME, ADDRESS, "1980011", "1"), "birth date"),
        ((NAME, ADDRESS, "19800101", "3"), "ISO 5218"),
    ],
)
def test_unusable_fields_are_refused(fields: tuple[str, str, str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalised_basic4(*fields)


_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=examples(300), deadline=None)
@given(_text)
def test_normalisation_is_idempotent_and_canonical(value: str) -> None:
    once = normalise_text(value)
    assert normalise_text(once) == once
    assert once == once.strip() and "  " not in once
    assert not any(ch.isspace() and ch != " " for ch in once)
    assert not any("a" <= ch <= "z" for ch in once)


@settings(max_examples=examples(300), deadline=None)
@given(_text)
def test_width_and_space_variants_normalise_alike(value: str) -> None:
    widened = unicodedata.normalize("NFKC", value).replace(" ", "\u3000  ")
    assert normalise_text(widened) == normalise_text(value)


@settings(max_examples=examples(200), deadline=None)
@given(st.dates(), st.sampled_from(["", "-", "/", "."]))
def test_every_real_date_round_trips(day, separator: str) -> None:
    text = f"{day.year:04d}{separator}{day.month:02d}{separator}{day.day:02d}"
    assert normalise_birth_date(text) == f"{day.year:04d}{day.month:02d}{day.day:02d}"


@settings(max_examples=examples(200), deadline=None)
@given(_text, _text)
def test_the_separator_keeps_fields_apart(name: str, address: str) -> None:
    """No choice of name and address can shift a boundary: the layout parses back into four fields."""
    try:
        data = normalised_basic4(name, address, "19800101", "2")
    except ValueError:
        assert not normalise_text(name) or not normalise_text(address)
        return
    parts = data.decode("utf-8").split("\x1f")
    if len(parts) == 5:
        assert parts == [NORMALISATION_VERSION, normalise_text(name), normalise_text(address), "19800101", "2"]
    else:  # a unit separator inside the text itself: NFKC keeps it, so the field count gives it away
        assert "\x1f" in normalise_text(name) + normalise_text(address)
