"""The counter's sign-in form (staff ID, password) and the supervisor's approval, which is the same form
plus a reason. The password is drawn as dots from its count only; the view never holds it."""

from __future__ import annotations

from kivy.properties import ListProperty, StringProperty

from kiosk.core.view import Screen, ViewState
from kiosk.ui.kv import discard_children, load_sibling_kv
from kiosk.ui.screens.base import KioskScreen, Speech
from kiosk.ui.widgets.base import KioskButton


def form_line(view: ViewState | None, field: str) -> str:
    """What a field shows: the staff ID as typed, the password as dots; a bar marks the field being typed."""
    clerk = view.clerk if view is not None else None
    if clerk is None:
        return ""
    text = clerk.username_entry if field == "username" else "●" * clerk.password_entered
    return text + ("｜" if clerk.editing == field else "")


class ReasonButton(KioskButton):
    reason = StringProperty("")


class _ClerkForm(KioskScreen):
    """What both forms say when they appear (each has its own kv rule)."""

    title_key = StringProperty("clerk.sign_in.title")

    def speech(self, view: ViewState) -> Speech:
        return [(self.title_key, {}), *self.message(view)]


class ClerkSignInScreen(_ClerkForm):
    screen = Screen.CLERK_SIGN_IN


class SupervisorScreen(_ClerkForm):
    screen = Screen.SUPERVISOR
    reasons = ListProperty([])
    chosen = StringProperty("")
    _language = ""

    def render(self, view: ViewState) -> None:
        pickup = view.pickup
        reasons = list(pickup.override_reasons) if pickup is not None else []
        chosen = (pickup.override_reason or "") if pickup is not None else ""
        shown = (reasons, chosen, view.language)
        if shown != (self.reasons, self.chosen, self._language) or not self.ids.reasons.children:
            self.reasons, self.chosen, self._language = reasons, chosen, view.language
            self._show_reasons()
        super().render(view)

    def _show_reasons(self) -> None:
        from kivy.app import App

        t = App.get_running_app().t
        box = self.ids.reasons
        discard_children(box)
        for reason in [self.chosen] if self.chosen else self.reasons:
            box.add_widget(ReasonButton(reason=reason, active=reason == self.chosen,
                                                text=t(f"pickup.reason_code.{reason}")))

    def reset(self) -> None:
        discard_children(self.ids.reasons)
        self.reasons, self.chosen = [], ""
        super().reset()


load_sibling_kv(__file__)
