"""The 申請書ID rule: exactly 23 ASCII digits, no check digit (UNCONFIRMED), messages without the value."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.application_id import (
    APPLICATION_ID_LENGTH,
    APPLICATION_ID_PATTERN,
    InvalidApplicationId,
    check_application_id,
    is_application_id,
)
from tests.support.fuzzing import examples

VALID = "98760000000000000000001"


@pytest.mark.parametrize("value", [VALID, "0" * 23, "9" * 23, "12345678901234567890123"])
def test_23_ascii_digits_pass_unchanged(value: str) -> None:
    assert check_application_id(value) == value and is_application_id(value)


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("", "0 characters"),
        ("1" * 22, "22 characters"),
        ("1" * 24, "24 characters"),
        ("1" * 22 + "a", "not all of them 0-9"),
        ("１" * 23, "not all of them 0-9"),  # full-width digits are not normalised here
        ("٣" * 23, "not all of them 0-9"),  # Arabic-Indic digits: str.isdigit() would say yes
        ("1" * 22 + "\n", "not all of them 0-9"),
        (" " + "1" * 22, "not all of them 0-9"),
        ("1234-5678-9012-3456-789", "not all of them 0-9"),
    ],
)
def test_anything_else_is_refused_with_a_clear_message(value: str, hint: str) -> None:
    with pytest.raises(InvalidApplicationId) as caught:
        check_application_id(value)
    message = str(caught.value)
    assert "23 ASCII digits" in message and "申請書ID" in message and hint in message
    assert not is_application_id(value)


@pytest.mark.parametrize("value", [None, 12345678901234567890123, b"12345678901234567890123", ["1"] * 23])
def test_non_text_is_refused(value: object) -> None:
    with pytest.raises(InvalidApplicationId, match="not text"):
        check_application_id(value)


def test_the_message_never_repeats_the_value() -> None:
    secret = "1234567890123456789012"  # one digit short
    with pytest.raises(InvalidApplicationId) as caught:
        check_application_id(secret)
    assert secret not in str(caught.value)


def test_the_published_pattern_says_the_same() -> None:
    assert APPLICATION_ID_LENGTH == 23
    assert APPLICATION_ID_PATTERN == "^[0-9]{23}$"


@settings(max_examples=examples(300), deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=30) | st.text(alphabet="0123456789", max_size=30))
def test_the_rule_is_exactly_length_and_ascii_digits(value: str) -> None:
    expected = len(value) == 23 and all("0" <= ch <= "9" for ch in value)
    assert is_application_id(value) is expected


@pytest.mark.parametrize(
    "value",
    [
        VALID + "\n",
        VALID + "\r\n",
        "\n" + VALID,
        VALID + " ",
        " " + VALID,
        "\t" + VALID,
        VALID + "\u3000",
        "\u00a0" + VALID,
        VALID + "\x00",
        VALID[:-1] + "\uff11",  # one full-width digit
        "".join(chr(ord(c) + 0xFEE0) for c in VALID),  # all full-width
    ],
    ids=["lf", "crlf", "leading-lf", "trailing-space", "leading-space", "tab", "ideographic-space", "nbsp",
         "nul", "one-full-width", "full-width"],
)
def test_the_rule_is_about_the_whole_string(value: str) -> None:
    """23 valid digits plus anything — before, after, or instead of one — is not a 申請書ID."""
    assert not is_application_id(value)
    with pytest.raises(InvalidApplicationId) as caught:
        check_application_id(value)
    assert VALID[:10] not in str(caught.value)


def test_the_pattern_is_for_schemas_not_for_re_match() -> None:
    """The trap the check avoids: Python's "$" matches before a final newline."""
    assert re.match(APPLICATION_ID_PATTERN, VALID + "\n") is not None  # why the check never uses re.match
    assert re.fullmatch(APPLICATION_ID_PATTERN, VALID + "\n") is None
    assert re.fullmatch(APPLICATION_ID_PATTERN, VALID) is not None
