"""The input model every pad renders: 4-digit PINs, the sign PIN, a new PIN twice, the application ID."""

from __future__ import annotations

import pytest

from kiosk.core.input import (
    APPLICATION_ID,
    NEW_PIN4,
    NEW_SIGN_PIN,
    PIN4,
    SIGN_PIN,
    InputBuffer,
    InputSpec,
)


def typed(spec: InputSpec, text: str) -> InputBuffer:
    entry = InputBuffer(spec)
    for char in text:
        entry.add(char)
    return entry


def test_a_4_digit_pin_keeps_digits_in_a_bytearray_and_shows_only_on_request() -> None:
    entry = typed(PIN4, "12a3456")
    assert entry.count == 4  # "a" ignored, the fifth digit ignored
    assert entry.view().shown is None and entry.view().complete
    entry.show = True
    assert entry.view().shown == "1234"
    entry.backspace()
    assert entry.view().shown == "123" and entry.count == 3
    assert not entry.add("") and not entry.add("12") and not entry.add("٣")  # one ASCII digit only
    assert entry.view().keys == tuple("1234567890")  # the number pad's order


def test_submit_moves_the_entry_and_zeroes_the_buffer() -> None:
    entry = typed(PIN4, "9876")
    entry.show = True
    out, problem = entry.submit()
    assert (out, problem) == (bytearray(b"9876"), None)
    assert entry.count == 0 and not entry.show and not entry.holds_anything()


def test_a_short_entry_is_refused_and_kept_for_correction() -> None:
    entry = typed(PIN4, "123")
    assert entry.submit() == (None, ("input.too_short", {"minimum": 4}))
    assert entry.count == 3  # nothing handed over, nothing lost


def test_clear_zeroes_and_hides() -> None:
    entry = typed(PIN4, "5")
    entry.show = True
    entry.clear()
    assert (entry.count, entry.show, entry.holds_anything()) == (0, False, False)
    entry.backspace()  # on empty: nothing happens
    assert entry.count == 0


def test_the_sign_pin_takes_6_to_16_letters_and_digits_upper_cased() -> None:
    entry = typed(SIGN_PIN, "abc-12é3")
    assert entry.count == 6 and not SIGN_PIN.digits_only  # "-" and "é" are not in the alphabet
    entry.show = True
    assert entry.view().shown == "ABC123"
    assert set(entry.view().keys) == set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")  # the keyboard offers only these
    assert typed(SIGN_PIN, "A" * 20).count == 16
    assert typed(SIGN_PIN, "ABCDE").submit() == (None, ("input.too_short", {"minimum": 6}))


def test_a_new_sign_pin_needs_a_letter_and_a_digit() -> None:
    assert typed(NEW_SIGN_PIN, "ABCDEFG").submit()[1] == ("input.missing_kind", {"kinds": ("digit",)})
    assert typed(NEW_SIGN_PIN, "1234567").submit()[1] == ("input.missing_kind", {"kinds": ("letter",)})


@pytest.mark.parametrize("spec", [NEW_PIN4, NEW_SIGN_PIN], ids=["4-digit", "sign"])
def test_a_new_pin_is_entered_twice_and_must_match(spec: InputSpec) -> None:
    value = "4826" if spec is NEW_PIN4 else "NEWPIN42"
    entry = typed(spec, value)
    assert entry.stage == 1
    assert entry.submit() == (None, None)  # the first entry is kept aside
    assert entry.stage == 2 and entry.count == 0
    for char in value[:-1] + ("0" if value[-1] != "0" else "1"):
        entry.add(char)
    assert entry.submit() == (None, ("input.mismatch", {}))
    assert entry.stage == 1 and not entry.holds_anything()  # both entries gone: start again
    for char in value:
        entry.add(char)
    entry.submit()
    for char in value:
        entry.add(char)
    out, problem = entry.submit()
    assert (bytes(out or b""), problem) == (value.encode(), None) and not entry.holds_anything()


def test_the_application_id_is_23_digits_shown_in_clear() -> None:
    entry = typed(APPLICATION_ID, "1234 5678 9012 3456 7890 123")
    assert entry.count == 23
    assert entry.view().shown == "12345678901234567890123"  # not masked: the resident checks what they typed
    assert typed(APPLICATION_ID, "1" * 22).submit()[1] == ("input.too_short", {"minimum": 23})


def test_an_impossible_spec_is_refused() -> None:
    with pytest.raises(ValueError):
        InputSpec(5, 4)
