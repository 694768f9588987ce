"""Drive a running Kivy app frame by frame with a generator — for the tour and UI tests.

Waiting is counted in frames and in "the layout stopped moving", never in wall-clock seconds: under load a
timed screenshot catches a half-laid-out (or black) frame, a frame-counted one does not.

A script is a generator; each ``yield`` waits one frame, ``yield n`` waits n frames,
``yield predicate`` waits until ``predicate()`` is true (at most ``MAX_WAIT_FRAMES``), and
``yield (predicate, frames)`` sets that limit.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.uix.label import Label
from kivy.uix.widget import Widget

MAX_WAIT_FRAMES = 600
Script = Generator[Any, None, None]


class ScriptTimeout(AssertionError):
    pass


def layout_signature(root: Widget) -> tuple:
    """Positions, sizes and label texture sizes of every widget: equal on two frames = settled."""
    signature = []
    for widget in root.walk():
        item = (tuple(widget.pos), tuple(widget.size))
        if isinstance(widget, Label):
            item += (tuple(widget.texture_size), widget.text)
        signature.append(item)
    return tuple(signature)


def settle(root: Widget, min_frames: int = 2, max_frames: int = 120) -> Iterator[Any]:
    """Yield frames until the layout is unchanged for two frames in a row."""
    for _ in range(min_frames):
        yield
    previous = layout_signature(root)
    for _ in range(max_frames):
        yield
        current = layout_signature(root)
        if current == previous:
            return
        previous = current
    raise ScriptTimeout("the layout did not settle")


def capture_window() -> tuple[tuple[int, int], bytes]:
    """Draw the window now and read its pixels back (RGB, bottom-up), on the UI thread.

    Drawing right before reading makes the capture independent of what the last swap left in the back
    buffer — the cause of black screenshots when shots are timed by the wall clock.
    """
    from kivy.core.window import Window
    from kivy.graphics.opengl import GL_PACK_ALIGNMENT, GL_RGB, GL_UNSIGNED_BYTE, glPixelStorei, glReadPixels

    Window.dispatch("on_draw")
    glPixelStorei(GL_PACK_ALIGNMENT, 1)
    width, height = (int(v) for v in Window.size)
    return (width, height), bytes(glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE))


def write_png(path: str, size: tuple[int, int], pixels: bytes) -> None:
    """Encode a ``capture_window`` result (safe on a worker thread: Pillow only, no GL)."""
    from PIL import Image

    image = Image.frombytes("RGB", size, pixels).transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    image.save(path, format="PNG", compress_level=3)


class FrameScript:
    """Runs ``script`` inside ``app`` (call ``run()`` instead of ``app.run()``); errors are re-raised."""

    def __init__(self, app: App, script: Callable[[], Script]) -> None:
        self.app = app
        self._factory = script
        self._generator: Script | None = None
        self._waiting: int = 0
        self._predicate: Callable[[], bool] | None = None
        self._predicate_frames = 0
        self._predicate_limit = MAX_WAIT_FRAMES
        self.error: BaseException | None = None
        self._event = None

    def run(self) -> None:
        self._event = Clock.schedule_interval(self._step, 0)
        try:
            self.app.run()
        finally:
            if self._event is not None:
                self._event.cancel()
        if self.error is not None:
            raise self.error

    def _step(self, _dt: float) -> None:
        if self.app.root is None:
            return
        if self._generator is None:
            self._generator = self._factory()
        if self._waiting > 0:
            self._waiting -= 1
            return
        if self._predicate is not None:
            if not self._predicate():
                self._predicate_frames += 1
                if self._predicate_frames > self._predicate_limit:
                    self._fail(ScriptTimeout(f"condition not met after {self._predicate_limit} frames, waiting at "
                                             f"{self._where()}"))
                return
            self._predicate = None
        try:
            request = next(self._generator)
        except StopIteration:
            self._finish()
            return
        except BaseException as exc:
            self._fail(exc)
            return
        if isinstance(request, tuple) and len(request) == 2 and callable(request[0]):
            self._predicate, self._predicate_frames, self._predicate_limit = request[0], 0, int(request[1])
        elif callable(request):
            self._predicate, self._predicate_frames, self._predicate_limit = request, 0, MAX_WAIT_FRAMES
        elif isinstance(request, int) and request > 1:
            self._waiting = request - 1

    def _where(self) -> str:
        """The script line that is waiting (the innermost ``yield from``), and what the app shows."""
        generator: Any = self._generator
        while getattr(generator, "gi_yieldfrom", None) is not None:
            generator = generator.gi_yieldfrom
        frame = getattr(generator, "gi_frame", None)
        place = f"{frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}" if frame is not None else "?"
        view = getattr(self.app, "view", None)
        return f"{place} (screen: {getattr(view, 'screen', None)})"

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        self._finish()

    def _finish(self) -> None:
        if self._event is not None:
            self._event.cancel()
            self._event = None
        self.app.stop()
