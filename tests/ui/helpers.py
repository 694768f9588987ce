"""Driving the real widgets the way a resident does: touches at the widget's position on the window."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kivy.tests.common import UnitTestTouch
from kivy.uix.widget import Widget

from kiosk.core.view import ViewState
from kiosk.ui.app import KioskApp
from kiosk.ui.frames import FrameScript, settle
from kiosk.ui.static_flow import StaticFlow


def window_point(widget: Widget) -> tuple[float, float]:
    return widget.to_window(*widget.center)


def visible(widget: Widget) -> bool:
    """On screen, drawn, and inside the window (not scrolled away, not zero-sized)."""
    from kivy.core.window import Window

    if widget.get_root_window() is None or widget.width <= 0 or widget.height <= 0:
        return False
    node: Any = widget
    while node is not None and node is not Window:
        if getattr(node, "opacity", 1) == 0:
            return False
        node = node.parent
    x, y = window_point(widget)
    return 0 <= x <= Window.width and 0 <= y <= Window.height


def tap(widget: Widget) -> Iterator[Any]:
    """A full press: down, a frame, up, two frames (the flow's event arrives on the next frame)."""
    assert visible(widget), f"{widget!r} is not visible on the window"
    x, y = window_point(widget)
    touch = UnitTestTouch(x, y)
    touch.touch_down()
    yield
    touch.touch_up()
    yield 2


def scroll_into_view(widget: Widget) -> Iterator[Any]:
    from kivy.uix.scrollview import ScrollView

    node = widget.parent
    while node is not None and not isinstance(node, ScrollView):
        node = node.parent
    if node is not None:
        node.scroll_to(widget, padding=20, animate=False)
        yield 2


def run_with(view: ViewState, script: Callable[[KioskApp, StaticFlow], Iterator[Any]], **app_options: Any
             ) -> StaticFlow:
    """Run a KioskApp on a logic-free flow showing ``view``; ``script(app, flow)`` drives it frame by frame."""
    flow = StaticFlow(view)
    app_options.setdefault("speaker", None)
    app_options.setdefault("prebuild", False)
    app = KioskApp(flow, **app_options)

    def body() -> Iterator[Any]:
        yield from settle(app.root)
        yield from script(app, flow)

    FrameScript(app, body).run()
    return flow


def run_runtime(runtime: Any, script: Callable[[], Iterator[Any]]) -> None:
    """Start the composition root's services, run ``script`` in its app, stop everything (threads joined);
    no event handler may have raised meanwhile."""
    runtime.start()
    try:
        FrameScript(runtime.app, script).run()
    finally:
        runtime.stop()
    assert runtime.dispatcher.errors == []


def show(app: KioskApp, flow: StaticFlow, view: ViewState) -> Iterator[Any]:
    """Publish a new state the way the flow does (through the app's coalescing trigger) and let it settle."""
    flow.publish(view)
    yield 2
    yield from settle(app.root)


def find(root: Widget, predicate: Callable[[Widget], bool]) -> list[Widget]:
    return [w for w in root.walk() if predicate(w)]


def texts_anywhere(app: KioskApp) -> str:
    """Every text on every built screen, shown or not (what could leak after a session)."""
    widgets = list(app.root.walk()) + [w for s in app.root._screens.values() for w in s.walk()]
    return "\n".join(str(getattr(w, "text", "")) for w in widgets)


def files_written_since(folder: Path, began: float) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and p.stat().st_mtime >= began]
