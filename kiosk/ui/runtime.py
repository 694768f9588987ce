"""Wiring the kiosk app from a ``KioskConfig``: flow + card service + Kivy app, and the CLI entry points.

``run_app(config, demo)`` is what ``kiosk run`` / ``kiosk demo`` call; ``render_tour`` is ``kiosk demo
--tour DIR``. This module imports Kivy only inside functions, after the window has been configured
(size, full screen, offscreen): Kivy reads that configuration once, when its window module is imported.

- run mode: PC/SC readers (``drivers.pcsc``: ``CardWatcher`` + ``connect``), full screen, no cursor.
- demo mode: an in-process simulated reader (``SimulatedTray``) and the demo tray in the header to put
  synthetic residents on it; a window at half the kiosk panel's size with the same layout.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any

from kiosk.config import KioskConfig
from kiosk.ui.tour import render_tour

LOG = logging.getLogger(__name__)

EXIT_NO_DISPLAY = 3
PANEL_SIZE = (1080, 1920)  # the kiosk's portrait panel
DEMO_SCALE = 0.5  # demo window: the same layout at half size, so it fits a laptop screen
TICK_SECONDS = 0.5  # how often the flow learns the time (idle warning countdown, time-outs)

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


@dataclass
class Runtime:
    """Everything one kiosk process runs; ``start()`` after the app exists, ``stop()`` when it ends."""

    config: KioskConfig
    dispatcher: Any  # kiosk.ui.app.KivyDispatcher
    flow: Any  # kiosk.core.card_check.CardCheckFlow
    service: Any  # kiosk.services.card_service.CardService
    tray: Any  # SimulatedTray in demo mode, else None
    app: Any  # kiosk.ui.app.KioskApp
    clock: Any
    _ticker: Any = None

    def start(self) -> None:
        from kivy.clock import Clock

        from kiosk.core.events import Tick

        self.service.start()
        self._ticker = Clock.schedule_interval(lambda _dt: self.dispatcher.post(Tick(self.clock.now())),
                                               TICK_SECONDS)

    def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        self.service.stop()
        if self.tray is not None:
            self.tray.stop()


class DemoCards:
    """The demo tray's view of ``SimulatedTray``: inserting a card first takes out the one in the slot."""

    def __init__(self, tray: Any) -> None:
        self._tray = tray

    def profiles(self) -> list[str]:
        return list(self._tray.profiles())

    def insert(self, profile: str) -> None:
        self._tray.remove()
        self._tray.insert(profile)

    def remove(self) -> None:
        self._tray.remove()


def revocation_from_config(config: KioskConfig) -> Any:
    """The central server answers revocation when the configuration says how to reach it; else None
    (the check is then "not checked", and a configuration that requires it never shows "verified")."""
    server = config.server
    if not (server.ca_bundle and server.client_cert and server.client_key):
        LOG.info("no central server configured: certificate revocation will be 'not checked'")
        return None
    from kiosk.services.central import CentralClient
    from kiosk.services.revocation_client import CentralRevocationChecker

    return CentralRevocationChecker(CentralClient.from_config(config))  # its own client: card-worker thread


def build_runtime(config: KioskConfig, demo: bool, *, delay: str | None = None, speaker: Any = "auto",
                  fullscreen: bool = False, staff_hash: str | None = None, revocation: Any = "auto") -> Runtime:
    """Build (not start) the app and its services; Kivy's window must be configured already.

    ``delay``: the simulated card's timing preset in demo mode ("off", "real-card"; default: config).
    ``revocation``: a ``RevocationChecker``, None, or "auto" (``revocation_from_config``).
    """
    from kiosk.core.card_check import CardCheckFlow
    from kiosk.core.dispatch import MonotonicClock
    from kiosk.services.card_service import CardService, SimulatedTray, verifier_factory_from_config
    from kiosk.ui.app import KioskApp, KivyDispatcher
    from kiosk.ui.speech import Speaker
    from kiosk.ui.staff import StaffExitGuard, configured_hash

    clock = MonotonicClock()
    dispatcher = KivyDispatcher()
    tray = None
    if demo:
        tray = SimulatedTray(delay=delay if delay is not None else config.simulator.delay)
        transport_factory, watcher = tray.connect, tray
    else:
        from drivers import pcsc
        from drivers.pcsc.watcher import CardWatcher

        transport_factory, watcher = pcsc.connect, CardWatcher()
    checker = revocation_from_config(config) if revocation == "auto" else revocation
    service = CardService(transport_factory, dispatcher.post,
                          verifier_factory=verifier_factory_from_config(config, revocation=checker),
                          watcher=watcher, clock=clock, readers=config.card.readers)
    kiosk_id = config.kiosk.id

    def call_staff() -> None:
        LOG.warning("a resident asked for staff at kiosk %s", kiosk_id)  # the event only: no personal data

    flow = CardCheckFlow(dispatcher, service, clock, config, on_call_staff=call_staff)
    guard = StaffExitGuard(staff_hash if staff_hash is not None else configured_hash(config, demo))
    if not guard.enabled:
        LOG.warning("no staff exit PIN hash configured: the kiosk can only be stopped from outside")
    app = KioskApp(
        flow,
        dispatcher=dispatcher,
        speaker=Speaker() if speaker == "auto" else speaker,
        staff_guard=guard,
        demo_cards=DemoCards(tray) if tray is not None else None,
        languages=config.kiosk.languages,
        fullscreen=fullscreen,
    )
    return Runtime(config, dispatcher, flow, service, tray, app, clock)


def run_app(config: KioskConfig, demo: bool) -> int:
    """Run the kiosk until staff exit it. Returns the process exit code (non-zero: could not start)."""
    problem = display_problem()
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_NO_DISPLAY
    configure_window(demo)
    if not window_opened():
        print(WINDOW_FAILED_HELP, file=sys.stderr)
        return EXIT_NO_DISPLAY
    runtime = build_runtime(config, demo, fullscreen=not demo)
    if demo:
        print("kiosk demo: use the header's 'デモ / Demo' button to put a sample card on the reader; "
              "staff exit: hold the top-left corner 3 s, PIN 000000 (unless a staff hash is configured)",
              flush=True)
    runtime.start()
    previous = _stop_on_signals(runtime.app)
    try:
        runtime.app.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        runtime.stop()
    return runtime.app.exit_code


def _stop_on_signals(app: Any) -> dict[int, Any]:
    """SIGTERM (systemd stop) and SIGINT (Ctrl-C in a demo terminal) end the app cleanly: services
    stopped, threads joined. These are the operator's ways out; a resident has none."""
    from kivy.clock import Clock

    def stop(signum: int, _frame: Any) -> None:
        LOG.info("signal %d: stopping the kiosk", signum)
        app.exit_code = 0
        Clock.schedule_once(lambda _dt: app.stop(), 0)

    return {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}


__all__ = ["DemoCards", "Runtime", "build_runtime", "configure_window", "display_problem", "render_tour",
           "revocation_from_config", "run_app"]
