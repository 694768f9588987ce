"""The live camera picture with the guide drawn over it (a frame for the QR code, an oval for the face).

The widget only draws what the camera's ``latest()`` gives (``kiosk.core.ports.Camera``, handed to the app
by the composition root): a poll at ``PREVIEW_FPS`` on the UI thread copies the newest frame into a texture
— ``latest`` never blocks, and a frame already drawn is not copied again. Nothing is kept between sessions:
``clear()`` drops the texture (a face is personal data).
"""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.graphics.texture import Texture
from kivy.properties import BooleanProperty, ListProperty, ObjectProperty, StringProperty
from kivy.uix.widget import Widget

from kiosk.ui.kv import load_sibling_kv

PREVIEW_FPS = 15


class CameraPreview(Widget):
    camera = ObjectProperty(None, allownone=True)  # kiosk.core.ports.Camera
    texture = ObjectProperty(None, allownone=True)
    guide = StringProperty("face")  # "face": an oval; "code": a square frame for the QR code
    face = ListProperty([])  # x, y, w, h as fractions of the frame, top-left origin (LiveGuidance.face)
    ready = BooleanProperty(False)  # the live checks pass: the guide turns green
    running = BooleanProperty(False)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._event: Any = None
        self._seq = -1

    def on_running(self, _instance: object, running: bool) -> None:
        if running and self._event is None:
            self._event = Clock.schedule_interval(self._poll, 1.0 / PREVIEW_FPS)
        elif not running:
            self.clear()

    def clear(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None
        self.texture = None
        self._seq = -1

    def _poll(self, _dt: float) -> None:
        camera = self.camera
        frame = camera.latest() if camera is not None else None
        if frame is None or frame.seq == self._seq:
            return
        self._seq = frame.seq
        texture = self.texture
        if texture is None or tuple(texture.size) != (frame.width, frame.height):
            texture = Texture.create(size=(frame.width, frame.height), colorfmt="rgb")
            texture.flip_vertical()  # frames come top row first; textures are drawn bottom row first
        texture.blit_buffer(frame.rgb, colorfmt="rgb", bufferfmt="ubyte")
        self.texture = texture
        self.canvas.ask_update()


load_sibling_kv(__file__)
