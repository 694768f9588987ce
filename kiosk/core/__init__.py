"""Flows as explicit state machines: events in, immutable view state out. Never imports Kivy."""
