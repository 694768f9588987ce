"""Load the ``.kv`` file that sits next to a ``.py`` module, once per process.

Kivy's Builder keeps rules globally and warns (and duplicates rules) when a file is loaded twice; the
kiosk builds its app several times in one test process, so loading is keyed by path.
"""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder

_loaded: set[Path] = set()


def load_sibling_kv(module_file: str) -> None:
    path = Path(module_file).with_suffix(".kv").resolve()
    if path in _loaded:
        return
    Builder.load_file(str(path), encoding="utf-8")
    _loaded.add(path)
