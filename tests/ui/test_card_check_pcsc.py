"""The real app driven by touches while the simulated card sits in pcscd's virtual reader (run mode:
PC/SC readers, the status-change watcher, one card worker)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from drivers.sim.card import SimulatedCard
from drivers.sim.profile import load_card_image
from drivers.sim.vpicc import VpiccServer
from kiosk.app.wiring import build_runtime
from kiosk.config import load_config
from kiosk.core.view import ReaderState, Screen
from kiosk.services import pcscd
from kiosk.ui.frames import FrameScript, settle
from tests.conftest import REPO
from tests.ui.card_check_script import ADULT_PIN, WAIT_FRAMES, GoodRevocation, on
from tests.ui.helpers import tap

pytestmark = [pytest.mark.ui, pytest.mark.pcsc]


def test_card_check_by_touch_through_pcscd(vpcd_readers) -> None:
    runtime = build_runtime(load_config(), demo=False, speaker=None, staff_hash="", revocation=GoodRevocation())
    card = SimulatedCard(load_card_image(REPO / "config" / "cards" / "adult.toml"))
    server = VpiccServer(card, port=pcscd.vpcd_port(0))

    def script() -> Iterator[Any]:
        app = runtime.app
        yield from settle(app.root)
        yield (lambda: app.view is not None and app.view.reader is ReaderState.READY), WAIT_FRAMES
        yield 30
        yield from tap(app.root.current.task_button("card_check"))
        yield on(runtime, Screen.INSERT_CARD)
        server.insert()  # the resident puts the card on the reader; pcscd notices on its next poll
        yield on(runtime, Screen.PIN_ENTRY)
        yield from settle(app.root)
        pad = {key.text: key for key in app.root.current.ids.entry.ids.pad.children}
        for digit in ADULT_PIN:
            yield from tap(pad[digit])
        yield from settle(app.root)
        yield from tap(app.root.current.ids.submit)
        yield on(runtime, Screen.RESULT)
        assert app.view.result is not None and app.view.result.verified
        server.remove()  # taking the card ends the session
        yield on(runtime, Screen.ATTRACT)

    runtime.start()
    try:
        FrameScript(runtime.app, script).run()
    finally:
        runtime.stop()
        if server.inserted:
            server.remove()
    assert runtime.dispatcher.errors == []
