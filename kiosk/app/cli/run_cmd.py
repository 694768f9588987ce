"""``kiosk run``: the kiosk as a city deploys it — real readers, the configured central server."""

from __future__ import annotations

import argparse

from kiosk.app.cli.output import error
from kiosk.config import ConfigError, load_config, run_config_path


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("run", help="the kiosk on real readers and the configured server")
    parser.add_argument("--config", default=None,
                        help="configuration file (default: $KIOSK_CONFIG, else /etc/mynumber-kiosk/kiosk.toml "
                             "when it exists, else the shipped example kiosk.toml)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config or run_config_path())
    except ConfigError as exc:
        error(str(exc))
        return 2
    from kiosk.app.wiring import run_app

    return run_app(config, demo=False)
