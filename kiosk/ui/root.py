"""The window's one widget: header, the current screen, the assist bar, and the overlays above them.

``render`` is the only entry point from the app: it takes a ``ViewState`` and makes the widgets show it.
Any touch anywhere is posted as ``Touched`` first (the flow's idle timer), then handled normally.
"""

from __future__ import annotations

from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.floatlayout import FloatLayout

from kiosk.core.events import Touched
from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens import screen_class
from kiosk.ui.screens.base import KioskScreen
from kiosk.ui.theme import is_clerk_screen
from kiosk.ui.widgets import load_all
from kiosk.ui.widgets.idle import IdleWarning

load_all()

BUSY_SCREENS = frozenset({Screen.READING, Screen.VERIFYING})


def clerk_band_text(view: ViewState) -> str:
    """The band that says "staff mode" and who is signed in, on every clerk screen (none for residents)."""
    from kivy.app import App

    clerk = view.clerk
    t = getattr(App.get_running_app(), "t", None)
    if clerk is None or not callable(t) or not is_clerk_screen(view):
        return ""
    if not clerk.username:
        return str(t("clerk.mode"))
    role = t(f"clerk.role.{clerk.role}") if clerk.role in ("clerk", "supervisor") else clerk.role or ""
    return f"{t('clerk.mode')}   {t('clerk.signed_in')} {clerk.username} ({role})"


class KioskRoot(FloatLayout):
    current = ObjectProperty(None, allownone=True)  # the KioskScreen on show
    busy_elsewhere = BooleanProperty(False)  # card I/O while a screen without its own indicator is up
    staff_called = BooleanProperty(False)
    staff_call = StringProperty("")  # "" | "sending" | "sent" | "failed"
    clerk_band = StringProperty("")  # the counter: "STAFF MODE — signed in: …" above every clerk screen

    def __init__(self, post: object = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._post = post
        self._screens: dict[Screen, KioskScreen] = {}
        self._idle: IdleWarning | None = None
        self._session: int | None = None

    # -- rendering ------------------------------------------------------------------------------------

    def render(self, view: ViewState) -> None:
        if self._session is not None and view.session_id != self._session:
            self._forget_session()
        self._session = view.session_id
        header, assist = self.ids.header, self.ids.assist
        header.reader = view.reader.value
        assist.large_text = view.large_text
        assist.high_contrast = view.high_contrast
        assist.speech = view.speech
        assist.staff_called = view.staff_called
        assist.staff_call = view.staff_call or ""
        self.staff_called = view.staff_called
        self.staff_call = view.staff_call or ""
        self.busy_elsewhere = view.busy and view.screen not in BUSY_SCREENS
        self.clerk_band = clerk_band_text(view)
        self._show(view)
        self._idle_warning(view.idle_warning)

    def screen(self, which: Screen) -> KioskScreen:
        """The (cached) screen widget for ``which``; built on first use."""
        widget = self._screens.get(which)
        if widget is None:
            widget = screen_class(which)()
            self._screens[which] = widget
        return widget

    def prebuild_one(self) -> bool:
        """Build one screen that was never shown; False when all exist."""
        for which in Screen:
            if which not in self._screens:
                self.screen(which).prewarm()
                return True
        return False

    def _show(self, view: ViewState) -> None:
        target = self.screen(view.screen)
        host = self.ids.host
        if self.current is not target:
            if self.current is not None:
                host.remove_widget(self.current)
                self.current.reset()
            host.add_widget(target)
            self.current = target
        target.render(view)

    def _idle_warning(self, seconds: int | None) -> None:
        if seconds is None:
            if self._idle is not None:
                self.ids.overlays.remove_widget(self._idle)
                self._idle = None
            return
        if self._idle is None:
            self._idle = IdleWarning()
            self.ids.overlays.add_widget(self._idle)
        self._idle.seconds = seconds

    def _forget_session(self) -> None:
        """A new session: no widget may still show anything of the previous one."""
        for screen in self._screens.values():
            if screen is not self.current:
                screen.reset()
        layer = self.ids.overlays
        for overlay in [w for w in layer.children if w.__class__.__name__ in ("LanguagePicker", "DemoTray")]:
            layer.remove_widget(overlay)

    # -- overlays the app opens -----------------------------------------------------------------------

    def open_overlay(self, overlay: object) -> None:
        layer = self.ids.overlays
        if overlay not in layer.children:
            layer.add_widget(overlay)

    def close_overlay(self, overlay: object) -> None:
        layer = self.ids.overlays
        if overlay in layer.children:
            layer.remove_widget(overlay)

    # -- input -----------------------------------------------------------------------------------------

    def on_touch_down(self, touch):
        if self._post is not None and self.collide_point(*touch.pos):
            self._post(Touched())
        return super().on_touch_down(touch)


load_sibling_kv(__file__)
