"""Tests of the Kivy-free typesetting package (``kiosk.typeset``)."""
