"""Session timers, the wipe and the entry buffer: edges the mutation run (docs/mutation.md) found untested.

Comments name the mutmut 3.8 mutants of ``kiosk.core.session`` and ``kiosk.core.input`` each test kills.
"""

from __future__ import annotations

import pytest

from kiosk.core.input import APPLICATION_ID, DIGITS, NEW_PIN4, InputBuffer, InputSpec
from kiosk.core.session import Session


def session(**overrides: float) -> Session:
    values = {"idle_seconds": 90.0, "idle_warning_seconds": 20.0, "pin_entry_seconds": 60.0, **overrides}
    return Session(default_language="ja", **values)


# --- Session ------------------------------------------------------------------------------------------


def test_the_smallest_time_outs_are_accepted() -> None:
    """Kills x___init__ 4/6/7/8: one second of idle and PIN time, and no warning at all, are valid."""
    tight = session(idle_seconds=1.0, idle_warning_seconds=0.0, pin_entry_seconds=1.0)
    tight.begin(0.0)
    assert tight.idle(0.5).warning is None
    assert tight.idle(1.0).expired


@pytest.mark.parametrize("overrides", [{"idle_seconds": 0.0}, {"pin_entry_seconds": 0.0},
                                       {"idle_warning_seconds": -1.0}], ids=["idle", "pin", "warning"])
def test_unusable_time_outs_are_refused(overrides: dict[str, float]) -> None:
    """Kills x___init__ 1 (negative warning let through), 5 (zero PIN time) and 9/10/11 (the message)."""
    with pytest.raises(ValueError) as caught:
        session(**overrides)
    assert str(caught.value) == "time-outs must be positive"


def test_a_new_session_and_an_ended_one_read_as_idle() -> None:
    """What the view reads: booleans and no warning (kills x___init__ 24/28/29/35, x_end 5/10)."""
    fresh = session()
    assert (fresh.active, fresh.staff_called, fresh.warning) == (False, False, None)
    assert fresh.active is False and fresh.staff_called is False
    fresh.begin(0.0)
    fresh.staff_called = True
    fresh.end()
    assert fresh.active is False and fresh.staff_called is False


def test_pausing_takes_the_warning_down() -> None:
    """Kills x_pause 3 (``""`` is not "no warning")."""
    current = session()
    current.begin(0.0)
    assert current.idle(75.0).warning == 15
    current.pause()
    assert current.warning is None


def test_characters_typed_without_a_key_time_never_time_out() -> None:
    """The entry timer runs from the last pad key; with none recorded it cannot expire (nor crash).

    Kills x___init__ 38, x_start_entry 3 and x_wipe_personal_data 1 (``""`` as "no key yet").
    """
    current = session()
    current.entry.add("1")
    assert not current.pin_timed_out(1e6)
    current.start_entry(NEW_PIN4).add("2")
    assert not current.pin_timed_out(1e6)
    current.wipe_personal_data()
    current.entry.add("3")
    assert not current.pin_timed_out(1e6)


def test_an_emptied_entry_does_not_time_out() -> None:
    """Kills x_pin_timed_out 3 (``count >= 0``): nothing typed is left to zero."""
    current = session()
    current.entry.add("1")
    current.pin_key(0.0)
    current.entry.backspace()
    assert not current.pin_timed_out(61.0)
    current.entry.add("1")
    assert current.pin_timed_out(61.0)


# --- InputSpec ------------------------------------------------------------------------------------------


def test_a_one_character_entry_is_a_valid_spec() -> None:
    """Kills x___post_init__ 2 (min 1 refused) and 4 (min == max refused)."""
    assert InputSpec(1, 1).max_length == 1
    assert InputSpec(4, 4).min_length == 4


@pytest.mark.parametrize(("minimum", "maximum"), [(0, 4), (5, 4)])
def test_impossible_specs_are_refused(minimum: int, maximum: int) -> None:
    """Kills x___post_init__ 3 (min 0 accepted) and 5/6/7 (the message)."""
    with pytest.raises(ValueError) as caught:
        InputSpec(minimum, maximum)
    assert str(caught.value) == "an input needs 1 <= min_length <= max_length"


def test_problem_never_crashes_on_bytes_outside_ascii() -> None:
    """Kills x_problem 8/12/13: a stray byte is a missing kind, not a UnicodeDecodeError."""
    spec = InputSpec(2, 4, alphabet=DIGITS, must_contain=(DIGITS,))
    assert spec.problem(b"\xff\xfe") == ("input.missing_kind", {"kinds": ("digit",)})


# --- InputBuffer -----------------------------------------------------------------------------------------


def type_in(buffer: InputBuffer, text: str) -> None:
    for char in text:
        assert buffer.add(char)


def test_a_fresh_buffer_is_not_shown() -> None:
    """Kills x___init__ 7 (``show = None``)."""
    assert InputBuffer().show is False


def test_backspace_wipes_the_character_it_removes() -> None:
    """Kills x_backspace 5: after deleting everything, no typed byte is left in memory."""
    buffer = InputBuffer()
    type_in(buffer, "12")
    buffer.backspace()
    buffer.backspace()
    assert buffer.count == 0 and not buffer.holds_anything()


def test_the_kept_first_entry_counts_as_held_until_cleared() -> None:
    """Kills x_holds_anything 1/5 and x_clear 2/3: the first of two entries is held, and clear wipes it
    and starts the pair again."""
    buffer = InputBuffer(NEW_PIN4)
    type_in(buffer, "1234")
    assert buffer.submit() == (None, None)
    assert buffer.count == 0 and buffer.holds_anything()
    buffer.clear()
    assert not buffer.holds_anything()
    assert buffer.stage == 1


def test_submitting_hides_the_entry_again() -> None:
    """Kills x_submit 8/9 (the confirmation starts hidden) and 17 (hidden after the hand-over)."""
    buffer = InputBuffer(NEW_PIN4)
    buffer.show = True
    type_in(buffer, "1234")
    buffer.submit()
    assert buffer.show is False
    type_in(buffer, "1234")
    assert buffer.shown() is None
    buffer.show = True
    entry, problem = buffer.submit()
    assert (entry, problem) == (bytearray(b"1234"), None)
    assert buffer.show is False


def test_the_view_carries_masking_and_stage() -> None:
    """Kills x_view 14/26 (an unmasked entry reported masked) and 16/28 (stage lost)."""
    unmasked = InputBuffer(APPLICATION_ID)
    type_in(unmasked, "12")
    view = unmasked.view()
    assert view.masked is False and view.shown == "12"
    pair = InputBuffer(NEW_PIN4)
    assert pair.view().stage == 1
    type_in(pair, "1234")
    pair.submit()
    assert pair.view().stage == 2
