"""The configuration files the kiosk ships with, as package data (read with ``importlib.resources``).

Why links: ``config/`` at the repository root is the documented place operators read and copy, so the
files live there once; ``demo.toml``, ``kiosk.toml`` and ``cards/`` here are relative symbolic links to
it, which the wheel build turns into real files. An installed kiosk therefore finds the same files inside
its own package, and ``kiosk.config`` decides where they are and where state goes.
"""
