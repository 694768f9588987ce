"""The My Number card counter kiosk application."""

__version__ = "0.1.0"
