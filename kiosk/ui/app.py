"""``KioskApp``: builds the root, follows the flow's view state, and locks the kiosk.

Threads: the flow runs on the UI thread (``KivyDispatcher.post`` schedules ``flow.handle`` with
``Clock.schedule_once``; Kivy documents scheduling as thread-safe and ordered). New view states are
rendered through one coalescing trigger, so a burst of worker events costs one render per frame and the
UI never waits on a card, a socket or a lock.

Lock: a resident has no way out — Esc / Android back are swallowed, a window close request is refused,
Kivy's exit-on-escape is off. Staff hold the header's top-left corner for three seconds and type the
staff exit PIN (see ``kiosk.ui.staff``); that is the only path to ``stop()``.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from kivy.app import App
from kivy.clock import Clock
from kivy.config import Config
from kivy.core.window import Window
from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty

from kiosk.core.events import Event, KeyTyped
from kiosk.core.view import ViewState
from kiosk.i18n import LANGUAGES
from kiosk.ui.fonts import register_default_font
from kiosk.ui.speech import Guide, Speaker
from kiosk.ui.staff import StaffExitGuard
from kiosk.ui.text import UiTranslator
from kiosk.ui.theme import Theme, is_clerk_screen

log = logging.getLogger(__name__)

KEY_ESCAPE = 27  # also Android's back key/gesture
WEDGE_TERMINATOR_KEYS = {13: "\r", 271: "\r", 9: "\t"}  # Enter, keypad Enter, Tab


@contextmanager
def collection_paused() -> Iterator[None]:
    """No automatic garbage collection while a render fans out to hundreds of kv rules.

    A widget a screen just discarded (a key, a row) still has kv rules bound to the theme and the
    translator; if the collector frees it in the middle of such a dispatch, Kivy calls the dead rule and
    raises ReferenceError (kivy/kivy#3305) — a crash on "high contrast" or a language change. Paused, the
    widget stays alive until the render is over and its rules are unbound when it is freed afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Flow(Protocol):
    """What the UI needs from the machine it follows (``kiosk.core.shell.Shell`` and test fakes)."""

    @property
    def state(self) -> ViewState: ...

    def handle(self, event: Event) -> Any: ...

    def subscribe(self, callback: Callable[[ViewState], None]) -> Any: ...


class KivyDispatcher:
    """``kiosk.core.dispatch.Dispatcher`` for the app: ``post(event)`` from any thread; every connected
    handler runs later on the Kivy thread, one event at a time, in posting order (Kivy's clock runs
    callbacks in the order they were scheduled, and a handler that posts only schedules — never nests).

    An exception in a handler must not take the kiosk down in front of a resident: it is logged (type
    names only — exception texts may carry data) and kept in ``errors`` for tests to assert on.
    """

    def __init__(self, handler: Callable[[Event], Any] | None = None) -> None:
        self._handlers: list[Callable[[Event], Any]] = [handler] if handler is not None else []
        self.errors: list[BaseException] = []

    def connect(self, handler: Callable[[Event], Any]) -> None:
        self._handlers.append(handler)

    def post(self, event: Event) -> None:
        Clock.schedule_once(lambda _dt: self._deliver(event), 0)

    def _deliver(self, event: Event) -> None:
        for handler in list(self._handlers):
            try:
                handler(event)
            except Exception as exc:
                self.errors.append(exc)
                log.error("flow failed on %s: %s", type(event).__name__, type(exc).__name__)


# The app ended at staff's request for a restart (the maintenance menu): the kiosk unit restarts on any exit
# but a configuration error; a shell loop outside systemd may test for it (75 = EX_TEMPFAIL, "try again").
EXIT_RESTART = 75


class KioskApp(App):
    t = ObjectProperty(None)  # the current language's translator; kv writes app.t('key')
    theme = ObjectProperty(None)
    language = StringProperty("ja")
    languages = ListProperty(list(LANGUAGES))
    portrait = BooleanProperty(True)
    demo = BooleanProperty(False)
    view = ObjectProperty(None, allownone=True)
    camera = ObjectProperty(None, allownone=True)  # kiosk.core.ports.Camera: what the previews draw

    def __init__(
        self,
        flow: Flow,
        *,
        dispatcher: Any = None,
        speaker: Speaker | None = None,
        staff_guard: StaffExitGuard | None = None,
        demo_cards: Any = None,
        languages: Sequence[str] | None = None,
        fullscreen: bool = False,
        prebuild: bool = True,
        camera: Any = None,
        maintenance: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.theme = Theme()
        self.t = UiTranslator(flow.state.language)
        self.language = flow.state.language
        self.title = "My Number Card Kiosk"
        self.flow = flow
        self.dispatcher = dispatcher if dispatcher is not None else KivyDispatcher(flow.handle)
        self.prebuild = prebuild
        self.guide = Guide(speaker)
        self.staff_guard = staff_guard or StaffExitGuard(None)
        self.demo_cards = demo_cards
        self.demo = demo_cards is not None
        self.fullscreen = fullscreen
        self.camera = camera
        self.maintenance = maintenance  # kiosk.core.maintenance.Maintenance: the menu after the staff exit
        if languages:
            self.languages = list(languages)
        self.exit_code = 0
        self.renders = 0
        self._pending: ViewState | None = None
        self._render_trigger = Clock.create_trigger(self._render_pending, 0)
        self._subscription: Any = None
        self._overlays: dict[str, Any] = {}

    # -- life cycle ------------------------------------------------------------------------------------

    def build(self) -> Any:
        register_default_font()
        from kiosk.ui.root import KioskRoot

        return KioskRoot(post=self.post)

    def on_start(self) -> None:
        Config.set("kivy", "exit_on_escape", "0")
        Window.bind(on_keyboard=self._on_keyboard, on_request_close=self._on_request_close, size=self._on_size,
                    on_textinput=self._on_textinput)
        self._on_size(Window, Window.size)
        if self.fullscreen:
            Window.borderless = True
            Window.fullscreen = "auto"
            Window.show_cursor = False
        self._subscription = self.flow.subscribe(self.show)
        self.render(self.flow.state)
        if self.prebuild:
            Clock.schedule_once(self._warm_up, 0)
            Clock.schedule_once(self._prebuild_next, 0)

    @staticmethod
    def _warm_up(_dt: float) -> None:
        from kiosk.typeset.linebreak import warm_up

        warm_up()

    def _prebuild_next(self, _dt: float) -> None:
        """Build the not-yet-shown screens one per frame while the attract screen idles: the first
        PIN pad or result of the day then costs a render, not a build (no long frame in a session)."""
        if self.root is not None and self.root.prebuild_one():
            Clock.schedule_once(self._prebuild_next, 0)

    def on_stop(self) -> None:
        """Kivy dispatches on_stop from stop() and again when run() returns: this must be idempotent."""
        Window.unbind(on_keyboard=self._on_keyboard, on_request_close=self._on_request_close, size=self._on_size,
                      on_textinput=self._on_textinput)
        unsubscribe = self._subscription
        if callable(unsubscribe):
            unsubscribe()
        self._subscription = None
        self.guide.close()

    # -- view state --------------------------------------------------------------------------------------

    def post(self, event: Event) -> None:
        """What widgets call: hand the event to the flow (on the UI thread, next frame)."""
        self.dispatcher.post(event)

    def show(self, view: ViewState) -> None:
        """The flow's subscriber; callable from any thread. Only the latest state is rendered."""
        self._pending = view
        self._render_trigger()

    def _render_pending(self, _dt: float) -> None:
        view, self._pending = self._pending, None
        if view is not None:
            self.render(view)

    def render(self, view: ViewState) -> None:
        """UI thread only."""
        with collection_paused():
            if view.language != self.language or self.t is None:
                self.language = view.language
                self.t = UiTranslator(view.language)
            self.theme.apply(view.large_text, view.high_contrast, clerk=is_clerk_screen(view))
            self.root.render(view)
        self.view = view
        self.renders += 1
        screen = self.root.current
        self.guide.update(view, screen.speech(view) if screen is not None else [])

    # -- overlays ----------------------------------------------------------------------------------------

    def overlay(self, name: str) -> Any:
        """The open overlay ``name`` ("language", "tray", "staff", "maintenance"), or None when it is not on screen."""
        widget = self._overlays.get(name)
        return widget if getattr(widget, "parent", None) is not None else None

    def open_language_picker(self) -> None:
        from kiosk.ui.widgets.language import LanguagePicker

        if getattr(self._overlays.get("language"), "parent", None) is not None:
            return  # already open (a double tap)
        picker = LanguagePicker(languages=list(self.languages), current=self.language)
        self._overlays["language"] = picker
        self.root.open_overlay(picker)

    def close_language_picker(self) -> None:
        picker = self._overlays.pop("language", None)
        if picker is not None:
            self.root.close_overlay(picker)

    def toggle_demo_tray(self) -> None:
        from kiosk.ui.widgets.tray import DemoTray

        tray = self._overlays.get("tray")
        if tray is not None and tray.parent is not None:
            self.root.close_overlay(tray)
            return
        if self.demo_cards is None:
            return
        tray = DemoTray(cards=self.demo_cards)
        self._overlays["tray"] = tray
        self.root.open_overlay(tray)

    def open_staff_exit(self) -> None:
        from kiosk.ui.widgets.staff_exit import StaffExitDialog

        if getattr(self._overlays.get("staff"), "parent", None) is not None:
            return
        dialog = StaffExitDialog(guard=self.staff_guard)
        dialog.bind(on_exit_confirmed=lambda *_: self.staff_exit())
        self._overlays["staff"] = dialog
        self.root.open_overlay(dialog)

    def staff_exit(self) -> None:
        """The staff PIN was right: the maintenance menu (never a desktop), or without one, the end."""
        self.close_overlay("staff")
        if self.maintenance is None:
            self.quit(0)
            return
        from kiosk.ui.widgets.maintenance import MaintenanceMenu

        log.info("staff exit: maintenance menu")
        menu = MaintenanceMenu(maintenance=self.maintenance, demo=self.demo)
        menu.bind(on_restart=lambda *_: self.quit(0 if self.demo else EXIT_RESTART))
        self._overlays["maintenance"] = menu
        self.root.open_overlay(menu)

    def close_overlay(self, name: str) -> None:
        widget = self._overlays.pop(name, None)
        if widget is not None and widget.parent is not None:
            self.root.close_overlay(widget)

    def quit(self, exit_code: int) -> None:
        """End the app with ``exit_code``; ``EXIT_RESTART`` asks the kiosk's service for a fresh start."""
        log.info("staff: %s", "restart" if exit_code == EXIT_RESTART else "exit")
        self.exit_code = exit_code
        self.stop()

    # -- the lock ----------------------------------------------------------------------------------------

    def _on_keyboard(self, _window: Any, key: int, *_args: Any, **_kwargs: Any) -> bool:
        if key in WEDGE_TERMINATOR_KEYS:  # a barcode scanner's Enter or Tab ends its code
            self.post(KeyTyped(WEDGE_TERMINATOR_KEYS[key]))
            return True
        return key == KEY_ESCAPE  # True = consumed: Esc and back never leave the kiosk

    def _on_textinput(self, _window: Any, text: str) -> None:
        """A hardware keyboard's characters — on a kiosk, a USB barcode scanner typing like one."""
        for char in text:
            self.post(KeyTyped(char))

    def _on_request_close(self, *_args: Any, **_kwargs: Any) -> bool:
        return True  # refuse: closing is for staff, through the staff exit

    def _on_size(self, _window: Any, size: Sequence[float]) -> None:
        width, height = size
        self.portrait = height >= width
