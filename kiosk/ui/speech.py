"""Spoken guidance with espeak-ng: a kiosk is a closed system, residents cannot bring their own screen reader.

What is spoken is chosen by message KEY (each screen's ``speech()``), never from widget texts, so personal
data (the details on the result screen) cannot be read aloud by construction. The UI thread only puts a
request on a queue; one worker thread starts espeak-ng (no shell, text on stdin so nothing shows in
``ps``), and stops the previous utterance when a new screen arrives.

Voices: espeak-ng reads Japanese kana but says "Chinese letter" for kanji, so Japanese is spoken from the
やさしい日本語 catalog, which is written in kana; espeak-ng has no Tagalog voice, so Tagalog is spoken
from the English catalog (English is an official language of the Philippines).
"""

from __future__ import annotations

import logging
import queue
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from typing import Protocol

from kiosk.core.view import ViewState
from kiosk.ui.text import UiTranslator

log = logging.getLogger(__name__)

VOICES: dict[str, str] = {
    "ja": "ja",
    "ja-easy": "ja",
    "en": "en-us",
    "zh-Hans": "cmn",
    "ko": "ko",
    "vi": "vi",
    "pt-BR": "pt-br",
    "es": "es-419",
    "tl": "en-us",
    "id": "id",
}
SPOKEN_CATALOG: dict[str, str] = {"ja": "ja-easy", "tl": "en"}
RATE_WPM = 140  # slower than espeak-ng's 175: many users are older or not native speakers
_KANJI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")

Lines = list[tuple[str, dict]]


class Process(Protocol):
    def poll(self) -> int | None: ...

    def terminate(self) -> None: ...


Spawn = Callable[[list[str], str], Process]


def _spawn(command: list[str], text: str) -> Process:
    process = subprocess.Popen(  # noqa: S603 - fixed executable path, no shell, text on stdin
        command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    assert process.stdin is not None  # noqa: S101 - Popen with stdin=PIPE always has it
    try:
        process.stdin.write(text.encode("utf-8"))
        process.stdin.close()
    except BrokenPipeError:
        pass
    return process


def spoken_texts(language: str, lines: Lines) -> tuple[str, list[str]]:
    """(voice, sentences) for ``lines`` in ``language``; sentences espeak-ng cannot read are dropped."""
    voice = VOICES.get(language, "en-us")
    translate = UiTranslator(SPOKEN_CATALOG.get(language, language))
    texts = []
    for key, args in lines:
        text = translate(key, **args).strip()
        if not text or text == key:
            continue
        if voice == "ja" and _KANJI.search(text):
            log.debug("not speaking %s: it has kanji that espeak-ng cannot read", key)
            continue
        texts.append(text)
    return voice, texts


class Speaker:
    """Queue-fed espeak-ng runner; ``available`` is False (and everything a no-op) without espeak-ng."""

    def __init__(self, executable: str | None = "auto", rate: int = RATE_WPM, spawn: Spawn = _spawn) -> None:
        self.executable = shutil.which("espeak-ng") if executable == "auto" else executable
        self.rate = rate
        self._spawn = spawn
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._current: Process | None = None
        self._thread: threading.Thread | None = None

    @property
    def available(self) -> bool:
        return bool(self.executable)

    def say(self, language: str, lines: Lines) -> None:
        """Replace whatever is being said with ``lines`` (keys + arguments) in ``language``."""
        if not self.available:
            return
        voice, texts = spoken_texts(language, lines)
        self._drain()
        self._queue.put(("stop", ""))
        if texts:
            self._queue.put((voice, " ".join(texts)))
        self._ensure_thread()

    def stop(self) -> None:
        if self.available:
            self._drain()
            self._queue.put(("stop", ""))
            self._ensure_thread()

    def close(self) -> None:
        if self._thread is not None:
            self._drain()
            self._queue.put(("stop", ""))
            self._queue.put(None)
            self._thread.join(timeout=2)
            self._thread = None

    def _drain(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="speech", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            voice, text = item
            if self._current is not None and self._current.poll() is None:
                self._current.terminate()
            self._current = None
            if voice == "stop" or not self.executable:
                continue
            command = [self.executable, "-v", voice, "-s", str(self.rate), "--stdin"]
            try:
                self._current = self._spawn(command, text)
            except OSError as exc:
                log.warning("speech unavailable: %s", type(exc).__name__)


class Guide:
    """Decides WHEN to speak: on a new screen, message, language, warning — not on every re-render."""

    def __init__(self, speaker: Speaker | None) -> None:
        self.speaker = speaker
        self._last: tuple | None = None

    def update(self, view: ViewState, screen_lines: Lines) -> None:
        if self.speaker is None:
            return
        if not view.speech:
            if self._last is not None:
                self.speaker.stop()
            self._last = None
            return
        if view.idle_warning is not None:
            lines: Lines = [("idle.title", {})]
        elif view.staff_call == "failed":
            lines = [("staff.call.failed", {})]
        elif view.staff_called:
            lines = [("staff.called", {})]
        else:
            lines = screen_lines
        signature = (view.session_id, view.screen, view.language, tuple(k for k, _ in lines),
                     tuple(sorted((k, str(v)) for _, a in lines for k, v in a.items())))
        if signature != self._last:
            self._last = signature
            self.speaker.say(view.language, lines)

    def close(self) -> None:
        if self.speaker is not None:
            self.speaker.close()
