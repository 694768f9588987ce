"""``kiosk card …``: readers and what the card in them is."""

from __future__ import annotations

import argparse
from contextlib import contextmanager

from drivers.channel import ApduChannel
from drivers.errors import CardError
from drivers.mynumber.probe import describe_atr, is_my_number_card, probe_applications
from drivers.sim.profile import ProfileError
from drivers.transport import Transport
from kiosk.app.cli.output import EXIT_USAGE, emit_json, fail, fail_card


def register(commands: argparse._SubParsersAction) -> None:
    card = commands.add_parser("card", help="readers and My Number cards")
    sub = card.add_subparsers(dest="card_command", required=True, metavar="SUBCOMMAND")
    readers = sub.add_parser("readers", help="list PC/SC readers and whether a card is inserted")
    readers.add_argument("--json", action="store_true")
    readers.set_defaults(handler=list_readers)
    probe = sub.add_parser("probe", help="which My Number applications answer on the card")
    add_card_source(probe)
    probe.add_argument("--json", action="store_true")
    probe.set_defaults(handler=probe_card)
    from kiosk.app.cli import card_ops

    card_ops.register(sub)


def add_card_source(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--reader", metavar="NAME", help="PC/SC reader name (default: the first with a card)")
    source.add_argument("--sim", metavar="PROFILE", help="an in-process simulated card from a profile file")


@contextmanager
def open_transport(args: argparse.Namespace):
    """The card the user named: a PC/SC reader, or an in-process simulated card."""
    transport: Transport
    if getattr(args, "sim", None):
        from drivers.sim.factory import open_simulated_card
        from drivers.sim.transport import SimTransport

        transport = SimTransport(open_simulated_card(args.sim))
    else:
        from drivers import pcsc

        transport = pcsc.connect(args.reader)
    try:
        yield transport
    finally:
        transport.close()


def list_readers(args: argparse.Namespace) -> int:
    from drivers import pcsc

    try:
        states = pcsc.reader_states()
    except CardError as exc:
        return fail_card(args, exc)
    rows = [{"reader": s.name, "card": s.card_present, "atr": s.atr.hex(" ").upper() if s.atr else None}
            for s in states]
    if args.json:
        emit_json({"readers": rows})
    elif not rows:
        print("no reader found: plug in a PC/SC reader, or start `kiosk sim serve` for a simulated card")
    else:
        for row in rows:
            print(f"{row['reader']}: " + (f"card present, ATR {row['atr']}" if row["card"] else "empty"))
    return 0


def probe_card(args: argparse.Namespace) -> int:
    try:
        with open_transport(args) as transport:
            channel = ApduChannel(transport)
            found = probe_applications(channel)
            atr, reader = transport.atr, transport.reader_name
    except CardError as exc:
        return fail_card(args, exc)
    except ProfileError as exc:
        return fail(args, "profile", str(exc), EXIT_USAGE)
    document = {
        "reader": reader,
        "atr": atr.hex(" ").upper(),
        "atr_label": describe_atr(atr),
        "my_number_card": is_my_number_card(found),
        "applications": [{"key": a.key, "aid": a.aid.hex().upper(), "label": a.label} for a in found],
        "apdu_count": channel.stats.apdus,
    }
    if args.json:
        emit_json(document)
    else:
        print(f"reader: {reader}\nATR: {document['atr']} ({document['atr_label']})")
        for app in found:
            print(f"  ✔ {app.label}  AID {app.aid.hex().upper()}")
        verdict = "a My Number card" if document["my_number_card"] else "not a My Number card"
        print(f"→ {verdict} ({channel.stats.apdus} APDUs)")
    return 0 if document["my_number_card"] else 1
