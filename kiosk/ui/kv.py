"""Load the ``.kv`` file that sits next to a ``.py`` module, once per process.

Kivy's Builder keeps rules globally and warns (and duplicates rules) when a file is loaded twice; the
kiosk builds its app several times in one test process, so loading is keyed by path.
"""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.uix.widget import Widget

_loaded: set[Path] = set()


def load_sibling_kv(module_file: str) -> None:
    path = Path(module_file).with_suffix(".kv").resolve()
    if path in _loaded:
        return
    Builder.load_file(str(path), encoding="utf-8")
    _loaded.add(path)


def release(widget: Widget) -> None:
    """Unbind the kv rules of ``widget`` and of everything inside it, for a widget the UI drops for good.

    Kivy unbinds a widget's rules when it is freed, through a weak reference the widget keeps to itself;
    a discarded widget is freed by the cycle collector, which skips that callback when the reference is
    part of the same garbage (kivy/kivy#3305). Its rules then stay bound to the theme and the translator,
    and the next palette or language change calls a dead rule: ReferenceError, the UI thread's loop broken.
    Whether that happens depends on when the collector runs, so it is unbound here, when it is dropped.
    """
    for inner in list(widget.walk(restrict=True)):
        Builder.unbind_widget(inner.uid)


def discard_children(container: Widget) -> None:
    """``clear_widgets`` for children that will not be shown again (see ``release``)."""
    children = list(container.children)
    container.clear_widgets()
    for child in children:
        release(child)
