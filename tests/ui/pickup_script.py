"""The clerk's counter (交付) by touch on the real app: the steps shared by the pickup UI tests.

The kiosk is the one ``kiosk run`` builds for ``[kiosk] station = "counter"`` (the composition root) with
PC/SC readers: the new card is a simulated one served to pcscd's virtual reader, the central server the
reference one on loopback over mutual TLS. Everything is typed or tapped on the widgets on screen: the
staff ID and password on the form's keyboard, the notice number on the lookup keyboard, the resident's
PINs on the PIN pad (and the sign password on its A–Z/0–9 keyboard).

Synthetic residents only (config/cards/new-card*.toml); every password is made per test.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from drivers.sim.faults import CardPulled, Icc, IccWrapper
from kiosk.app.wiring import Runtime, build_runtime
from kiosk.config import CameraSection, KioskConfig, PrinterSection, ServerSection, load_config
from kiosk.core.view import Screen, ViewState
from kiosk.ui.frames import settle
from tests.conftest import REPO
from tests.ui.card_check_script import WAIT_FRAMES, on
from tests.ui.helpers import tap, visible, window_point

NEW_CARD = REPO / "config" / "cards" / "new-card.toml"
NEW_CARD_CHILD = REPO / "config" / "cards" / "new-card-child.toml"
# The resident's choice on the PIN panel (synthetic): three different 4-digit PINs and a sign password.
PINS = {"auth": "4821", "card_info": "5932", "juki": "6043", "sign": "KOUFU2026"}
WRONG_PASSWORD = "not-the-password-1"  # 10+ characters: the form takes it; the server refuses it
INS_SET_FIRST_PIN = 0x24  # CHANGE REFERENCE DATA: how the simulator takes a first PIN (issuance.py)
INS_READ_BINARY = 0xB0


# --- the kiosk and the server ------------------------------------------------------------------------------


def counter_config(central: Any) -> KioskConfig:
    """config/counter-demo.toml as ``kiosk run`` would use it against ``central`` (a ``RealCentral``): this
    kiosk's id and client certificate, no printer, no camera, and an outbox that retries within a second
    (the tests wait for the server to come back, not for a five-minute backoff)."""
    from tests.services.real_central import KIOSK_ID

    base = load_config(REPO / "config" / "counter-demo.toml")
    options = central.client_options()
    return dataclasses.replace(
        base,
        kiosk=dataclasses.replace(base.kiosk, id=KIOSK_ID),
        server=ServerSection(url=central.url, ca_bundle=str(options["ca_bundle"]),
                             client_cert=str(options["client_cert"]), client_key=str(options["client_key"])),
        camera=CameraSection(kind="none"),
        printer=PrinterSection(kind="none"),
        outbox=dataclasses.replace(base.outbox, backoff_base_seconds=0.1, backoff_max_seconds=0.5,
                                   poll_seconds=0.5),
        timeouts=dataclasses.replace(base.timeouts, http_connect_seconds=1.0, http_read_seconds=10.0),
    )


def counter_runtime(central: Any) -> Runtime:
    """The counter kiosk (not started): PC/SC readers, revocation asked of ``central``."""
    return build_runtime(counter_config(central), demo=False, speaker=None, staff_hash="", staff_caller=None)


def card_identity(profile: Path) -> tuple[str, str]:
    """(auth certificate serial, issuer key id), hex, of a simulated card: what the city records when the
    card is made (the pickup's expected card)."""
    from drivers.mynumber.certificates import parse_certificate
    from drivers.sim.profile import load_profile, profile_certificates

    certificate = parse_certificate(profile_certificates(load_profile(profile))["auth"])
    return format(certificate.serial, "x"), (certificate.authority_key_id or b"\0").hex()


def profile_basic4(profile: Path) -> dict[str, str]:
    """The basic 4 of a simulated card's resident, as the application recorded them."""
    from datetime import date

    from drivers.sim.profile import load_profile

    resident = load_profile(profile).resident
    return {"name": resident.name, "address": resident.address,
            "birth_date": resident.birth_date.resolve(date.today()).strftime("%Y%m%d"), "sex": str(resident.sex)}


@dataclasses.dataclass(frozen=True)
class Seeded:
    pickup_id: str
    notice_number: str
    name: str  # the holder's name the clerk should see (synthetic)
    photo: bytes


def seed(central: Any, profile: Path = NEW_CARD, *, serial: str | None = None,
         basic4: dict[str, str] | None = None, notice_number: str = "N-2026-0042") -> Seeded:
    """The pickup the city prepared for this card: its identity, the resident's basic 4, the application
    photo and a notice number (``serial``/``basic4`` to seed a pickup the card does not match)."""
    from tests.services.synthetic import jpeg_photo

    own_serial, issuer = card_identity(profile)
    details = basic4 or profile_basic4(profile)
    photo = jpeg_photo()
    pickup_id = central.seed_pickup(serial or own_serial, notice_number=notice_number, basic4=details,
                                    photo=photo, issuer_key_id=issuer)
    return Seeded(pickup_id, notice_number, details["name"], photo)


def new_card(profile: Path = NEW_CARD) -> Any:
    from drivers.sim.card import SimulatedCard
    from drivers.sim.profile import load_card_image

    return SimulatedCard(load_card_image(profile))


def forged_card(profile: Path = NEW_CARD) -> Any:
    """A forgery of the new card: the genuine certificate's every field (serial, subject, issuer name, key,
    extensions) copied into a certificate signed by a key that is not J-LIS's — the chain check fails,
    while the card identity the server expects (the serial) matches."""
    from datetime import date

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa

    from drivers.sim.card import SimulatedCard
    from drivers.sim.model import EfSpec
    from drivers.sim.profile import build_card_image, load_profile

    image = build_card_image(load_profile(profile), date.today())
    jpki = image.application("jpki")
    ef = jpki.efs[0x000A]
    genuine = x509.load_der_x509_certificate(ef.content)
    builder = (x509.CertificateBuilder().subject_name(genuine.subject).issuer_name(genuine.issuer)
               .public_key(genuine.public_key()).serial_number(genuine.serial_number)
               .not_valid_before(genuine.not_valid_before_utc).not_valid_after(genuine.not_valid_after_utc))
    for extension in genuine.extensions:
        builder = builder.add_extension(extension.value, extension.critical)
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    from cryptography.hazmat.primitives.serialization import Encoding

    der = builder.sign(forger, hashes.SHA256()).public_bytes(Encoding.DER)
    jpki.efs[0x000A] = EfSpec(ef.fid, der, max(ef.size, len(der)), ef.read_pins)
    return SimulatedCard(image)


class PullAt(IccWrapper):
    """A card the test pulls out at a chosen command (the contacts open before the card answers it, as a
    hand taking the card mid-command does): ``arm(ins, nth)`` pulls at the ``nth`` command with that INS
    from now on; ``disarm()`` makes it a plain card again (put back into the reader)."""

    def __init__(self, card: Icc) -> None:
        super().__init__(card)
        self._lock = threading.Lock()
        self._ins: int | None = None
        self._left = 0
        self.pulled = threading.Event()

    def arm(self, ins: int, nth: int = 1) -> None:
        with self._lock:
            self._ins, self._left = ins, nth
            self.pulled.clear()

    def disarm(self) -> None:
        with self._lock:
            self._ins = None

    def process(self, command: bytes) -> bytes:
        with self._lock:
            if self._ins is not None and len(command) > 1 and command[1] == self._ins:
                self._left -= 1
                if self._left <= 0:
                    self._ins = None
                    self.pulled.set()
                    raise CardPulled("pulled by the test")
        return self.card.process(command)


class Recorder:
    """Every view state the flow publishes, in order (the screen may show a state for less than a frame:
    "queued" before "delivered" is one)."""

    def __init__(self, runtime: Runtime) -> None:
        self.states: list[ViewState] = []
        self._unsubscribe = runtime.flow.subscribe(self.states.append)

    def on(self, screen: Screen) -> list[ViewState]:
        return [state for state in self.states if state.screen is screen]

    def handover_states(self) -> list[str]:
        seen: list[str] = []
        for state in self.states:
            value = state.pickup.handover if state.pickup is not None else None
            if value is not None and (not seen or seen[-1] != value):
                seen.append(value)
        return seen

    def close(self) -> None:
        self._unsubscribe()


# --- steps by touch ------------------------------------------------------------------------------------------


def current(runtime: Runtime) -> Any:
    return runtime.app.root.current


def at(runtime: Runtime, screen: Screen) -> Iterator[Any]:
    yield on(runtime, screen)
    yield from settle(runtime.app.root)


def press(runtime: Runtime, widget_id: str) -> Iterator[Any]:
    yield from tap(getattr(current(runtime).ids, widget_id))


def type_on_keyboard(runtime: Runtime, text: str, keyboard: str = "keyboard") -> Iterator[Any]:
    """Press the keys of the current screen's on-screen keyboard (``keyboard`` or the PIN ``pad``), each a
    full touch at the key's place on the window. One after the other within a frame: every state change
    costs a full redraw of the 1080 × 1920 window in software GL (~0.3 s on a busy 2-core machine), and
    the keys' order, not their pace, is what the flow sees."""
    yield from settle(runtime.app.root)
    keys = {key.text: key for key in getattr(current(runtime).ids, keyboard).children}
    typed = _typed(runtime)
    for char in text:
        assert char in keys, f"no key {char!r} on {runtime.app.view.screen}"
        _touch(keys[char])
    count = typed + len(text)
    yield (lambda: _typed(runtime) == count), WAIT_FRAMES


def _touch(widget: Any) -> None:
    from kivy.tests.common import UnitTestTouch

    assert visible(widget), f"{widget!r} is not visible on the window"
    touch = UnitTestTouch(*window_point(widget))
    touch.touch_down()
    touch.touch_up()


def _typed(runtime: Runtime) -> int:
    pin = runtime.app.view.pin if runtime.app.view is not None else None
    return pin.entered if pin is not None else 0


def counter_ready(runtime: Runtime) -> Iterator[Any]:
    """The counter's first screen, the reader seen, the screens prebuilt."""
    from kiosk.core.view import ReaderState

    app = runtime.app
    yield from settle(app.root)
    yield (lambda: app.view is not None and app.view.reader is ReaderState.READY), WAIT_FRAMES
    yield on(runtime, Screen.CLERK_SIGN_IN)
    yield 30  # let the screen prebuild finish (it runs one screen per frame at start)
    yield from settle(app.root)


def submit_sign_in(runtime: Runtime, username: str, password: str, screen: Screen = Screen.CLERK_SIGN_IN
                   ) -> Iterator[Any]:
    """Type the staff ID, "next", the password, "sign in" (or "approve" on the supervisor's form); returns
    once the server's answer is on screen."""
    yield from at(runtime, screen)
    yield from type_on_keyboard(runtime, username)
    yield from press(runtime, "submit")
    yield (lambda: runtime.app.view.clerk is not None and runtime.app.view.clerk.editing == "password"), WAIT_FRAMES
    yield from type_on_keyboard(runtime, password)
    yield from press(runtime, "submit")
    yield (lambda: runtime.app.view.screen is not Screen.WORKING and not (
        runtime.app.view.screen is screen and runtime.app.view.clerk is not None
        and runtime.app.view.clerk.password_entered)), WAIT_FRAMES
    yield from settle(runtime.app.root)


def sign_in(runtime: Runtime, username: str, password: str) -> Iterator[Any]:
    yield from submit_sign_in(runtime, username, password)
    yield from at(runtime, Screen.CLERK_HOME)


def look_up(runtime: Runtime, notice_number: str) -> Iterator[Any]:
    """On the home screen: type the notice number (交付通知書) and look it up."""
    yield from at(runtime, Screen.CLERK_HOME)
    yield from type_on_keyboard(runtime, notice_number)
    yield from press(runtime, "look_up")
    yield from at(runtime, Screen.PICKUP_APPLICATION)


def read_card(runtime: Runtime, reader: Any) -> Iterator[Any]:
    """"Read the card"; the card goes on the reader when the kiosk asks for it."""
    yield from press(runtime, "read_card")
    if not reader.inserted:
        yield from at(runtime, Screen.INSERT_CARD)
        reader.insert()
    yield from at(runtime, Screen.PICKUP_CHECKS)


def choose_pins(runtime: Runtime, pins: dict[str, str], *, one_pin: bool = False) -> Iterator[Any]:
    """On the resident's panel: (the one-PIN option,) "start", then each PIN twice on its pad."""
    app = runtime.app
    yield from at(runtime, Screen.PIN_SETUP)
    if one_pin:
        yield from press(runtime, "one_pin")
    yield from press(runtime, "submit")
    yield (lambda: app.view.pickup is not None and app.view.pickup.pin_target is not None), WAIT_FRAMES
    while app.view.screen is Screen.PIN_SETUP and app.view.pickup is not None and app.view.pickup.pin_target:
        target = app.view.pickup.pin_target
        value = pins["auth"] if target == "common" else pins[target]
        for _ in range(2):
            yield from settle(app.root)
            yield from type_on_keyboard(runtime, value, "keyboard" if target == "sign" else "pad")
            stage = app.view.pin.stage if app.view.pin is not None else 0
            yield from press(runtime, "submit")
            yield (lambda s=stage, t=target: app.view.screen is not Screen.PIN_SETUP or app.view.pin is None
                   or app.view.pin.stage != s or app.view.pickup.pin_target != t), WAIT_FRAMES


def to_pin_panel(runtime: Runtime) -> Iterator[Any]:
    yield from press(runtime, "next")
    yield from at(runtime, Screen.PIN_SETUP)


def to_compare(runtime: Runtime, pins: dict[str, str] = PINS) -> Iterator[Any]:
    """From the checks to the photos: the resident's PINs, the card verified with them, the basic 4."""
    yield from to_pin_panel(runtime)
    yield from choose_pins(runtime, pins)
    yield from at(runtime, Screen.PICKUP_COMPARE)


def judge_faces(runtime: Runtime, same: bool) -> Iterator[Any]:
    yield from press(runtime, "same" if same else "not_same")
    yield from at(runtime, Screen.PICKUP_FINISH)


def hand_over(runtime: Runtime, collected: tuple[str, ...] = ("notification_card",)) -> Iterator[Any]:
    """Tick the documents taken back and hand the card over."""
    for item in collected:
        yield from press(runtime, item)
        yield (lambda i=item: dict(runtime.app.view.pickup.collected).get(i) is True), WAIT_FRAMES
    yield from settle(runtime.app.root)
    yield from press(runtime, "hand_over")
    yield from at(runtime, Screen.PICKUP_DONE)


def delivered(runtime: Runtime) -> Callable[[], bool]:
    return lambda: runtime.app.view.pickup is not None and runtime.app.view.pickup.handover == "delivered"


def override(runtime: Runtime, username: str, password: str, reason: str) -> Iterator[Any]:
    """"Supervisor" (unless its form is up already): the reason, then who approves signs in for this one
    approval; returns with the server's answer on screen."""
    view = runtime.app.view
    if view.screen is not Screen.SUPERVISOR:
        yield from press(runtime, "supervisor")
        yield from at(runtime, Screen.SUPERVISOR)
    if runtime.app.view.pickup.override_reason != reason:
        button = next(b for b in current(runtime).ids.reasons.children if b.reason == reason)
        yield from tap(button)
        yield (lambda: runtime.app.view.pickup.override_reason == reason), WAIT_FRAMES
    if runtime.app.view.clerk.editing != "username":
        yield from settle(runtime.app.root)
        yield from press(runtime, "username")
        yield (lambda: runtime.app.view.clerk.editing == "username"), WAIT_FRAMES
    yield from submit_sign_in(runtime, username, password, Screen.SUPERVISOR)


def texts(widget: Any) -> list[str]:
    """Every label text under ``widget`` (what the person in front of it can read)."""
    from kivy.uix.label import Label

    return [w.text for w in widget.walk() if isinstance(w, Label) and w.text]


def check_rows(runtime: Runtime) -> dict[str, str]:
    """The checks as the rows on screen show them: name → status."""
    return {row.name: row.status for row in current(runtime).ids.checks.children}


__all__ = ["INS_READ_BINARY", "INS_SET_FIRST_PIN", "NEW_CARD", "NEW_CARD_CHILD", "PINS", "WRONG_PASSWORD", "PullAt",
           "Recorder", "Seeded", "at",
           "card_identity", "check_rows", "choose_pins", "counter_config", "counter_ready", "counter_runtime",
           "current", "delivered", "forged_card", "hand_over", "judge_faces", "look_up", "new_card", "override",
           "press", "profile_basic4", "read_card", "seed", "sign_in", "submit_sign_in", "texts", "to_compare",
           "to_pin_panel", "type_on_keyboard"]
