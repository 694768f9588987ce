"""Spoken guidance: the right voice and words per language, no shell, only on changes, never personal data."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from dataclasses import replace

import pytest

from kiosk.core.view import Screen
from kiosk.i18n import LANGUAGES
from kiosk.ui.samples import sample_state
from kiosk.ui.speech import VOICES, Guide, Speaker, spoken_texts

pytestmark = pytest.mark.ui


class FakeProcess:
    def __init__(self) -> None:
        self.terminated = False

    def poll(self) -> int | None:
        return None if not self.terminated else 0

    def terminate(self) -> None:
        self.terminated = True


class Spawned:
    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str, FakeProcess]] = []
        self.event = threading.Event()

    def __call__(self, command: list[str], text: str) -> FakeProcess:
        process = FakeProcess()
        self.calls.append((command, text, process))
        self.event.set()
        return process

    def wait(self, count: int) -> None:
        deadline = time.monotonic() + 5
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.calls) >= count


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_a_voice_and_speakable_words(language: str) -> None:
    voice, texts = spoken_texts(language, [("insert.title", {}), ("card.keep_still", {})])
    assert voice == VOICES[language]
    assert len(texts) == 2 and all(texts)


def test_japanese_is_spoken_from_the_kana_catalog_and_tagalog_in_english() -> None:
    _, japanese = spoken_texts("ja", [("insert.title", {})])
    assert japanese == ["カードを おいて ください"]
    voice, tagalog = spoken_texts("tl", [("staff.call", {})])
    assert (voice, tagalog) == ("en-us", ["Call staff"])


def test_espeak_runs_without_a_shell_and_reads_stdin() -> None:
    spawned = Spawned()
    speaker = Speaker(executable="/usr/bin/espeak-ng", spawn=spawned)
    speaker.say("vi", [("insert.title", {})])
    spawned.wait(1)
    command, text, _ = spawned.calls[0]
    assert command == ["/usr/bin/espeak-ng", "-v", "vi", "-s", "140", "--stdin"]
    assert text == "Vui lòng đặt thẻ lên đầu đọc thẻ"
    speaker.say("vi", [("card.keep_still", {})])
    spawned.wait(2)
    assert spawned.calls[0][2].terminated  # a new screen interrupts the old sentence
    speaker.close()


def test_without_espeak_speech_is_a_silent_no_op() -> None:
    speaker = Speaker(executable=None)
    assert not speaker.available
    speaker.say("ja", [("insert.title", {})])
    speaker.close()


class RecordingSpeaker(Speaker):
    def __init__(self) -> None:
        super().__init__(executable=None)
        self.said: list[tuple[str, list]] = []
        self.stopped = 0

    def say(self, language: str, lines: list) -> None:
        self.said.append((language, lines))

    def stop(self) -> None:
        self.stopped += 1


def test_the_guide_speaks_on_changes_only_and_stops_when_switched_off() -> None:
    speaker = RecordingSpeaker()
    guide = Guide(speaker)
    view = sample_state(Screen.INSERT_CARD, "en")
    guide.update(view, [("insert.title", {})])
    guide.update(view, [("insert.title", {})])  # a re-render: silence
    assert len(speaker.said) == 1
    guide.update(replace(view, language="ko"), [("insert.title", {})])
    assert speaker.said[-1][0] == "ko"
    guide.update(replace(view, idle_warning=10), [("insert.title", {})])
    assert speaker.said[-1][1] == [("idle.title", {})]
    guide.update(replace(view, speech=False), [("insert.title", {})])
    assert speaker.stopped == 1


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_the_real_espeak_accepts_every_voice(tmp_path) -> None:
    for voice in sorted(set(VOICES.values())):
        wav = tmp_path / f"{voice}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), "--stdin"], input=b"1 2 3", check=True,
                       capture_output=True, timeout=20)
        assert wav.stat().st_size > 1000, voice
