"""``kiosk demo``: the embedded default — the kiosk UI with a tray of simulated cards and the local
reference server; ``--once`` serves a simulated card to pcscd and runs the doctor; ``--tour DIR`` renders
every screen in every language offscreen.

This is what the README's first command runs, so on a machine without a display it says so, runs the
headless checks instead and tells how to see the screens.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

from drivers.errors import CardError
from drivers.sim.profile import ProfileError
from kiosk.app.cli.doctor_cmd import print_findings
from kiosk.app.cli.output import EXIT_USAGE, emit_json, error, fail
from kiosk.app.doctor import FAIL, run_checks
from kiosk.config import ConfigError, KioskConfig, load_config, state_dir
from kiosk.services import pcscd

CARD_VISIBLE_TIMEOUT = 5.0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("demo", help="the embedded default: simulated card + checks")
    parser.add_argument("--config", help="configuration file (default: config/demo.toml)")
    parser.add_argument("--counter", action="store_true",
                        help="the clerk's counter (pickup) instead: config/counter-demo.toml, DEMO accounts printed")
    parser.add_argument("--once", action="store_true",
                        help="no UI: serve the simulated card to pcscd, run the checks and exit")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON (with --once)")
    parser.add_argument("--tour", metavar="DIR", help="render every screen in every language into DIR (offscreen)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.counter:
        if args.config:
            error("give --counter or --config, not both")
            return 2
        from kiosk.config import DEFAULTS_DIR

        args.config = str(DEFAULTS_DIR / "counter-demo.toml")
    if args.tour:
        from kiosk.ui.tour import render_tour

        written = render_tour(args.tour)
        print(f"{len(written)} screenshots written to {args.tour}")
        return 0
    if args.once:
        return run_checks_once(args)
    from kiosk.ui.window import display_problem

    problem = display_problem()
    if problem is not None:
        print(problem, file=sys.stderr)
        print("Running the headless checks instead (kiosk demo --once).", file=sys.stderr, flush=True)
        args.once = True
        return run_checks_once(args)
    return run_ui(args)


def run_ui(args: argparse.Namespace) -> int:
    """The kiosk window with the simulated tray, talking to the local reference server."""
    import dataclasses

    from kiosk.app.local_central import start_local_central
    from kiosk.app.wiring import run_app

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        error(str(exc))
        return 2
    var_dir = state_dir()  # the demo PKI and server database sit with the outbox, never in the package
    central = start_local_central(config, var_dir)
    for username, password in central.accounts.items():
        print(f"DEMO ONLY counter account: {username} / {password}  (pickups DEMO-0001, DEMO-0002)",
              file=sys.stderr, flush=True)
    try:
        return run_app(dataclasses.replace(config, server=central.section), demo=True)
    finally:
        central.stop()


def run_checks_once(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return fail(args, "config", str(exc), EXIT_USAGE)
    with ExitStack() as cleanup:
        try:
            if config.simulator.enabled:
                start_simulated_card(config, cleanup)
        except (pcscd.PcscdError, ProfileError, CardError, OSError, TimeoutError) as exc:
            return fail(args, getattr(exc, "code", "simulator"), str(exc), EXIT_USAGE)
        findings = run_checks(args.config)
        failed = any(f.status == FAIL for f in findings)
        if args.json:
            emit_json({"ok": not failed, "findings": [f.as_dict() for f in findings]})
        else:
            print_findings(findings)
        if not args.once and not failed:
            wait_for_stop(config)
    return 1 if failed else 0


def start_simulated_card(config: KioskConfig, cleanup: ExitStack) -> None:
    """Start pcscd when needed and put the configured simulated card into its virtual reader."""
    from drivers import pcsc
    from drivers.sim.factory import open_simulated_card
    from drivers.sim.vpicc import VpiccServer

    log_dir = Path(tempfile.gettempdir()) / "mynumber-kiosk"
    if pcscd.ensure_running(ready=pcsc.list_readers, log_dir=log_dir, want_vpcd=True):
        cleanup.callback(pcscd.stop)
    sim = config.simulator
    state_file = config.resolve(sim.state_file) if sim.state_file else None
    card = open_simulated_card(config.resolve(sim.profile), state_file=state_file, delay=sim.delay)
    server = VpiccServer(card, port=pcscd.vpcd_port(sim.reader_index))
    server.insert()
    cleanup.callback(server.remove)
    wait_card_visible(sim.reader_index)


def wait_card_visible(reader_index: int, timeout: float = CARD_VISIBLE_TIMEOUT) -> None:
    """pcscd notices a new card on its next poll (~400 ms); the checks must not run before that."""
    from drivers import pcsc

    suffix = f" {reader_index:02d}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(s.card_present and s.name.endswith(suffix) for s in pcsc.reader_states()):
            return
        time.sleep(0.1)
    raise TimeoutError(f"the simulated card did not appear in virtual reader {reader_index} in {timeout} s")


def wait_for_stop(config: KioskConfig) -> None:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    profile = config.simulator.profile if config.simulator.enabled else "no simulated card"
    print(f"demo running ({profile}); press Ctrl-C to stop", flush=True)
    stop.wait()
