"""``kiosk sim serve``: put a simulated My Number card into pcscd's virtual reader until stopped."""

from __future__ import annotations

import argparse
import signal
import threading

from drivers.sim.factory import open_simulated_card
from drivers.sim.faults import DELAY_PRESETS, FaultPlan
from drivers.sim.profile import ProfileError
from drivers.sim.vpicc import VpiccServer
from kiosk.app.cli.output import error
from kiosk.services import pcscd


def register(commands: argparse._SubParsersAction) -> None:
    sim = commands.add_parser("sim", help="the simulated My Number card")
    sub = sim.add_subparsers(dest="sim_command", required=True, metavar="SUBCOMMAND")
    serve = sub.add_parser("serve", help="serve a simulated card to pcscd through vpcd (foreground)")
    serve.add_argument("--profile", required=True, help="card profile file, e.g. config/cards/adult.toml")
    serve.add_argument("--reader-index", type=int, choices=(0, 1), default=0,
                       help="vpcd reader slot (0 = 'Virtual PCD 00 00', 1 = 'Virtual PCD 00 01')")
    serve.add_argument("--state", help="persist PIN counters and changed PINs in this file")
    serve.add_argument("--delay", choices=sorted(DELAY_PRESETS), default="off",
                       help="answer as slowly as a real card ('real-card') or at once ('off')")
    serve.add_argument("--remove-after", type=int, metavar="N",
                       help="fault injection: the card is pulled at the N-th APDU")
    serve.set_defaults(handler=serve_card)


def serve_card(args: argparse.Namespace) -> int:
    faults = FaultPlan(remove_at=args.remove_after) if args.remove_after else None
    try:
        card = open_simulated_card(args.profile, state_file=args.state, delay=args.delay, faults=faults)
    except (ProfileError, OSError, ValueError) as exc:
        error(str(exc))
        return 2
    if not pcscd.vpcd_configured():
        error("vpcd is not configured (/etc/reader.conf.d/vpcd missing): apt-get install vsmartcard-vpcd")
        return 2
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    port = pcscd.vpcd_port(args.reader_index)
    server = VpiccServer(card, port=port)
    where = f"virtual reader {args.reader_index} (127.0.0.1:{port})"
    print(f"serving {args.profile} on {where}; Ctrl-C removes the card", flush=True)
    server.serve_forever(stop)
    print("card removed", flush=True)
    return 0
