"""The kiosk window: whether one can be opened, and Kivy's window settings before the window exists.

Kivy reads its window configuration once, when ``kivy.core.window`` is first imported, so
``configure_window`` must run before that import; nothing here imports the window at module level.
"""

from __future__ import annotations

import os
import sys

EXIT_NO_DISPLAY = 3
PANEL_SIZE = (1080, 1920)  # the kiosk's portrait panel
DEMO_SCALE = 0.5  # demo window: the same layout at half size, so it fits a laptop screen

HOW_TO_PROCEED = """\
  - on the kiosk itself: start it from the graphical session, or choose an SDL video driver,
    e.g. SDL_VIDEODRIVER=kmsdrm for a console without X/Wayland;
  - to look at every screen without a display: kiosk demo --tour DIR (PNG files);
  - to run the UI headless (tests, CI): SDL_VIDEODRIVER=offscreen."""
NO_DISPLAY_HELP = ("kiosk: no display to open the kiosk window on (neither DISPLAY nor WAYLAND_DISPLAY is set).\n"
                   + HOW_TO_PROCEED)
WINDOW_FAILED_HELP = ("kiosk: the kiosk window could not be opened: the display in DISPLAY/WAYLAND_DISPLAY does not "
                      "answer, or there is no OpenGL.\n" + HOW_TO_PROCEED)


def display_problem(environ: dict[str, str] | None = None, platform: str = sys.platform) -> str | None:
    """Why no window can be opened (a message for the operator), or None when one can be tried."""
    env = os.environ if environ is None else environ
    if not platform.startswith("linux") or env.get("SDL_VIDEODRIVER"):
        return None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return NO_DISPLAY_HELP


def configure_window(demo: bool, *, size: tuple[int, int] | None = None, fullscreen: bool | None = None) -> None:
    """Kivy settings that must be in place before its window module is imported."""
    import kiosk.ui  # noqa: F401 - Kivy environment defaults

    if demo and "KIVY_METRICS_DENSITY" not in os.environ and size is None:
        os.environ["KIVY_METRICS_DENSITY"] = str(DEMO_SCALE)
    from kivy.config import Config

    width, height = size or ((int(PANEL_SIZE[0] * DEMO_SCALE), int(PANEL_SIZE[1] * DEMO_SCALE)) if demo
                             else PANEL_SIZE)
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    full = (not demo) if fullscreen is None else fullscreen
    Config.set("graphics", "fullscreen", "auto" if full else "0")
    Config.set("graphics", "borderless", "1" if full else "0")
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "pause_on_minimize", "0")
    # Touch panels also send emulated mouse events: without this, one touch could press twice, and a
    # right click would leave Kivy's multitouch-emulation dots on screen.
    Config.set("input", "mouse", "mouse,disable_multitouch,disable_on_activity")


def window_opened() -> bool:
    """Import Kivy's window (this opens it) and check that it is on a real display.

    Two silent failures are caught: Kivy leaves ``Window`` None when no provider works (no OpenGL), and
    SDL, when DISPLAY names no running server, quietly falls back to its *offscreen* driver — the kiosk
    would then run invisibly. Offscreen is accepted only when it was asked for.
    """
    try:
        from kivy.core.window import Window
    except SystemExit:
        return False
    if Window is None:
        return False
    driver = sdl_video_driver()
    return not (driver == "offscreen" and os.environ.get("SDL_VIDEODRIVER") != "offscreen")


def sdl_video_driver() -> str | None:
    """The SDL video driver in use (``x11``, ``wayland``, ``kmsdrm``, ``offscreen``…), None if unknown.

    Kivy does not expose it; the SDL library Kivy loaded (bundled in the wheel's ``Kivy.libs``, else the
    system's) is asked directly — the same shared object, so the same SDL state.
    """
    import ctypes
    import ctypes.util
    from pathlib import Path

    import kivy

    bundled = sorted((Path(kivy.__file__).resolve().parent.parent / "Kivy.libs").glob("libSDL2-2*.so*"))
    name = str(bundled[0]) if bundled else ctypes.util.find_library("SDL2")
    if not name:
        return None
    try:
        sdl = ctypes.CDLL(name)
        sdl.SDL_GetCurrentVideoDriver.restype = ctypes.c_char_p
        driver = sdl.SDL_GetCurrentVideoDriver()
    except (OSError, AttributeError):
        return None
    return driver.decode("ascii", "replace") if driver else None


__all__ = ["EXIT_NO_DISPLAY", "NO_DISPLAY_HELP", "PANEL_SIZE", "WINDOW_FAILED_HELP", "configure_window",
           "display_problem", "sdl_video_driver", "window_opened"]
