"""The idle screen: what this kiosk does, one big button per task it offers, every language at first sight.

The buttons come from ``ViewState.tasks`` (the shell lists the tasks that exist); a task that does not
exist yet is simply absent.
"""

from __future__ import annotations

from kivy.properties import StringProperty

from kiosk.core.events import Start
from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech
from kiosk.ui.widgets.base import KioskButton


class TaskButton(KioskButton):
    """One task the kiosk offers (``kiosk.core.flows.TASKS``); its words come from ``keys.TASK_KEYS``."""

    task = StringProperty("")


class AttractScreen(KioskScreen):
    screen = Screen.ATTRACT

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._shown_tasks: tuple[str, ...] | None = None
        self._task_buttons: dict[str, TaskButton] = {}

    def render(self, view: ViewState) -> None:
        super().render(view)
        if view.tasks != self._shown_tasks:
            self._shown_tasks = view.tasks
            box = self.ids.tasks
            box.clear_widgets()
            for task in view.tasks:
                button = self._task_buttons.get(task)
                if button is None:  # made once, reused (see PinPad: kivy/kivy#3305)
                    button = self._task_buttons[task] = TaskButton(task=task)
                    button.bind(on_release=lambda b: self._start(b.task))
                box.add_widget(button)

    def task_button(self, task: str) -> TaskButton:
        """The button that starts ``task`` (for the tour and the UI tests)."""
        return next(b for b in self.ids.tasks.children if isinstance(b, TaskButton) and b.task == task)

    @staticmethod
    def _start(task: str) -> None:
        from kivy.app import App

        App.get_running_app().post(Start(task))

    def speech(self, view: ViewState) -> Speech:
        if view.message_key:  # out of service: say so instead of inviting a card
            return [("attract.title", {}), (view.message_key, {})]
        return [("attract.title", {}), ("attract.subtitle", {})]


load_sibling_kv(__file__)
