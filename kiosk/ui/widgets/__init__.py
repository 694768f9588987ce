"""Shared kiosk widgets: each ``name.py`` holds the behaviour-free class, ``name.kv`` its look."""

from __future__ import annotations

import importlib

# Order matters: kv rules of later modules use classes of earlier ones.
MODULES = ("base", "overlay", "pictures", "header", "assist", "language", "pinpad", "keyboard", "camera", "busy",
           "idle", "tray", "staff_exit")


def load_all() -> None:
    """Import every widget module (registering its classes and kv rules) before any screen is built."""
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}")
