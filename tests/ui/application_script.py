"""A resident's card application by touch on the real app: the steps shared by the application UI tests.

The kiosk is the one ``kiosk demo`` builds (the composition root), with the demo camera playing pictures
a test puts in front of it (``FileCamera.show``) and, where a test needs it, the reference server on
loopback over mutual TLS.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kiosk.app.wiring import Runtime
from kiosk.config import CameraSection, KioskConfig, ServerSection, load_config
from kiosk.core.view import Screen
from kiosk.ui.frames import settle
from tests.ui.card_check_script import WAIT_FRAMES, on
from tests.ui.helpers import tap

APPLICATION_ID = "12345678901234567890123"  # synthetic: no real form has it


def application_config(central: Any = None, *, countdown: int = 0) -> KioskConfig:
    """The demo configuration, with no photo countdown (tests need no "3, 2, 1") and, given a
    ``RealCentral``, its URL, CA and this kiosk's client certificate."""
    from tests.services.real_central import KIOSK_ID

    base = load_config()
    config = dataclasses.replace(base, camera=CameraSection(kind="files", countdown_seconds=countdown),
                                 kiosk=dataclasses.replace(base.kiosk, id=KIOSK_ID))
    if central is not None:
        options = central.client_options()
        config = dataclasses.replace(config, server=ServerSection(
            url=central.url, ca_bundle=str(options["ca_bundle"]), client_cert=str(options["client_cert"]),
            client_key=str(options["client_key"])))
    return config


def screen_is(runtime: Runtime, screen: Screen) -> Any:
    return on(runtime, screen)


def at_attract(runtime: Runtime) -> Iterator[Any]:
    app = runtime.app
    yield from settle(app.root)
    yield (lambda: app.view is not None and app.view.screen is Screen.ATTRACT), WAIT_FRAMES
    yield 30  # let the screen prebuild finish (it runs one screen per frame at start)


def start_task(runtime: Runtime, task: str) -> Iterator[Any]:
    yield from at_attract(runtime)
    yield from tap(runtime.app.root.current.task_button(task))
    yield on(runtime, Screen.ID_SCAN)
    yield from settle(runtime.app.root)


def show_to_camera(runtime: Runtime, picture: Any) -> None:
    runtime.camera.show(picture)


def type_keys(runtime: Runtime, text: str) -> Iterator[Any]:
    """Press the on-screen keys (the ID screen's digit pad, or the text screen's keyboard) for ``text``."""
    app = runtime.app
    yield from settle(app.root)
    ids = app.root.current.ids
    keys = {key.text: key for key in (ids.pad if "pad" in ids else ids.keyboard).children}
    for char in text:
        assert char in keys, f"no key {char!r} on {app.view.screen}"
        yield from tap(keys[char])


def id_by_qr(runtime: Runtime, application_id: str = APPLICATION_ID) -> Iterator[Any]:
    from kiosk.defaults.camera import demo_code_picture

    show_to_camera(runtime, demo_code_picture(application_id))
    yield on(runtime, Screen.ID_CONFIRM)
    yield from settle(runtime.app.root)


def photo(runtime: Runtime, picture: Any) -> Iterator[Any]:
    """On the photo screen: put ``picture`` in front of the camera, wait for its guidance, take it."""
    app = runtime.app
    show_to_camera(runtime, picture)
    yield (lambda: app.view.photo is not None and app.view.photo.live
           and app.view.photo.guidance is not None), WAIT_FRAMES
    yield 10
    yield from tap(app.root.current.ids.take)
    yield on(runtime, Screen.PHOTO_REVIEW)
    yield from settle(app.root)


def good_picture() -> Any:
    from tests.support.faces import FRAME_VARIANTS

    return FRAME_VARIANTS["good"][0]()


def to_photo(runtime: Runtime) -> Iterator[Any]:
    """From the attract screen to the photo screen, the ID read from the form's QR code."""
    yield from start_task(runtime, "application")
    yield from id_by_qr(runtime)
    yield from tap(runtime.app.root.current.ids.continue_)
    yield on(runtime, Screen.PHOTO)


def fill_in(runtime: Runtime, field: str, text: str) -> Iterator[Any]:
    """On the details screen: change ``field`` ("email", "braille") on the on-screen keyboard."""
    app = runtime.app
    yield from tap(getattr(app.root.current.ids, field).ids.change)
    yield on(runtime, Screen.TEXT_ENTRY)
    yield from type_keys(runtime, text)
    yield from tap(app.root.current.ids.done)
    yield on(runtime, Screen.DETAILS)
    yield from settle(app.root)


def to_review(runtime: Runtime, email: str | None = None, braille: str | None = None) -> Iterator[Any]:
    """From the photo review (a passed photo) through the details to the review screen."""
    app = runtime.app
    yield from tap(app.root.current.ids.use)
    yield on(runtime, Screen.DETAILS)
    yield from settle(app.root)
    for field, text in (("email", email), ("braille", braille)):
        if text is not None:
            yield from fill_in(runtime, field, text)
    yield from tap(app.root.current.ids.next)
    yield on(runtime, Screen.REVIEW)
    yield from settle(app.root)


def submit_with_consent(runtime: Runtime) -> Iterator[Any]:
    """On the review screen: agree, send, and wait for the receipt."""
    app = runtime.app
    yield from tap(app.root.current.ids.consent)
    yield from settle(app.root)
    yield from tap(app.root.current.ids.submit)
    yield on(runtime, Screen.RECEIPT)
    yield from settle(app.root)


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


__all__ = ["APPLICATION_ID", "application_config", "at_attract", "files_under", "fill_in", "good_picture", "id_by_qr",
           "photo", "show_to_camera", "start_task", "submit_with_consent", "to_photo", "to_review", "type_keys"]
