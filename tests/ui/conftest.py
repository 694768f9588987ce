"""The UI tier: Kivy offscreen (SDL's offscreen video driver on Mesa; no X server, no Xvfb).

Kivy reads its environment once, at ``import kivy``, and opens one window per process. pytest imports
this file when it collects ``tests/ui`` — before any test module here — so the environment below is in
place unless something imported Kivy earlier in the session (no other tier does: ``kiosk.app.wiring`` and
``kiosk.ui.tour`` import Kivy only inside functions). The guard below turns such an ordering mistake into
a clear error instead of tests that write ``~/.kivy`` or open a real window.
"""

from __future__ import annotations

import os
import sys
import tempfile

import pytest

_KIVY_HOME = tempfile.mkdtemp(prefix="kiosk-kivy-home-")
_ENVIRONMENT = {
    "SDL_VIDEODRIVER": "offscreen",
    "KIVY_NO_ARGS": "1",
    "KIVY_NO_CONSOLELOG": "1",
    "KIVY_NO_FILELOG": "1",
    "KIVY_HOME": _KIVY_HOME,
    "KIVY_USE_DEFAULTCONFIG": "1",
    "KIVY_LOG_MODE": "PYTHON",
}

if "kivy" in sys.modules and os.environ.get("KIVY_HOME") != _KIVY_HOME:
    raise RuntimeError(
        "Kivy was imported before tests/ui/conftest.py could prepare its environment; import Kivy lazily "
        "in the module that did it (or set the variables of tests/ui/conftest.py in tests/conftest.py)"
    )
os.environ.update(_ENVIRONMENT)

from kiosk.ui.tour import PORTRAIT, prepare_offscreen  # noqa: E402 - after the environment, on purpose

prepare_offscreen(PORTRAIT)


def pytest_configure(config: pytest.Config) -> None:
    # Also registered in pyproject.toml by the lead; registering here keeps `pytest tests/ui` working alone.
    config.addinivalue_line("markers", "ui: Kivy UI tests (offscreen window, one per process)")


@pytest.fixture(autouse=True)
def _portrait_window():
    """Every test starts on the kiosk's portrait panel, whatever the previous test did."""
    from kivy.core.window import Window

    if tuple(Window.size) != PORTRAIT:
        Window.size = PORTRAIT
    yield
