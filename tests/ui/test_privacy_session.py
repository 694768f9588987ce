"""After a session, nothing of the resident remains: not on screen, not in the view state, not in logs,
not in any file the run wrote. Shown only after the resident asked, and with the My Number masked."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.sim.profile import load_profile
from kiosk.app.wiring import build_runtime
from kiosk.config import load_config
from kiosk.core.view import Screen
from kiosk.ui.frames import FrameScript, settle
from tests.conftest import REPO
from tests.ui.card_check_script import WAIT_FRAMES, FrameLog, GoodRevocation, card_check, on
from tests.ui.helpers import files_written_since, tap

pytestmark = pytest.mark.ui
ADULT = load_profile(REPO / "config" / "cards" / "adult.toml")
SECRETS = (ADULT.resident.name, ADULT.resident.address, ADULT.resident.my_number)


def screen_texts() -> str:
    from kivy.core.window import Window

    return "\n".join(str(getattr(w, "text", "")) for top in Window.children for w in top.walk(restrict=False))


def test_nothing_of_the_resident_remains_after_the_session(caplog: pytest.LogCaptureFixture) -> None:
    import time

    began = time.time() - 1
    runtime = build_runtime(load_config(), demo=True, delay="off", speaker=None, staff_hash="",
                            revocation=GoodRevocation())
    seen: dict[str, str] = {}

    def script() -> Iterator[Any]:
        app = runtime.app
        yield from card_check(runtime, FrameLog())
        seen["result"] = screen_texts()
        app.root.current.ids.scroll.scroll_y = 0
        yield from settle(app.root)
        yield from tap(app.root.current.ids.toggle_details)
        yield on(runtime, Screen.PIN_ENTRY)
        yield from settle(app.root)
        pad = {key.text: key for key in app.root.current.ids.entry.ids.pad.children}
        for digit in ADULT.pins.card_info:
            yield from tap(pad[digit])
        yield from settle(app.root)
        yield from tap(app.root.current.ids.submit)
        yield (lambda: app.view.result is not None and app.view.result.details is not None), WAIT_FRAMES
        yield from settle(app.root)
        seen["details"] = screen_texts()
        yield from tap(app.root.current.ids.finish)
        # the card is still on the reader: "take your card", and nothing of the session on screen
        yield on(runtime, Screen.TAKE_CARD)
        yield from settle(app.root)
        seen["take_card"] = screen_texts() + repr(app.view)
        yield from tap(app.root.current.ids.title)  # a touch starts nothing while the card is in
        yield 5
        seen["take_card_screen"] = app.view.screen.value
        runtime.tray.remove()
        yield on(runtime, Screen.ATTRACT)
        yield from settle(app.root)
        yield 5
        seen["after"] = screen_texts() + repr(app.view)

    runtime.start()
    with caplog.at_level(logging.DEBUG):
        try:
            FrameScript(runtime.app, script).run()
        finally:
            runtime.stop()
    # nothing personal before the resident asked; then name and address, the My Number masked
    assert not any(secret in seen["result"] for secret in SECRETS)
    assert ADULT.resident.name in seen["details"] and ADULT.resident.address in seen["details"]
    assert ADULT.resident.my_number not in seen["details"]
    assert ADULT.resident.my_number[-4:] in seen["details"]
    assert runtime.app.t("take_card.title") in seen["take_card"] and seen["take_card_screen"] == "take_card"
    # and after the session: gone from the screen, the view state, the logs and every file written
    for secret in SECRETS:
        assert secret not in seen["take_card"]
        assert secret not in seen["after"]
        assert secret not in caplog.text
    written = files_written_since(Path(os.environ["KIVY_HOME"]), began) + files_written_since(REPO / "var", began)
    for path in written:
        data = path.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, path
