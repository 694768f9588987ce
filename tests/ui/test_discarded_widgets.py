"""A widget the UI drops for good stops listening to the theme at once, not when the garbage collector gets
to it. A dropped widget still bound to the theme is what crashed the UI thread's loop with ReferenceError on
a later palette change (kivy/kivy#3305; seen in CI after a supervisor override: a pickup test's clerk
palette switch called a dropped reason button's colour rule). Measured through the theme's observers
(Kivy's public ``get_property_observers``), with automatic collection off so the count cannot depend on
when the collector runs."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from kiosk.core.view import Screen
from kiosk.ui.app import KioskApp
from kiosk.ui.samples import sample_state
from kiosk.ui.static_flow import StaticFlow
from tests.ui.helpers import run_with, show

pytestmark = pytest.mark.ui


def test_dropped_reasons_rows_and_overlays_leave_no_rule_bound_to_the_theme() -> None:
    supervisor = sample_state(Screen.SUPERVISOR, "ja")
    assert supervisor.pickup is not None and supervisor.pickup.override_reasons
    first = supervisor.pickup.override_reasons[0]
    chosen = replace(supervisor, pickup=replace(supervisor.pickup, override_reason=first))
    attract = sample_state(Screen.ATTRACT, "ja")
    counts: list[int] = []

    def one_round(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        yield from show(app, flow, supervisor)
        yield from show(app, flow, chosen)  # the other reason buttons are dropped
        app.open_staff_exit()
        app.open_language_picker()
        yield 2
        app.overlay("staff").close()
        app.close_language_picker()
        yield from show(app, flow, attract)  # the supervisor screen resets: its buttons are dropped
        counts.append(len(app.theme.get_property_observers("primary_fg")))

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        was = gc.isenabled()
        gc.disable()
        try:
            for _ in range(3):
                yield from one_round(app, flow)
        finally:
            if was:
                gc.enable()
        for view in (replace(attract, high_contrast=True), replace(supervisor, high_contrast=True), supervisor):
            yield from show(app, flow, view)  # the palette changes with every dropped widget collected
        assert app.root.current.ids.reasons.children

    run_with(attract, script)
    assert counts[0] == counts[1] == counts[2], counts  # nothing dropped is still listening
