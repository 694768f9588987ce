"""The "Do you need more time?" warning: one big button, a countdown, and the way out.

Time limits are a barrier for older residents (JIS X 8341 and WCAG 2.2.1 ask to warn and to extend on
request), so the warning is impossible to miss: it covers the screen, the extend button is the largest
thing on it, and the seconds left are shown and updated by the flow.
"""

from __future__ import annotations

from kivy.properties import NumericProperty

from kiosk.ui.kv import load_sibling_kv
from kiosk.ui.widgets.overlay import Overlay


class IdleWarning(Overlay):
    seconds = NumericProperty(0)


load_sibling_kv(__file__)
