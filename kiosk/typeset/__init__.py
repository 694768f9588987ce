"""Typesetting without Kivy: font files and kinsoku line breaking shared by the screens and the printer.

Neutral ground between the UI (``kiosk.ui``, which draws with Kivy) and the services (the receipt printer
draws with Pillow): the layer contracts keep services out of ``kiosk.ui`` and keep this package free of
Kivy, network and composition-root imports, so both sides break lines and pick fonts the same way.
"""
