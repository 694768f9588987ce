"""A button a screen does not offer takes no room: not after a language change, not in large text."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from kiosk.core.view import Screen
from kiosk.ui.app import KioskApp
from kiosk.ui.samples import sample_result, sample_state
from kiosk.ui.static_flow import StaticFlow
from tests.ui.helpers import run_with, show

pytestmark = pytest.mark.ui


def test_the_details_button_is_gone_where_no_details_are_offered_and_back_where_they_are() -> None:
    offered = sample_state(Screen.RESULT, "en", result=replace(sample_result(), details_offered=True))
    not_offered = replace(offered, result=replace(offered.result, details_offered=False))

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        button = app.root.current.ids.toggle_details
        assert button.height >= app.theme.touch and button.opacity == 1
        for view in (not_offered, replace(not_offered, large_text=True), replace(not_offered, language="vi"),
                     replace(not_offered, language="ja", large_text=True)):
            yield from show(app, flow, view)
            assert button.height == 0 and button.opacity == 0, view.language
        yield from show(app, flow, replace(offered, large_text=True))
        assert button.height >= app.theme.touch and button.opacity == 1

    run_with(offered, script)
