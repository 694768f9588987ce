"""The resident's card application and the status lookup on the real app, by touch, with the demo camera.

The kiosk is built by the composition root as ``kiosk demo`` builds it; the camera plays the pictures a test
puts in front of it; applications go through the real outbox and flusher to the reference server over
mutual TLS. What is asserted is what a resident sees (screens, texts) and what the server received.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from kiosk.app.wiring import build_runtime
from kiosk.core.view import Screen
from kiosk.ui.frames import settle
from tests.ui.application_script import (
    APPLICATION_ID,
    application_config,
    good_picture,
    id_by_qr,
    photo,
    show_to_camera,
    start_task,
    submit_with_consent,
    to_photo,
    to_review,
    type_keys,
)
from tests.ui.card_check_script import WAIT_FRAMES, GoodRevocation, on
from tests.ui.helpers import run_runtime, tap

pytestmark = pytest.mark.ui

EMAIL = "taro.shiken@example.jp"  # synthetic


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The kiosk's state folder (outbox, receipts) in this test's own folder."""
    folder = tmp_path / "state"
    monkeypatch.setenv("KIOSK_STATE_DIR", str(folder))
    return folder


@pytest.fixture
def central(tmp_path: Path, state: Path) -> Iterator[Any]:
    """The reference server on loopback (mTLS), for the kiosk to deliver to and look statuses up in."""
    from tests.services.real_central import RealCentral

    (tmp_path / "central").mkdir()
    server = RealCentral(tmp_path / "central").start()
    try:
        yield server
    finally:
        server.stop()


def kiosk(central: Any) -> Any:
    return build_runtime(application_config(central), demo=True, delay="off", speaker=None, staff_hash="",
                         revocation=GoodRevocation())




def stored_applications(database: Path) -> list[tuple[str, str, bool]]:
    """What the server stored: the ID's last 4 digits, the kiosk, whether a contact came (it is sealed)."""
    with closing(sqlite3.connect(database)) as db:
        rows = db.execute("SELECT application_id_last4, kiosk_id, contact_sealed IS NOT NULL FROM applications")
        return [(str(last4), str(kiosk), bool(contact)) for last4, kiosk, contact in rows]


@pytest.mark.server
def test_a_resident_applies_with_the_form_qr_code_and_the_camera_and_the_server_receives_it_once(
        central: Any, state: Path) -> None:
    from tests.services.real_central import KIOSK_ID

    seen: dict[str, Any] = {}
    runtime = kiosk(central)

    def script() -> Iterator[Any]:
        app = runtime.app
        yield from start_task(runtime, "application")
        seen["preview_running"] = app.root.current.ids.preview.running
        yield from id_by_qr(runtime)
        seen["confirm"] = app.root.current.ids.value.text
        seen["from_qr"] = app.root.current.ids.from_qr.text
        yield from tap(app.root.current.ids.continue_)
        yield on(runtime, Screen.PHOTO)
        yield from photo(runtime, good_picture())
        seen["photo_outcome"] = app.root.current.ids.outcome.text
        yield from to_review(runtime, email=EMAIL)
        seen["review_email"] = app.root.current.ids.email.value
        seen["review_id"] = app.root.current.ids.application_id.value
        yield from tap(app.root.current.ids.submit)  # no consent yet: nothing is sent
        yield 5
        seen["without_consent"] = (app.view.screen, app.root.current.ids.message.text)
        yield from tap(app.root.current.ids.consent)
        yield from settle(app.root)
        yield from tap(app.root.current.ids.submit)
        yield on(runtime, Screen.RECEIPT)
        yield from settle(app.root)
        seen["receipt_reference"] = app.root.current.ids.reference.text
        seen["receipt_id"] = app.root.current.ids.masked_id.text
        yield (lambda: app.view.receipt is not None and app.view.receipt.state == "delivered"), WAIT_FRAMES
        yield from settle(app.root)
        seen["receipt_state"] = app.root.current.ids.state.text
        yield from tap(app.root.current.ids.print_receipt)  # demo printer: a PDF in the state folder
        yield (lambda: app.view.receipt is not None and app.view.receipt.printing == "printed"), WAIT_FRAMES
        yield from settle(app.root)
        seen["printed"] = (app.root.current.ids.printing.text, app.root.current.ids.print_receipt.disabled)
        yield from tap(app.root.current.ids.finish)
        yield on(runtime, Screen.ATTRACT)
        # later, the same resident asks where the application is: by the keypad this time
        yield from start_task(runtime, "status")
        yield from tap(app.root.current.ids.type_instead)
        yield on(runtime, Screen.ID_KEYPAD)
        yield from type_keys(runtime, APPLICATION_ID)
        yield from tap(app.root.current.ids.submit)
        yield on(runtime, Screen.ID_CONFIRM)
        yield from settle(app.root)
        yield from tap(app.root.current.ids.continue_)
        yield on(runtime, Screen.STATUS_RESULT)
        yield from settle(app.root)
        seen["status"] = (app.root.current.ids.masked_id.text, app.root.current.ids.status.text)

    run_runtime(runtime, script)
    received = stored_applications(central.database)
    t = runtime.app.t
    assert seen["preview_running"] is True
    assert seen["confirm"].replace(" ", "") == APPLICATION_ID and seen["from_qr"] == t("id.confirm.from_qr")
    assert seen["photo_outcome"] == t("photo.review.passed")
    assert seen["without_consent"] == (Screen.REVIEW, t("review.consent_needed"))
    assert EMAIL in seen["review_email"] and APPLICATION_ID in seen["review_id"].replace(" ", "")
    assert APPLICATION_ID not in seen["receipt_id"].replace(" ", "") and seen["receipt_id"].endswith("123")
    assert seen["receipt_state"] == t("receipt.state.delivered")
    assert seen["printed"] == (t("receipt.printed"), True)  # printed once: no second slip by a double tap
    slips = list((state / "receipts").glob("*.pdf"))
    assert len(slips) == 1 and slips[0].stat().st_mode & 0o077 == 0
    assert received == [(APPLICATION_ID[-4:], KIOSK_ID, True)]
    assert APPLICATION_ID not in seen["status"][0].replace(" ", "") and seen["status"][0].endswith("123")
    assert seen["status"][1] == t("status.received")


def test_the_id_typed_by_a_barcode_scanner_starts_the_application_and_its_enter_is_not_part_of_it(
        central: Any) -> None:
    runtime = kiosk(central)
    seen: dict[str, Any] = {}

    def script() -> Iterator[Any]:
        from kivy.core.window import Window

        from tests.ui.application_script import at_attract

        app = runtime.app
        yield from at_attract(runtime)
        Window.dispatch("on_textinput", APPLICATION_ID)  # the scanner "types" the code ...
        Window.dispatch("on_keyboard", 13, 40, None, [])  # ... and presses Enter (SDL: keycode 13, scancode 40)
        yield on(runtime, Screen.ID_CONFIRM)
        yield from settle(app.root)
        seen["confirm"] = app.root.current.ids.value.text
        seen["view_id"] = app.view.id_entry.value if app.view.id_entry else None

    run_runtime(runtime, script)
    assert seen["confirm"].replace(" ", "") == APPLICATION_ID and seen["view_id"] == APPLICATION_ID


def test_a_mistyped_id_on_the_keypad_says_how_many_digits_and_can_be_corrected(central: Any) -> None:
    runtime = kiosk(central)
    seen: dict[str, Any] = {}

    def script() -> Iterator[Any]:
        app = runtime.app
        yield from start_task(runtime, "application")
        yield from tap(app.root.current.ids.type_instead)
        yield on(runtime, Screen.ID_KEYPAD)
        yield from type_keys(runtime, APPLICATION_ID[:-1])
        yield from tap(app.root.current.ids.submit)
        yield 5
        yield from settle(app.root)
        seen["short"] = (app.view.screen, app.root.current.ids.error.text)
        yield from type_keys(runtime, APPLICATION_ID[-1])
        yield from tap(app.root.current.ids.submit)
        yield on(runtime, Screen.ID_CONFIRM)
        yield from settle(app.root)
        seen["confirm"] = (app.root.current.ids.value.text, app.root.current.ids.from_qr.text)

    run_runtime(runtime, script)
    t = runtime.app.t
    assert seen["short"] == (Screen.ID_KEYPAD, t("id.error.wrong_length", count=22))
    assert seen["confirm"][0].replace(" ", "") == APPLICATION_ID and seen["confirm"][1] == ""


def test_a_qr_code_that_is_not_an_application_id_is_refused_in_plain_words(central: Any) -> None:
    from kiosk.defaults.camera import demo_code_picture

    runtime = kiosk(central)
    seen: dict[str, Any] = {}

    def script() -> Iterator[Any]:
        app = runtime.app
        yield from start_task(runtime, "application")
        show_to_camera(runtime, demo_code_picture("https://example.invalid/not-a-form"))
        yield (lambda: app.view.id_entry is not None and app.view.id_entry.error_key is not None), WAIT_FRAMES
        yield from settle(app.root)
        seen["error"] = (app.view.screen, app.root.current.ids.error.text)

    run_runtime(runtime, script)
    assert seen["error"] == (Screen.ID_SCAN, runtime.app.t("id.error.not_an_id"))


def test_every_kind_of_photo_problem_shows_its_fix_and_a_retake_then_passes(central: Any) -> None:
    from tests.support.faces import FRAME_VARIANTS

    failing = {name: (make, check) for name, (make, check) in FRAME_VARIANTS.items() if check is not None}
    runtime = kiosk(central)
    shown: dict[str, tuple[str, list[str], bool]] = {}
    seen: dict[str, Any] = {}

    def script() -> Iterator[Any]:
        app = runtime.app
        yield from to_photo(runtime)
        for name, (make, _check) in failing.items():
            yield from photo(runtime, make())
            screen = app.root.current
            fixes = [w.text for w in screen.ids.fixes.children]
            shown[name] = (screen.ids.outcome.text, fixes, screen.ids.use.disabled)
            yield from tap(screen.ids.retake)
            yield on(runtime, Screen.PHOTO)
        yield from photo(runtime, good_picture())
        seen["last"] = (app.root.current.ids.outcome.text, app.root.current.ids.use.disabled)

    run_runtime(runtime, script)
    t = runtime.app.t
    for name, (_make, check) in failing.items():
        outcome, fixes, use_disabled = shown[name]
        assert outcome == t("photo.review.failed"), name
        assert t(f"photo.fix.{check}") in fixes, (name, fixes)
        assert use_disabled, name
    assert seen["last"] == (t("photo.review.passed"), False)


BRAILLE = "シケンハナコ"  # synthetic


def screen_texts() -> str:
    from kivy.core.window import Window

    return "\n".join(str(getattr(w, "text", "")) for top in Window.children for w in top.walk(restrict=False))


def test_after_an_application_nothing_of_the_resident_remains_on_screen_in_logs_or_files(
        tmp_path: Path, central: Any, caplog: pytest.LogCaptureFixture) -> None:
    """The ID, the e-mail, the braille name and the photo: not on screen or in the view after the session,
    not in any log line, and in no file the kiosk, Kivy or the server wrote (the outbox and the server
    store them sealed)."""
    import base64
    import logging
    import os
    import time

    began = time.time() - 1
    runtime = kiosk(central)
    seen: dict[str, Any] = {}

    def script() -> Iterator[Any]:
        app = runtime.app
        yield from to_photo(runtime)
        yield from photo(runtime, good_picture())
        yield from to_review(runtime, email=EMAIL, braille=BRAILLE)
        seen["photo"] = app.view.application.photo_jpeg
        seen["review"] = screen_texts()
        yield from submit_with_consent(runtime)
        yield (lambda: app.view.receipt is not None and app.view.receipt.state == "delivered"), WAIT_FRAMES
        yield from tap(app.root.current.ids.finish)
        yield on(runtime, Screen.ATTRACT)
        yield from settle(app.root)
        yield 5
        seen["after"] = screen_texts() + repr(app.view)
        root = app.root
        seen["textures"] = [root.screen(s).photo_texture for s in (Screen.PHOTO_REVIEW, Screen.REVIEW)]
        seen["previews"] = [root.screen(s).ids.preview.texture for s in (Screen.ID_SCAN, Screen.PHOTO)]

    with caplog.at_level(logging.DEBUG):
        run_runtime(runtime, script)
    photo_bytes = seen["photo"]
    assert isinstance(photo_bytes, bytes) and len(photo_bytes) > 20_000  # a real JPEG went through
    review = seen["review"]
    assert APPLICATION_ID in review.replace(" ", "") and BRAILLE in review and EMAIL in review  # shown while needed
    secrets = (APPLICATION_ID, BRAILLE, EMAIL, base64.b64encode(photo_bytes[:600]).decode("ascii"))
    for secret in secrets:
        assert secret not in seen["after"].replace(" ", "")
        assert secret not in caplog.text
    assert seen["textures"] == [None, None] and seen["previews"] == [None, None]
    folders = [tmp_path, Path(os.environ["KIVY_HOME"])]
    written = [p for folder in folders for p in folder.rglob("*") if p.is_file() and p.stat().st_mtime >= began]
    assert any(p.name.startswith("outbox") for p in written)  # the outbox is among the files searched
    for path in written:
        data = path.read_bytes()
        for secret in (APPLICATION_ID.encode(), BRAILLE.encode(), EMAIL.encode(), photo_bytes[200:264]):
            assert secret not in data, path


@pytest.mark.server
def test_with_the_server_down_the_receipt_says_queued_and_turns_delivered_when_it_is_back(
        central: Any, state: Path) -> None:
    runtime = kiosk(central)
    seen: dict[str, Any] = {}

    def script() -> Iterator[Any]:
        app = runtime.app
        yield from to_photo(runtime)
        yield from photo(runtime, good_picture())
        yield from to_review(runtime)
        central.stop()  # the network goes down just before the resident submits
        yield from submit_with_consent(runtime)
        yield 120  # two seconds of a kiosk that cannot reach its server
        yield from settle(app.root)
        seen["down"] = (app.view.receipt.state, app.root.current.ids.state.text)
        central.start()
        yield (lambda: app.view.receipt is not None and app.view.receipt.state == "delivered"), WAIT_FRAMES
        yield from settle(app.root)
        seen["back"] = app.root.current.ids.state.text

    run_runtime(runtime, script)
    t = runtime.app.t
    assert seen["down"] == ("queued", t("receipt.state.queued"))
    assert seen["back"] == t("receipt.state.delivered")
    assert central.count("applications") == 1
