"""Session lifecycle: idle and PIN-entry timers, the wipe; and the dispatcher/clock seam (the input buffer's
own tests are in test_input.py)."""

from __future__ import annotations

import pytest

from kiosk.config import TimeoutSection
from kiosk.core.dispatch import FakeClock, MonotonicClock, SyncDispatcher
from kiosk.core.events import Event, Finish, Start, Tick
from kiosk.core.session import IdleStatus, Session


class Secret:
    """Stands in for a Verdict: personal data that must be wiped in place."""

    def __init__(self) -> None:
        self.value: str | None = "試験 太郎"

    def wipe(self) -> None:
        self.value = None


def make_session(**overrides: float) -> Session:
    timeouts = TimeoutSection(**{"idle_seconds": 90.0, "idle_warning_seconds": 20.0, "pin_entry_seconds": 60.0,
                                 **overrides})
    return Session.from_timeouts(timeouts, "ja")


# --- idle timer ------------------------------------------------------------------------------------------


def test_no_timer_without_a_session() -> None:
    session = make_session()
    assert session.idle(1e9) == IdleStatus()


def test_idle_warning_then_expiry() -> None:
    session = make_session()
    session.begin(0.0)
    assert session.idle(69.9) == IdleStatus()
    assert session.idle(70.0) == IdleStatus(warning=20)
    assert session.idle(70.5) == IdleStatus(warning=20)  # whole seconds, rounded up
    assert session.idle(89.2) == IdleStatus(warning=1)
    assert session.idle(90.0) == IdleStatus(expired=True)


def test_activity_and_more_time_restart_the_full_period() -> None:
    session = make_session()
    session.begin(0.0)
    assert session.idle(75.0).warning == 15
    session.touch(75.0)  # "more time" is a touch
    assert session.idle(75.0 + 69.0) == IdleStatus()
    assert session.idle(75.0 + 90.0).expired


def test_begin_does_not_restart_a_running_session() -> None:
    session = make_session()
    session.begin(0.0)
    session.begin(50.0)
    assert session.idle(90.0).expired


def test_timer_paused_while_the_card_is_busy() -> None:
    session = make_session()
    session.begin(0.0)
    session.pause()
    assert session.idle(500.0) == IdleStatus()
    session.resume(500.0)
    assert session.idle(560.0) == IdleStatus()
    assert session.idle(590.0).expired


def test_warning_longer_than_the_idle_period_warns_from_the_start() -> None:
    session = make_session(idle_seconds=10.0, idle_warning_seconds=30.0)
    session.begin(0.0)
    assert session.idle(0.0) == IdleStatus(warning=10)


def test_invalid_timeouts_refused() -> None:
    with pytest.raises(ValueError):
        Session(idle_seconds=0, idle_warning_seconds=1, pin_entry_seconds=1, default_language="ja")


# --- PIN-entry timer ---------------------------------------------------------------------------------------


def test_pin_entry_timer_runs_only_while_digits_are_typed() -> None:
    session = make_session(pin_entry_seconds=60.0)
    session.begin(0.0)
    assert not session.pin_timed_out(1000.0)  # nothing typed
    session.entry.add("1")
    session.pin_key(10.0)
    assert not session.pin_timed_out(69.0)
    assert session.pin_timed_out(70.0)
    session.pin_key(70.0)
    assert not session.pin_timed_out(100.0)


# --- the wipe ------------------------------------------------------------------------------------------------


def test_end_wipes_everything_and_changes_the_id() -> None:
    session = make_session()
    session.begin(0.0)
    secret = session.hold(Secret())
    session.entry.add("4")
    session.prefs.language = "en"
    session.prefs.large_text = True
    session.staff_called = True
    old_id = session.id
    session.end()
    assert secret.value is None  # type: ignore[attr-defined]
    assert session.entry.count == 0 and not session.entry.holds_anything()
    assert session.id == old_id + 1
    assert not session.active and not session.staff_called
    assert (session.prefs.language, session.prefs.large_text) == ("ja", False)
    assert session.idle(1e9) == IdleStatus()


def test_end_can_keep_preferences_for_the_same_person() -> None:
    session = make_session()
    session.begin(0.0)
    session.prefs.language = "vi"
    session.prefs.high_contrast = True
    secret = session.hold(Secret())
    session.end(keep_preferences=True)
    assert secret.value is None  # type: ignore[attr-defined]
    assert (session.prefs.language, session.prefs.high_contrast) == ("vi", True)


def test_release_wipes_one_item_now() -> None:
    session = make_session()
    first, second = Secret(), Secret()
    session.hold(first)
    session.hold(second)
    session.release(first)
    assert first.value is None and second.value is not None
    session.end()
    assert second.value is None


# --- dispatcher and clocks ----------------------------------------------------------------------------------


def test_sync_dispatcher_delivers_in_order_without_reentering() -> None:
    seen: list[str] = []
    dispatcher = SyncDispatcher()

    def handler(event: Event) -> None:
        seen.append(f"begin {type(event).__name__}")
        if isinstance(event, Start):
            dispatcher.post(Finish())  # a handler posting: queued, not nested
            dispatcher.post(Tick(1.0))
            assert dispatcher.pending == 2
        seen.append(f"end {type(event).__name__}")

    dispatcher.connect(handler)
    dispatcher.post(Start())
    assert seen == ["begin Start", "end Start", "begin Finish", "end Finish", "begin Tick", "end Tick"]
    assert dispatcher.pending == 0


def test_sync_dispatcher_calls_every_handler_in_connection_order() -> None:
    seen: list[tuple[str, str]] = []
    dispatcher = SyncDispatcher(lambda event: seen.append(("first", type(event).__name__)))
    dispatcher.connect(lambda event: seen.append(("second", type(event).__name__)))
    dispatcher.post(Start())
    assert seen == [("first", "Start"), ("second", "Start")]


def test_sync_dispatcher_recovers_after_a_handler_raised() -> None:
    calls: list[Event] = []

    def handler(event: Event) -> None:
        calls.append(event)
        if isinstance(event, Start):
            raise RuntimeError("boom")

    dispatcher = SyncDispatcher(handler)
    with pytest.raises(RuntimeError):
        dispatcher.post(Start())
    dispatcher.post(Finish())
    assert [type(e).__name__ for e in calls] == ["Start", "Finish"]


def test_fake_clock_moves_only_forward() -> None:
    clock = FakeClock(5.0)
    assert clock.now() == 5.0
    assert clock.advance(2.5) == 7.5
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_monotonic_clock_does_not_go_back() -> None:
    clock = MonotonicClock()
    first = clock.now()
    assert clock.now() >= first


def test_connecting_a_handler_twice_delivers_once() -> None:
    seen: list[Event] = []
    dispatcher = SyncDispatcher(seen.append)
    dispatcher.connect(seen.append)
    dispatcher.post(Start())
    assert len(seen) == 1
