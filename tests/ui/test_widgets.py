"""Screens render view state and turn touches into the right events — and nothing else.

Each test runs the real ``KioskApp`` offscreen on a logic-free ``StaticFlow``: the app shows whatever
state it is given and the flow records what the touches posted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from kivy.base import EventLoop
from kivy.clock import Clock
from kivy.config import Config
from kivy.core.window import Window

from kiosk.core import events as ev
from kiosk.core.input import InputView
from kiosk.core.view import ReaderState, Screen
from kiosk.i18n import LANGUAGE_NAMES
from kiosk.ui.app import KioskApp, KivyDispatcher
from kiosk.ui.frames import FrameScript, settle
from kiosk.ui.samples import SAMPLE_DETAILS, sample_result, sample_state
from kiosk.ui.static_flow import StaticFlow
from kiosk.ui.tour import PORTRAIT
from tests.ui.helpers import find, run_with, scroll_into_view, show, tap, texts_anywhere, visible

pytestmark = pytest.mark.ui



def pad(entered: int, **fields: object) -> InputView:
    """A 4-digit PIN pad's view (the input model of kiosk.core.input)."""
    fields.setdefault("keys", tuple("1234567890"))
    return InputView(entered=entered, min_length=4, max_length=4, **fields)  # type: ignore[arg-type]

def posted(flow: StaticFlow) -> list[ev.Event]:
    """What the touches posted, without the Touched that every touch posts first."""
    return [e for e in flow.events if not isinstance(e, ev.Touched)]


def screen_ids(app: KioskApp) -> Any:
    return app.root.current.ids


# --- on every screen -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("screen", list(Screen))
def test_every_screen_has_the_language_switch_call_staff_and_reader_status(screen: Screen) -> None:
    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        header, assist = app.root.ids.header, app.root.ids.assist
        assert visible(header.ids.language) and visible(assist.ids.call_staff)
        assert not assist.ids.call_staff.disabled
        assert visible(header.ids.status) and header.ids.status.ids.text.text == app.t(f"reader.{flow.state.reader}")
        yield from tap(assist.ids.call_staff)
        assert posted(flow) == [ev.CallStaff()]
        yield from tap(header.ids.language)
        picker = app.overlay("language")
        buttons = {b.code: b for b in picker.ids.grid.children}
        assert [buttons[code].text for code in LANGUAGE_NAMES] == list(LANGUAGE_NAMES.values())
        assert visible(assist.ids.call_staff)  # overlays never cover "call staff"
        yield from tap(buttons["vi"])
        assert posted(flow)[-1] == ev.LanguageChosen("vi")
        assert picker.parent is None  # closed after the choice

    run_with(sample_state(screen, "ja"), script)


@pytest.mark.parametrize("state", list(ReaderState))
def test_the_reader_status_names_every_reader_state(state: ReaderState) -> None:
    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        status = app.root.ids.header.ids.status
        assert status.ids.text.text == app.t(f"reader.{state.value}")
        assert status.trouble == (state not in (ReaderState.READY, ReaderState.CARD_PRESENT))
        yield

    run_with(sample_state(Screen.ATTRACT, "en", reader=state), script)


def test_any_touch_is_reported_first_as_activity() -> None:
    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        yield from tap(app.root.current.task_button("card_check"))
        assert flow.events[:2] == [ev.Touched(), ev.Start("card_check")]

    run_with(sample_state(Screen.ATTRACT, "en"), script)


def test_assist_toggles_post_their_events() -> None:
    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        assist = app.root.ids.assist
        for button in (assist.ids.large_text, assist.ids.high_contrast, assist.ids.speech):
            yield from tap(button)
        assert posted(flow) == [ev.ToggleLargeText(), ev.ToggleHighContrast(), ev.ToggleSpeech()]

    run_with(sample_state(Screen.INSERT_CARD, "en"), script)


# --- PIN pad -------------------------------------------------------------------------------------------------


def pad_buttons(app: KioskApp) -> list[Any]:
    return list(reversed(screen_ids(app).entry.ids.pad.children))  # in reading order


@pytest.mark.parametrize("layout", [
    ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0"),
    ("7", "3", "0", "9", "1", "5", "8", "2", "6", "4"),  # a shuffled pad from the flow
])
def test_pin_pad_keys_sit_where_the_layout_says_and_post_digits(layout: tuple[str, ...]) -> None:
    view = sample_state(Screen.PIN_ENTRY, "en", pin=pad(entered=0, keys=tuple(layout),
                                                                 remaining_tries=3))

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        keys = pad_buttons(app)
        assert [k.text for k in keys[:9]] + [keys[10].text] == list(layout)
        for key in [*keys[:9], keys[10]]:
            yield from tap(key)
        yield from tap(keys[9])
        yield from tap(keys[11])
        expected = [ev.PinDigit(d) for d in layout] + [ev.PinClear(), ev.PinBackspace()]
        assert posted(flow) == expected

    run_with(view, script)


def test_ok_is_only_pressable_with_all_digits_and_show_toggles() -> None:
    view = sample_state(Screen.PIN_ENTRY, "en", pin=pad(entered=3, remaining_tries=3))

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        ids = screen_ids(app)
        assert ids.submit.disabled
        yield from tap(ids.submit)
        assert posted(flow) == []
        yield from show(app, flow, replace(view, pin=pad(entered=4, remaining_tries=3)))
        yield from tap(ids.submit)
        yield from tap(ids.entry.ids.show)
        yield from tap(ids.cancel)
        assert posted(flow) == [ev.PinSubmit(), ev.ToggleShowPin(), ev.Cancel()]

    run_with(view, script)


def test_the_pin_is_masked_unless_the_flow_shows_it() -> None:
    view = sample_state(Screen.PIN_ENTRY, "en", pin=pad(entered=2))

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        dots = screen_ids(app).entry.ids.dots
        assert [c.text for c in reversed(dots.children)] == ["●", "●", "○", "○"]
        yield from show(app, flow, replace(view, pin=pad(entered=2, shown="37")))
        assert [c.text for c in reversed(dots.children)] == ["3", "7", "_", "_"]
        assert screen_ids(app).entry.ids.show.text == app.t("pin.hide")

    run_with(view, script)


def test_the_card_details_pad_goes_back_to_the_result_instead_of_ending() -> None:
    view = sample_state(Screen.PIN_ENTRY, "en", message_key="pin.card_info",
                        pin=pad(entered=0, remaining_tries=3))

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        cancel = screen_ids(app).cancel
        assert cancel.text == app.t("pin.back_to_result")
        yield from tap(cancel)
        assert posted(flow) == [ev.HideDetails()]

    run_with(view, script)


# --- result, details, privacy ----------------------------------------------------------------------------------


def test_result_buttons_post_show_hide_and_finish() -> None:
    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        ids = screen_ids(app)
        yield from scroll_into_view(ids.toggle_details)
        yield from tap(ids.toggle_details)
        yield from show(app, flow, sample_state(Screen.RESULT, "en", result=sample_result(details=True)))
        yield from scroll_into_view(ids.toggle_details)
        yield from tap(ids.toggle_details)
        yield from tap(ids.finish)
        assert posted(flow) == [ev.ShowDetails(), ev.HideDetails(), ev.Finish()]

    run_with(sample_state(Screen.RESULT, "en"), script)


def test_details_are_shown_on_request_and_gone_with_the_session() -> None:
    name, address = SAMPLE_DETAILS[0][1], SAMPLE_DETAILS[1][1]
    with_details = sample_state(Screen.RESULT, "ja", result=sample_result(details=True), session_id=7)

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        yield from show(app, flow, with_details)
        assert name in texts_anywhere(app) and "女性" in texts_anywhere(app)  # sex code translated
        assert "1980年4月1日" in texts_anywhere(app)  # birth date in the language's format
        yield from show(app, flow, replace(with_details, result=sample_result(details=False)))  # "hide"
        assert name not in texts_anywhere(app)
        yield from show(app, flow, with_details)
        yield from show(app, flow, sample_state(Screen.ATTRACT, "ja", session_id=8))  # next resident
        assert name not in texts_anywhere(app) and address not in texts_anywhere(app)

    run_with(sample_state(Screen.RESULT, "ja", session_id=7), script)


def test_speech_never_reads_personal_data() -> None:
    from tests.ui.test_speech import RecordingSpeaker

    speaker = RecordingSpeaker()
    view = sample_state(Screen.RESULT, "ja", result=sample_result(details=True))

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        yield
        assert speaker.said, "the result screen says something"
        spoken = repr(speaker.said)
        assert "details." not in spoken
        assert not any(value in spoken for _, value in SAMPLE_DETAILS)

    run_with(view, script, speaker=speaker)


# --- idle warning, errors ------------------------------------------------------------------------------------------


def test_idle_warning_offers_more_time_with_a_countdown() -> None:
    view = sample_state(Screen.PIN_ENTRY, "en", idle_warning=15)

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        warning = app.root._idle
        assert warning is not None and "15" in warning.ids.countdown.text
        yield from show(app, flow, replace(view, idle_warning=14))
        assert "14" in warning.ids.countdown.text
        pad_key = pad_buttons(app)[0]
        touch_x, touch_y = pad_key.to_window(*pad_key.center)
        from kivy.tests.common import UnitTestTouch

        touch = UnitTestTouch(touch_x, touch_y)  # a key under the warning: the overlay is modal
        touch.touch_down()
        yield
        touch.touch_up()
        yield 2
        assert posted(flow) == []
        yield from tap(warning.ids.more_time)
        yield from tap(warning.ids.end)
        assert posted(flow) == [ev.MoreTime(), ev.Cancel()]
        yield from show(app, flow, replace(view, idle_warning=None))
        assert app.root._idle is None

    run_with(view, script)


@pytest.mark.parametrize("screen", [Screen.ERROR, Screen.GO_TO_COUNTER])
def test_dead_ends_offer_the_way_back(screen: Screen) -> None:
    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        ids = screen_ids(app)
        assert ids.message.text  # the reason, in words
        yield from tap(ids.start_over)
        assert posted(flow) == [ev.Cancel()]

    run_with(sample_state(screen, "en"), script)


# --- themes and orientation --------------------------------------------------------------------------------------


def test_large_text_and_high_contrast_change_sizes_and_colours() -> None:
    view = sample_state(Screen.INSERT_CARD, "en")

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        cancel = screen_ids(app).cancel
        body, button_height, background = app.theme.body, cancel.height, list(app.theme.background)
        yield from show(app, flow, replace(view, large_text=True))
        assert app.theme.body == pytest.approx(body * 1.4)
        assert cancel.height > button_height and cancel.font_size > body
        yield from show(app, flow, replace(view, large_text=True, high_contrast=True))
        assert list(app.theme.background)[:3] == [0, 0, 0] and background[:3] != [0, 0, 0]
        assert list(app.theme.text)[:3] == [1, 1, 1]
        assert app.root.ids.assist.ids.large_text.active and app.root.ids.assist.ids.high_contrast.active
        assert cancel.height >= app.theme.touch  # targets never shrink below the touch minimum

    run_with(view, script)


def test_landscape_puts_content_side_by_side_and_keeps_call_staff() -> None:
    view = sample_state(Screen.PIN_ENTRY, "en")

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        Window.size = (PORTRAIT[1], PORTRAIT[0])
        yield from settle(app.root)
        assert not app.portrait
        split = screen_ids(app).entry.parent.parent  # instructions | pad
        assert split.orientation == "horizontal"
        assert visible(app.root.ids.assist.ids.call_staff) and visible(pad_buttons(app)[-1])
        yield from tap(app.root.ids.assist.ids.call_staff)
        assert posted(flow) == [ev.CallStaff()]
        Window.size = PORTRAIT
        yield from settle(app.root)
        assert app.portrait

    run_with(view, script)


# --- the kiosk lock, staff exit, demo tray ------------------------------------------------------------------------


def test_escape_back_and_window_close_do_not_leave_the_kiosk() -> None:
    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        assert Window.dispatch("on_keyboard", 27, 41, None, []) is True  # Esc / Android back
        assert Window.dispatch("on_request_close") is True  # window manager close, Alt+F4
        assert Window.dispatch("on_request_close", source="keyboard") is True
        assert not Config.getboolean("kivy", "exit_on_escape")
        yield 5
        assert EventLoop.status == "started" and app.root.get_root_window() is not None

    run_with(sample_state(Screen.ATTRACT, "en"), script)


def test_staff_exit_needs_the_hidden_hold_and_the_staff_pin() -> None:
    from kiosk.ui.staff import StaffExitGuard, hash_staff_pin

    guard = StaffExitGuard(hash_staff_pin("135790", iterations=1000))
    exits: list[int] = []

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        corner = app.root.ids.header.ids.staff_corner
        corner.hold_seconds = 0.2
        from kivy.tests.common import UnitTestTouch

        x, y = corner.to_window(*corner.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        yield 2
        touch.touch_up()  # a short tap: nothing
        yield 30
        assert app.overlay("staff") is None
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        yield lambda: app.overlay("staff") is not None  # held long enough
        touch.touch_up()
        yield 2
        dialog = app.overlay("staff")
        keys = {w.text: w for w in dialog.ids.pad.children}
        for digit in "135791":
            yield from tap(keys[digit])
        yield from tap(keys["終了"])
        yield lambda: dialog.message == "番号が違います"
        for digit in "135790":
            yield from tap(keys[digit])
        app.bind(on_stop=lambda *_: exits.append(app.exit_code))
        yield from tap(keys["終了"])
        yield 600  # the app stops from here on; the script never gets this far

    flow = run_with(sample_state(Screen.ATTRACT, "en"), script, staff_guard=guard)
    assert exits and set(exits) == {0}  # (Kivy dispatches on_stop from stop() and again after run())
    assert ev.Cancel() not in flow.events  # the staff exit is not a resident's action


class FakeCards:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def profiles(self) -> list[str]:
        return ["adult", "minor"]

    def insert(self, profile: str) -> None:
        self.calls.append(("insert", profile))

    def remove(self) -> None:
        self.calls.append(("remove",))


def test_demo_tray_puts_sample_cards_on_the_reader_only_in_demo_mode() -> None:
    cards = FakeCards()

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        tabs = find(app.root, lambda w: w.__class__.__name__ == "DemoTab")
        assert len(tabs) == 1
        yield from tap(tabs[0])
        tray = app.overlay("tray")
        buttons = {b.text: b for b in tray.ids.grid.children}
        assert set(buttons) == {"adult", "minor"}
        yield from tap(buttons["adult"])
        yield from tap(tabs[0])
        yield from tap(app.overlay("tray").ids.remove_card)
        assert cards.calls == [("insert", "adult"), ("remove",)]

    run_with(sample_state(Screen.INSERT_CARD, "en"), script, demo_cards=cards)

    def no_tab(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        assert find(app.root, lambda w: w.__class__.__name__ == "DemoTab") == []
        yield

    run_with(sample_state(Screen.INSERT_CARD, "en"), no_tab)


# --- threads -------------------------------------------------------------------------------------------------------


def test_events_posted_from_workers_are_handled_on_the_ui_thread_in_order() -> None:
    seen: list[tuple[int, int]] = []
    dispatcher = KivyDispatcher(lambda event: seen.append((event.now, threading.get_ident())))
    flow = StaticFlow(sample_state(Screen.ATTRACT, "en"))
    app = KioskApp(flow, dispatcher=dispatcher, speaker=None, prebuild=False)
    ui_thread = threading.get_ident()

    def script() -> Iterator[Any]:
        worker = threading.Thread(target=lambda: [dispatcher.post(ev.Tick(i)) for i in range(200)])
        worker.start()
        worker.join()
        yield lambda: len(seen) == 200
        assert [n for n, _ in seen] == list(range(200))
        assert {thread for _, thread in seen} == {ui_thread}

    FrameScript(app, script).run()


def test_states_published_from_a_worker_are_rendered_on_the_ui_thread() -> None:
    flow = StaticFlow(sample_state(Screen.ATTRACT, "en"))
    app = KioskApp(flow, speaker=None, prebuild=False)
    rendered_on: list[int] = []
    original = app.render

    def spy(view: Any) -> None:
        rendered_on.append(threading.get_ident())
        original(view)

    app.render = spy  # type: ignore[method-assign]
    ui_thread = threading.get_ident()

    def script() -> Iterator[Any]:
        last = list(Screen)[-1]
        worker = threading.Thread(target=lambda: [flow.publish(sample_state(s, "en")) for s in Screen])
        worker.start()
        worker.join()
        yield lambda: app.view is not None and app.view.screen is last
        assert set(rendered_on) == {ui_thread}

    FrameScript(app, script).run()
    Clock.tick()  # leave no scheduled render behind for the next test
