"""Language choice: every language named in its own script, reachable from every screen.

The picker is transient presentation state (open/closed); choosing posts ``LanguageChosen`` and the flow
decides. Buttons show the native name because a resident who cannot read the current language can still
find "Tiếng Việt" or "한국어".
"""

from __future__ import annotations

from kivy.properties import ListProperty, NumericProperty, StringProperty
from kivy.uix.gridlayout import GridLayout

from kiosk.core.events import LanguageChosen
from kiosk.i18n import LANGUAGE_NAMES, LANGUAGES
from kiosk.ui.kv import discard_children, load_sibling_kv
from kiosk.ui.widgets.base import KioskButton
from kiosk.ui.widgets.overlay import Overlay


class LanguageButton(KioskButton):
    code = StringProperty("")


class LanguageGrid(GridLayout):
    """Ten big buttons; ``current`` is highlighted. ``columns`` follows the orientation."""

    languages = ListProperty(list(LANGUAGES))
    current = StringProperty("ja")
    columns = NumericProperty(2)

    def __init__(self, **kwargs: object) -> None:
        self.register_event_type("on_chosen")
        super().__init__(**kwargs)
        self.bind(languages=self._rebuild)
        self._rebuild()

    def _rebuild(self, *_: object) -> None:
        discard_children(self)
        for code in self.languages:
            button = LanguageButton(code=code, text=LANGUAGE_NAMES.get(code, code))
            button.bind(on_release=self._chosen)
            self.add_widget(button)

    def _chosen(self, button: LanguageButton) -> None:
        from kivy.app import App

        App.get_running_app().post(LanguageChosen(button.code))
        self.dispatch("on_chosen", button.code)

    def on_chosen(self, code: str) -> None:
        pass


class LanguagePicker(Overlay):
    languages = ListProperty(list(LANGUAGES))
    current = StringProperty("ja")


load_sibling_kv(__file__)
