"""The kiosk's Kivy front end: screens that render ``kiosk.core.view.ViewState`` and post events. No logic.

Kivy reads its environment once, at ``import kivy``. Every module of this package imports this file
first, so the defaults below are in place before any Kivy import that goes through ``kiosk.ui``:

- ``KIVY_NO_ARGS``: the ``kiosk`` command line owns ``sys.argv``; Kivy must not parse ``--config``.
- ``KIVY_NO_CONFIG``: no ``~/.kivy/config.ini`` is read or written; the app sets what it needs in code,
  so two kiosks with the same release behave the same.
- ``KIVY_NO_FILELOG`` and ``KIVY_LOG_MODE=PYTHON``: Kivy's messages go through Python logging, which the
  CLI configures; no log file appears outside the places the project controls.
- ``SDL_NO_SIGNAL_HANDLERS``: SDL would turn SIGTERM/SIGINT into a window-close request, which the kiosk
  refuses (residents must not close it) — so ``systemctl stop`` would hang. The runtime handles the
  signals itself and stops the app cleanly.

Nothing here imports Kivy, so importing ``kiosk.ui`` (or ``kiosk.app.wiring``) from the CLI stays cheap.
"""

from __future__ import annotations

import os

KIVY_ENVIRONMENT_DEFAULTS: dict[str, str] = {
    "KIVY_NO_ARGS": "1",
    "KIVY_NO_CONFIG": "1",
    "KIVY_NO_FILELOG": "1",
    "KIVY_LOG_MODE": "PYTHON",
    "SDL_NO_SIGNAL_HANDLERS": "1",
}


def prepare_kivy_environment() -> None:
    """Set the defaults above unless the caller (a test, an operator) already chose otherwise."""
    for key, value in KIVY_ENVIRONMENT_DEFAULTS.items():
        os.environ.setdefault(key, value)


prepare_kivy_environment()
