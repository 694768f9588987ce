"""The clipped-text check the tour runs (``kiosk.ui.fit``) finds what a resident would see cut off, and
ignores what is hidden or can be scrolled to; and screens whose keys change never crash on a theme change."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView

from kiosk.core.input import BRAILLE_NAME, EMAIL, InputBuffer
from kiosk.core.view import Screen
from kiosk.ui.fit import clipped_texts
from kiosk.ui.frames import settle
from kiosk.ui.samples import sample_state
from tests.ui.helpers import run_with, show

pytestmark = pytest.mark.ui

LONG = "この文章は箱に収まりきらないほど長い説明文です。" * 6


def test_a_text_larger_than_its_box_or_outside_the_window_is_reported_and_a_hidden_one_is_not() -> None:
    seen: dict[str, list[str]] = {}

    def script(app: Any, _flow: Any) -> Iterator[Any]:
        from kivy.core.window import Window

        layer = FloatLayout()
        cut = Label(text=LONG, size_hint=(None, None), size=(200, 40), text_size=(200, None))
        outside = Label(text="OK", size_hint=(None, None), size=(100, 40), pos=(Window.width - 20, 10))
        hidden = Label(text=LONG, size_hint=(None, None), size=(200, 40), text_size=(200, None), opacity=0)
        fits = Label(text="OK", size_hint=(None, None), size=(200, 80), pos=(10, 100))
        scroller = ScrollView(size_hint=(None, None), size=(300, 100), pos=(10, 300))
        scrolled = Label(text="OK", size_hint=(None, None), size=(100, 40), pos=(10, -500))
        scroller.add_widget(scrolled)
        for widget in (cut, outside, hidden, fits, scroller):
            layer.add_widget(widget)
        Window.add_widget(layer)
        yield from settle(app.root)
        yield 3
        seen["problems"] = clipped_texts(layer)
        Window.remove_widget(layer)

    run_with(sample_state(Screen.ATTRACT, "ja"), script)
    problems = seen["problems"]
    assert len(problems) == 2, problems
    assert any("in a 200x40 box" in p for p in problems)  # cut
    assert any("outside the" in p for p in problems)  # outside


def test_widgets_a_screen_discards_never_crash_a_theme_or_language_change() -> None:
    """kivy/kivy#3305: a discarded key or row whose kv rules still listen to the theme raised ReferenceError
    once in the tour, when the collector freed it in the middle of the high-contrast switch. The crash
    depends on when the collector runs, so this drives the same path with the collector running on nearly
    every allocation: rebuilt keyboards and result rows, then theme and language changes."""
    email = InputBuffer(EMAIL).view()
    katakana = InputBuffer(BRAILLE_NAME).view()
    entry = sample_state(Screen.TEXT_ENTRY, "ja")
    result = sample_state(Screen.RESULT, "ja")
    seen: dict[str, Any] = {}

    def script(app: Any, flow: Any) -> Iterator[Any]:
        threshold = gc.get_threshold()
        gc.set_threshold(1, 1, 1)
        try:
            for round_ in range(3):
                contrast = round_ % 2 == 1
                yield from show(app, flow, replace(entry, pin=email, high_contrast=contrast))
                yield from show(app, flow, replace(entry, pin=katakana, high_contrast=not contrast))
                yield from show(app, flow, replace(result, high_contrast=contrast, large_text=contrast))
                yield from show(app, flow, replace(result, language="en", high_contrast=not contrast))
        finally:
            gc.set_threshold(*threshold)
        seen["screen"] = app.view.screen

    run_with(entry, script)
    assert seen["screen"] is Screen.RESULT
