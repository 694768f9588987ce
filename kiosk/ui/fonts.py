"""Kivy's default font: the files ``kiosk.typeset.fonts`` chose, registered so every Label uses them.

The choice itself is Kivy-free (``kiosk.typeset.fonts``, shared with the receipt printer); only the
registration, which needs Kivy, lives on the UI side.
"""

from __future__ import annotations

from kiosk.typeset.fonts import FontChoice, choose_fonts


def register_default_font() -> FontChoice | None:
    """Make the chosen font Kivy's default, so every Label uses it without naming it (Kivy imported here)."""
    from kivy.core.text import DEFAULT_FONT, LabelBase

    choice = choose_fonts()
    if choice is not None:
        LabelBase.register(DEFAULT_FONT, str(choice.regular), fn_bold=str(choice.bold))
    return choice
