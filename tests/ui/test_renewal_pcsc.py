"""Renewal with an existing card, by touch on the real app: the simulated card in pcscd's virtual reader
signs the application, the outbox delivers it over mutual TLS, and the reference server — trusting the
simulator's test JPKI CAs, with their CRLs imported — verifies chain, revocation and signature."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.sim.card import SimulatedCard
from drivers.sim.profile import load_card_image, load_profile
from drivers.sim.vpicc import VpiccServer
from kiosk.app.wiring import build_runtime
from kiosk.core.view import ReaderState, Screen
from kiosk.services import pcscd
from kiosk.ui.frames import settle
from tests.conftest import REPO
from tests.services.real_central import city_trusting_the_simulator
from tests.ui.application_script import application_config, good_picture, photo, to_review
from tests.ui.card_check_script import WAIT_FRAMES, GoodRevocation, on, type_on_pad
from tests.ui.helpers import run_runtime, tap

pytestmark = [pytest.mark.ui, pytest.mark.pcsc, pytest.mark.server]

PROFILE = REPO / "config" / "cards" / "renewal-due.toml"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("KIOSK_STATE_DIR", str(folder))
    return folder


def test_a_renewal_signed_by_the_card_through_pcscd_is_verified_and_stored_by_the_server(
        vpcd_readers: list[str], tmp_path: Path, state: Path) -> None:
    central = city_trusting_the_simulator(tmp_path / "city")
    card = SimulatedCard(load_card_image(PROFILE))
    reader = VpiccServer(card, port=pcscd.vpcd_port(0))
    auth_pin = load_profile(PROFILE).pins.auth
    seen: dict[str, Any] = {}
    try:
        runtime = build_runtime(application_config(central), demo=False, speaker=None, staff_hash="",
                                revocation=GoodRevocation())

        def script() -> Iterator[Any]:
            app = runtime.app
            yield from settle(app.root)
            yield (lambda: app.view is not None and app.view.reader is ReaderState.READY), WAIT_FRAMES
            yield 30
            yield from tap(app.root.current.task_button("renewal"))
            yield on(runtime, Screen.INSERT_CARD)
            reader.insert()  # the resident puts the card on the reader; pcscd notices on its next poll
            yield on(runtime, Screen.RENEWAL_CHECK)
            yield from settle(app.root)
            seen["check"] = (app.root.current.ids.status.text, app.view.renewal.expires)
            yield from tap(app.root.current.ids.continue_)
            yield on(runtime, Screen.PHOTO)
            yield from photo(runtime, good_picture())
            yield from to_review(runtime)
            seen["review_id"] = app.root.current.ids.application_id.value
            yield from tap(app.root.current.ids.consent)
            yield from settle(app.root)
            yield from tap(app.root.current.ids.submit)
            yield on(runtime, Screen.PIN_ENTRY)
            seen["pin_prompt"] = app.view.message_key
            yield from type_on_pad(runtime, auth_pin)
            yield on(runtime, Screen.RECEIPT)
            yield (lambda: app.view.receipt is not None and app.view.receipt.state == "delivered"), WAIT_FRAMES
            yield from settle(app.root)
            seen["receipt"] = (app.root.current.ids.state.text, app.root.current.ids.masked_id.text)
            seen["renewals"] = central.renewals()

        run_runtime(runtime, script)
    finally:
        if reader.inserted:
            reader.remove()
        central.stop()
    t = runtime.app.t
    text, expires = seen["check"]
    assert expires is not None and text == t("renewal.check.eligible", expires=expires)
    assert seen["review_id"] == ""  # a renewal by card has no application ID
    assert seen["pin_prompt"] == "renewal.pin"
    assert seen["receipt"] == (t("receipt.state.delivered"), "")
    renewals = seen["renewals"]
    assert len(renewals) == 1 and renewals[0][3] == "received" and renewals[0][4] == 1  # the nonce used once
    assert card.pin("jpki", 0x0018).remaining == 3  # the right PIN, first time: no try spent
