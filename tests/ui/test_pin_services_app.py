"""PIN services through the real app offscreen, by touch alone, in Japanese and two other languages: the
resident sees the four PINs' tries, changes the auth PIN on the pad, and is told by the card's answer that
it changed. The simulated card then accepts the new PIN and refuses the old one."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers import errors
from drivers.mynumber import aids
from drivers.mynumber.card import MyNumberCard
from drivers.sim.card import SimulatedCard
from drivers.sim.profile import load_card_image
from drivers.sim.transport import SimTransport
from kiosk.app.wiring import build_runtime
from kiosk.config import load_config
from kiosk.core.view import Screen
from kiosk.ui.frames import FrameScript, settle
from tests.conftest import REPO
from tests.ui.card_check_script import WAIT_FRAMES, on
from tests.ui.helpers import files_written_since, find, tap, texts_anywhere

pytestmark = pytest.mark.ui

CARDS = Path(__file__).resolve().parents[2] / "config" / "cards"

OLD_PIN, NEW_PIN = "1234", "4826"  # the synthetic adult card's auth PIN, and the one chosen here


def type_pin(runtime: Any, digits: str) -> Iterator[Any]:
    app = runtime.app
    yield from settle(app.root)
    pad = {key.text: key for key in app.root.current.ids.pad.children}
    for digit in digits:
        yield from tap(pad[digit])
    yield (lambda: app.view.pin is not None and app.view.pin.entered == len(digits)), WAIT_FRAMES
    yield from settle(app.root)
    yield from tap(app.root.current.ids.submit)


@pytest.mark.parametrize("language", ["ja", "en", "vi"])
def test_a_resident_changes_the_auth_pin_by_touch(language: str, caplog: pytest.LogCaptureFixture) -> None:
    began = time.time() - 1
    runtime = build_runtime(load_config(), demo=True, delay="off", speaker=None, staff_hash="")
    seen: list[Screen] = []
    runtime.flow.subscribe(lambda state: seen.append(state.screen))
    card = SimulatedCard(load_card_image(CARDS / "adult.toml"))

    def script() -> Iterator[Any]:
        app = runtime.app
        yield from settle(app.root)
        yield (lambda: app.view is not None and app.view.reader.value == "ready"), WAIT_FRAMES
        yield 30
        yield from tap(app.root.ids.header.ids.language)
        picker = app.overlay("language")
        yield from tap(next(b for b in picker.ids.grid.children if b.code == language))
        yield (lambda: app.view.language == language), WAIT_FRAMES
        yield from settle(app.root)
        yield from tap(app.root.current.task_button("pin_services"))
        yield on(runtime, Screen.INSERT_CARD)
        yield from settle(app.root)
        runtime.tray.insert(card)  # a card this test holds, to ask it afterwards which PIN it takes
        yield on(runtime, Screen.PIN_SERVICES)
        yield from settle(app.root)
        shown = texts_anywhere(app)
        for pin in ("auth", "sign", "card_info", "juki"):
            assert app.t(f"pinname.{pin}")[:4].lower() in shown.lower(), pin
        assert app.t("pin_service.menu") in shown
        rows = {row.pin: row for row in find(app.root.current, lambda w: w.__class__.__name__ == "PinServiceRow")}
        assert set(rows) == {"auth", "sign", "card_info", "juki"}
        auth = rows["auth"].tries
        # an unattended kiosk keeps the last try for the counter: it shows the tries usable here
        assert (auth.remaining, auth.usable) == (3, 2)
        assert rows["auth"].ids.row.ids.value.text == app.t("result.pin.tries", remaining=2, maximum=3)
        yield from tap(rows["auth"].change)
        yield on(runtime, Screen.PIN_CHANGE)
        yield from type_pin(runtime, OLD_PIN)
        yield (lambda: app.view.pin_services is not None and app.view.pin_services.entering == "new"), WAIT_FRAMES
        yield from type_pin(runtime, NEW_PIN)
        yield (lambda: app.view.pin is not None and app.view.pin.stage == 2), WAIT_FRAMES
        yield from type_pin(runtime, NEW_PIN)
        yield on(runtime, Screen.PIN_CHANGE_RESULT)
        yield from settle(app.root)
        services = app.view.pin_services
        assert [(line.pin, line.outcome, line.confirmed) for line in services.results] == [("auth", "changed", True)]
        assert app.root.current.ids.headline.text == app.t("pin_service.result.all_changed")
        assert NEW_PIN not in texts_anywhere(app) and OLD_PIN not in texts_anywhere(app)
        yield from tap(app.root.current.ids.finish)
        yield (lambda: app.view.screen in (Screen.TAKE_CARD, Screen.ATTRACT)), WAIT_FRAMES

    runtime.start()
    with caplog.at_level(logging.DEBUG):
        try:
            FrameScript(runtime.app, script).run()
        finally:
            runtime.stop()
    assert runtime.dispatcher.errors == []
    # neither PIN in any log line (APDU traces included) or in any file the run wrote
    said = "\n".join(caplog.messages)
    assert not re.search(rf"(?<!\d)({OLD_PIN}|{NEW_PIN})(?!\d)", said)
    for pin in (OLD_PIN, NEW_PIN):
        assert pin.encode().hex() not in said.replace(" ", "").lower()
    for path in files_written_since(Path(os.environ["KIVY_HOME"]), began) + files_written_since(REPO / "var", began):
        data = path.read_bytes()
        assert OLD_PIN.encode() not in data and NEW_PIN.encode() not in data, path
    order = [s for i, s in enumerate(seen) if i == 0 or seen[i - 1] is not s]
    assert Screen.VERIFYING in order and order.index(Screen.PIN_CHANGE) < order.index(Screen.PIN_CHANGE_RESULT)
    reader = MyNumberCard(SimTransport(card))
    with pytest.raises(errors.WrongPin):
        reader.jpki.verify(aids.AUTH_PIN, OLD_PIN)
    reader.jpki.verify(aids.AUTH_PIN, NEW_PIN)
