"""The composition root: one ``KioskConfig`` in, the running kiosk out — readers, services, flows, UI.

This package (``kiosk.app``) is the only place that knows every part at once: it picks the readers
(``drivers.pcsc`` or the simulated tray of ``drivers.sim``), builds the card service with its verifier,
opens the outbox and starts its flusher, creates the flows and hands them to the Kivy app. Nothing
imports ``kiosk.app`` (an import contract in ``pyproject.toml`` checks it); the console script enters here.

Kivy is imported only inside functions, after ``kiosk.ui.window.configure_window``: Kivy reads its window
configuration once, when its window module is imported.

- run mode: PC/SC readers (``CardWatcher`` + ``connect``), full screen, no cursor.
- demo mode: an in-process simulated reader (``SimulatedTray``) and the demo tray in the header to put
  synthetic residents on it; a window at half the kiosk panel's size with the same layout.
"""

from __future__ import annotations

import logging
import signal
import sys
import tempfile
from dataclasses import dataclass
from typing import Any

from kiosk.config import ConfigError, KioskConfig

LOG = logging.getLogger(__name__)

TICK_SECONDS = 0.5  # how often the flow learns the time (idle warning countdown, time-outs)
EXIT_CONFIG = 2


@dataclass
class Runtime:
    """Everything one kiosk process runs; ``start()`` after the app exists, ``stop()`` when it ends."""

    config: KioskConfig
    dispatcher: Any  # kiosk.ui.app.KivyDispatcher
    flow: Any  # kiosk.core.shell.Shell: the session and the active task's flow
    service: Any  # kiosk.services.card_service.CardService
    tray: Any  # SimulatedTray in demo mode, else None
    app: Any  # kiosk.ui.app.KioskApp
    clock: Any
    outbox: Any = None  # kiosk.services.outbox.Outbox, when a central server is configured
    flusher: Any = None  # its network worker
    staff_channel: Any = None  # kiosk.services.staff_call.StaffCallChannel: what "call staff" reaches
    tasks: Any = None  # kiosk.services.tasks.TaskWorker: the outbox and the central server, off the UI thread
    camera: Any = None  # kiosk.core.ports.Camera
    audit: Any = None  # kiosk.services.audit_log.AuditLog: clerk actions, shipped by the flusher
    heartbeat: Any = None  # kiosk.services.heartbeat.HeartbeatSender: health to the central server, on a timer
    _ticker: Any = None

    def start(self) -> None:
        from kivy.clock import Clock

        from kiosk.core.events import Tick

        self.service.start()
        if self.heartbeat is not None:
            self.heartbeat.start()  # its first heartbeat goes out at once, from its own thread
        if self.flusher is not None:
            self.flusher.start()
        if self.staff_channel is not None:
            self.staff_channel.start()
        if self.tasks is not None:
            self.tasks.start()
        self._ticker = Clock.schedule_interval(lambda _dt: self.dispatcher.post(Tick(self.clock.now())),
                                               TICK_SECONDS)

    def stop(self) -> None:
        """Stop everything that runs and join its threads: ticker, card worker, flusher, then the outbox."""
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        if self.heartbeat is not None:
            self.heartbeat.stop()  # before the outbox it reads is closed
        self.service.stop()
        if self.tray is not None:
            self.tray.stop()
        if self.flusher is not None:
            self.flusher.stop()
            self.flusher.join()
        if self.staff_channel is not None:
            self.staff_channel.stop()
        if self.camera is not None:
            self.camera.stop()
        if self.tasks is not None:
            self.tasks.stop()
        if self.outbox is not None:
            self.outbox.close()
        if self.audit is not None:
            self.audit.close()


class DemoCards:
    """The demo tray's view of ``SimulatedTray``: inserting a card first takes out the one in the slot."""

    def __init__(self, tray: Any) -> None:
        self._tray = tray

    def profiles(self) -> list[str]:
        return list(self._tray.profiles())

    def insert(self, profile: str) -> None:
        self._tray.remove()
        self._tray.insert(profile)

    def remove(self) -> None:
        self._tray.remove()


def revocation_from_config(config: KioskConfig) -> Any:
    """The central server answers revocation when the configuration says how to reach it; else None
    (the check is then "not checked", and a configuration that requires it never shows "verified")."""
    if not config.server.configured:
        LOG.info("no central server configured: certificate revocation will be 'not checked'")
        return None
    from kiosk.services.central import CentralClient
    from kiosk.services.revocation_client import CentralRevocationChecker

    return CentralRevocationChecker(CentralClient.from_config(config))  # its own client: card-worker thread


def trust_store_from_config(config: KioskConfig, *, pinned: bool = True) -> Any:
    """The configured trust folder, held to ``[verification] anchor_sha256``; with the simulator and no
    folder, the generated test PKI. Every problem is a ``ConfigError`` naming the files and the fix.

    ``trust_store = "{bundled}/<folder>"`` is ``<folder>`` of the trust anchors shipped with the kiosk
    (``config/trust`` in a checkout, ``kiosk/defaults/trust`` installed), wherever the config file itself
    lives; other values are paths as everywhere in the config (``KioskConfig.resolve``). ``pinned=False``
    is for ``kiosk doctor`` alone: it loads a refused folder anyway, to show which file is which.
    """
    from drivers.mynumber.trust import TrustPinError, TrustStore, TrustStoreError, normalize_fingerprint
    from kiosk.config import DEFAULTS_DIR

    section = config.verification
    where = config.source or "the configuration"
    bundled = "{bundled}"
    try:
        pins = [normalize_fingerprint(pin) for pin in section.anchor_sha256]
    except TrustStoreError as exc:
        raise ConfigError(f"{where}: verification.anchor_sha256: {exc}") from exc
    folder = section.trust_store
    if not folder:
        if not config.simulator.enabled:
            raise ConfigError(f"{where}: verification.trust_store must name the folder with the J-LIS CA "
                              f"certificates; fix: trust_store = \"{bundled}/jlis\" (the ones shipped with the kiosk)")
        if pins:
            raise ConfigError(f"{where}: verification.anchor_sha256 pins a trust folder, but "
                              "verification.trust_store names none; fix: set trust_store, or remove the pins")
        from drivers.sim import pki  # test PKI: only for the simulator

        with tempfile.TemporaryDirectory(prefix="kiosk-test-trust-") as generated:  # loaded into memory, then gone
            pki.write_trust_store(generated)
            return TrustStore.from_directory(generated)
    if folder == bundled or folder.startswith(bundled + "/"):
        path = DEFAULTS_DIR / "trust" / folder[len(bundled):].lstrip("/")
    else:
        path = config.resolve(folder)
    if not path.is_dir():
        raise ConfigError(f"{where}: verification.trust_store: the folder {path} does not exist; fix: create it "
                          f"with the J-LIS CA certificates, or set trust_store = \"{bundled}/jlis\" (the ones "
                          "shipped with the kiosk)")
    try:
        return TrustStore.from_directory(path, pins if pinned and pins else None)
    except TrustPinError as exc:
        raise ConfigError(f"{where}: trust folder {path}: {exc}; fix: compare the file's SHA-256 with the one "
                          "J-LIS publishes (https://www.jpki.go.jp/ca/), then correct verification.anchor_sha256 "
                          "or remove the file from the folder") from exc
    except TrustStoreError as exc:
        raise ConfigError(f"{where}: trust folder {path}: {exc}; fix: replace the file with the certificate "
                          "J-LIS publishes, or remove it") from exc


def verifier_factory_from_config(config: KioskConfig, *, trust: Any = None, revocation: Any = None) -> Any:
    """``card → CardVerifier`` with the configured trust, required checks and renewal window.

    ``revocation``: e.g. ``CentralRevocationChecker(CentralClient.from_config(config))`` — a client of its
    own, since it is used on the card worker thread. None: revocation is "not checked".
    """
    from drivers.mynumber.verifier import CardVerifier, VerifierConfig

    store = trust if trust is not None else trust_store_from_config(config)
    settings = VerifierConfig(required=frozenset(config.verification.required_checks),
                              renewal_months=config.verification.renewal_months)

    def make(card: Any) -> CardVerifier:
        return CardVerifier(card, store, config=settings, revocation=revocation)

    return make


def outbox_and_flusher(config: KioskConfig, post: Any = None, *, audit: Any = None) -> tuple[Any, Any]:
    """The outbox and its flusher thread (not started), or (None, None) without a central server.

    Without a server nothing could ever be delivered, so nothing is opened; the doctor says so. ``post``
    (the UI dispatcher's) learns of each delivery as ``OutboxDelivered``, for the receipt on screen.
    ``audit`` (``audit_log_from_config``) is shipped by the same flusher.
    """
    if not config.server.configured:
        LOG.warning("no central server configured: applications would wait in the outbox forever")
        return None, None
    from kiosk.services.at_rest import KeyFileError
    from kiosk.services.outbox import OutboxError, flusher_from_config, open_outbox

    try:
        outbox = open_outbox(config)
    except (KeyFileError, OutboxError) as exc:
        raise ConfigError(f"{config.source or 'the configuration'}: the outbox cannot be opened: {exc}") from exc
    def delivered(event: Any) -> None:  # on the flusher thread: only posts
        if post is not None and event.outcome in ("delivered", "dead"):
            from kiosk.core.events import OutboxDelivered

            post(OutboxDelivered(event.item_id, event.outcome))

    try:
        return outbox, flusher_from_config(config, outbox, listener=delivered, audit=audit)
    except BaseException:
        outbox.close()
        raise


def audit_log_from_config(config: KioskConfig) -> Any:
    """The local audit trail of clerk actions (``[audit] path``), or None without a central server: clerk
    work (sign-in, pickup) needs the server, so such a kiosk has nothing to record."""
    if not config.server.configured:
        return None
    from kiosk.services.audit_log import AuditError, open_audit_log

    try:
        return open_audit_log(config)
    except AuditError as exc:
        raise ConfigError(f"{config.source or 'the configuration'}: the audit trail cannot be opened: {exc}") from exc


def task_worker(config: KioskConfig, outbox: Any, post: Any, tickets: Any, audit: Any = None) -> Any:
    """The worker for the flows' disk and network tasks, when there is an outbox to store into; ``audit``
    is the local trail the counter's tasks append to."""
    if outbox is None:
        return None
    from kiosk.services.central import CentralClient
    from kiosk.services.tasks import Services, TaskWorker

    services = Services(outbox, lambda: CentralClient.from_config(config), printer_from_config(config), audit=audit)
    return TaskWorker(services, post, tickets=tickets)


def printer_from_config(config: KioskConfig) -> Any:
    """The receipt printer of ``[printer]`` (None: receipts are on screen only)."""
    if config.printer.kind == "none":
        return None
    from kiosk.services import receipt_printer

    return receipt_printer.printer_from_config(config)


def camera_from_config(config: KioskConfig, post: Any, *, tickets: Any = None) -> Any:
    """The kiosk camera of ``[camera]``: OpenCV's VideoCapture on a device, or pictures played from files
    (an empty ``files`` list: the synthetic demo residents). None: no camera (no application offered)."""
    camera = config.camera
    if camera.kind == "none":
        return None
    from kiosk.services.camera import FileCamera, OpenCVCamera

    if camera.kind == "files":
        paths = [config.resolve(path) for path in camera.files] or None
        return FileCamera(post, paths, tickets=tickets)
    return OpenCVCamera(post, device=camera.device, width=camera.width, height=camera.height, tickets=tickets)


def build_runtime(config: KioskConfig, demo: bool, *, delay: str | None = None, speaker: Any = "auto",
                  fullscreen: bool = False, staff_hash: str | None = None, revocation: Any = "auto",
                  deliver: bool | None = None, staff_caller: Any = "auto", camera: Any = "auto") -> Runtime:
    """Build (not start) the app and its services; Kivy's window must be configured already.

    ``delay``: the simulated card's timing preset in demo mode ("off", "real-card"; default: config).
    ``revocation``: a ``RevocationChecker``, None, or "auto" (``revocation_from_config``).
    ``deliver``: open the outbox and run its flusher (None: when a central server is configured).
    ``staff_caller``: what "call staff" reaches (``kiosk.core.shell.StaffCaller``), or "auto".
    ``camera``: a ``kiosk.core.ports.Camera``, None, or "auto" (``camera_from_config``).
    """
    from kiosk.app.maintenance import DoctorMaintenance
    from kiosk.core.clerk import ClerkDesk
    from kiosk.core.dispatch import MonotonicClock
    from kiosk.core.events import ServiceChanged
    from kiosk.core.flows import APPLICATION, CARD_CHECK, PICKUP, PIN_SERVICES, RENEWAL, STATUS
    from kiosk.core.flows.application import ApplicationFlow, StatusFlow
    from kiosk.core.flows.card_check import CardCheckFlow
    from kiosk.core.flows.pickup import PickupFlow
    from kiosk.core.flows.pin_services import PinServicesFlow
    from kiosk.core.flows.renewal import RenewalFlow
    from kiosk.core.ports import TicketCounter
    from kiosk.core.shell import Shell
    from kiosk.services.card_service import CardService
    from kiosk.services.heartbeat import HealthState, heartbeat_from_config
    from kiosk.ui.app import KioskApp, KivyDispatcher
    from kiosk.ui.speech import Speaker
    from kiosk.ui.staff import StaffExitGuard, configured_hash

    clock = MonotonicClock()
    dispatcher = KivyDispatcher()
    tickets = TicketCounter()  # one numbering for every worker: a ticket names exactly one piece of work
    camera = camera_from_config(config, dispatcher.post, tickets=tickets) if camera == "auto" else camera
    tray = None
    if demo:
        from drivers.sim.tray import SimulatedTray

        tray = SimulatedTray(delay=delay if delay is not None else config.simulator.delay)
        transport_factory, watcher = tray.connect, tray
    else:
        from drivers import pcsc
        from drivers.pcsc.watcher import CardWatcher

        transport_factory, watcher = pcsc.connect, CardWatcher()
    checker = revocation_from_config(config) if revocation == "auto" else revocation
    health = HealthState()  # the heartbeat's view of the reader: it sees the card service's events first
    service = CardService(transport_factory, health.watching(dispatcher.post),
                          verifier_factory=verifier_factory_from_config(config, revocation=checker),
                          watcher=watcher, clock=clock, readers=config.card.readers, tickets=tickets,
                          extended=config.card.extended)
    audit = audit_log_from_config(config) if deliver is not False else None
    try:
        outbox, flusher = (outbox_and_flusher(config, dispatcher.post, audit=audit) if deliver is not False
                           else (None, None))
    except BaseException:
        if audit is not None:
            audit.close()
        raise
    tasks = task_worker(config, outbox, dispatcher.post, tickets, audit)
    try:
        # an operator's disable reaches the attract screen (ServiceChanged), not only the log
        heartbeat = (heartbeat_from_config(config, health, outbox,
                                           on_service=lambda ok: dispatcher.post(ServiceChanged(ok)))
                     if deliver is not False else None)
    except BaseException:  # a bad server.heartbeat_seconds: close what is open already
        for opened in (outbox, audit):
            if opened is not None:
                opened.close()
        raise
    channel = None
    if staff_caller == "auto":
        from kiosk.services.staff_call import StaffCallChannel

        # the central server's list of open calls (clerks see it), plus the [staff_call] hook / webhook
        channel = StaffCallChannel.from_config(config, dispatcher.post)
        caller = channel
    else:
        caller = staff_caller
    flows: dict[str, Any] = {CARD_CHECK: CardCheckFlow, PIN_SERVICES: PinServicesFlow}
    if config.kiosk.station == "counter" and tasks is not None:
        desk = ClerkDesk(config.clerk.sign_out_after_seconds)  # the signed-in clerk outlives each pickup
        flows = {PICKUP: lambda host: PickupFlow(host, desk)}
    # a task that cannot work is not offered: no outbox, no lookup or application; no camera, no application
    elif tasks is not None:
        flows[STATUS] = StatusFlow
        if camera is not None:
            flows[APPLICATION] = ApplicationFlow
            flows[RENEWAL] = RenewalFlow
    shell = Shell(dispatcher, service, clock, config, flows=flows, staff_caller=caller, tasks=tasks,
                  camera=camera)
    guard = StaffExitGuard(staff_hash if staff_hash is not None else configured_hash(config, demo))
    if not guard.enabled:
        LOG.warning("no staff exit PIN hash configured: the kiosk can only be stopped from outside")
    app = KioskApp(
        shell,
        dispatcher=dispatcher,
        speaker=Speaker() if speaker == "auto" else speaker,
        staff_guard=guard,
        demo_cards=DemoCards(tray) if tray is not None else None,
        languages=config.kiosk.languages,
        fullscreen=fullscreen,
        camera=camera,
        maintenance=DoctorMaintenance(config),
    )
    return Runtime(config, dispatcher, shell, service, tray, app, clock, outbox, flusher, channel, tasks, camera,
                   audit=audit, heartbeat=heartbeat)


def run_app(config: KioskConfig, demo: bool) -> int:
    """Run the kiosk until staff exit it. Returns the process exit code (non-zero: could not start)."""
    from kiosk.ui.window import EXIT_NO_DISPLAY, WINDOW_FAILED_HELP, configure_window, display_problem, window_opened

    problem = display_problem()
    if problem is not None:
        print(problem, file=sys.stderr)
        return EXIT_NO_DISPLAY
    configure_window(demo)
    if not window_opened():
        print(WINDOW_FAILED_HELP, file=sys.stderr)
        return EXIT_NO_DISPLAY
    from drivers.errors import CardError
    from kiosk.app.private_files import file_mode_problems

    problems = [] if demo else file_mode_problems(config)  # a demo's state is its own throw-away folder
    if problems:
        print("kiosk: refusing to start: files with keys or residents' data are readable by others", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        runtime = build_runtime(config, demo, fullscreen=not demo)
    except (ConfigError, OSError, CardError) as exc:  # CardError: a trust store that cannot be used
        print(f"kiosk: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if demo:
        print("kiosk demo: use the header's 'デモ / Demo' button to put a sample card on the reader; "
              "staff exit: hold the top-left corner 3 s, PIN 000000 (unless a staff hash is configured)",
              flush=True)
    runtime.start()
    previous = _stop_on_signals(runtime.app)
    notifier = _tell_systemd(config)
    try:
        runtime.app.run()
    finally:
        notifier.stopping()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        runtime.stop()
        notifier.close()
    return runtime.app.exit_code


def _tell_systemd(config: KioskConfig) -> Any:
    """READY=1 on the first frame, then the watchdog fed from the UI thread (nothing outside systemd)."""
    from kivy.clock import Clock

    from kiosk.app.systemd_notify import SystemdNotifier, feed_watchdog_from

    notifier = SystemdNotifier()
    if notifier.enabled:
        Clock.schedule_once(lambda _dt: notifier.ready(f"kiosk {config.kiosk.id} ready"), 0)
        feed_watchdog_from(notifier, Clock.schedule_interval)
    return notifier


def _stop_on_signals(app: Any) -> dict[int, Any]:
    """SIGTERM (systemd stop) and SIGINT (Ctrl-C in a demo terminal) end the app cleanly: services
    stopped, threads joined. These are the operator's ways out; a resident has none."""
    from kivy.clock import Clock

    def stop(signum: int, _frame: Any) -> None:
        LOG.info("signal %d: stopping the kiosk", signum)
        app.exit_code = 0
        Clock.schedule_once(lambda _dt: app.stop(), 0)

    return {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}


__all__ = ["DemoCards", "Runtime", "audit_log_from_config", "build_runtime", "outbox_and_flusher",
           "revocation_from_config", "run_app", "trust_store_from_config", "verifier_factory_from_config"]
