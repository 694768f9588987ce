"""A kiosk an operator disabled says so on its attract screen, in every language, and offers no task."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from kiosk.core import messages as m
from kiosk.core.view import Screen
from kiosk.i18n import LANGUAGES
from kiosk.ui.app import KioskApp
from kiosk.ui.fit import clipped_texts
from kiosk.ui.samples import sample_state
from kiosk.ui.static_flow import StaticFlow
from tests.ui.helpers import find, run_with, show, visible

pytestmark = pytest.mark.ui


def task_buttons(app: KioskApp) -> list[Any]:
    return find(app.root.current, lambda w: w.__class__.__name__ == "TaskButton" and w.parent is not None)


def test_the_notice_replaces_the_tasks_and_fits_in_every_language() -> None:
    in_service = sample_state(Screen.ATTRACT, "ja")
    out = replace(in_service, tasks=(), message_key=m.OUT_OF_SERVICE)

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        assert task_buttons(app) and app.root.current.ids.notice.text == ""
        for language in LANGUAGES:
            for large in (False, True):
                yield from show(app, flow, replace(out, language=language, large_text=large))
                notice = app.root.current.ids.notice
                assert notice.text == app.t(m.OUT_OF_SERVICE) and visible(notice), language
                assert task_buttons(app) == [], language
                from kivy.core.window import Window

                assert [p for top in Window.children for p in clipped_texts(top)] == [], (language, large)
        yield from show(app, flow, in_service)
        assert task_buttons(app) and app.root.current.ids.notice.text == ""

    run_with(in_service, script)
