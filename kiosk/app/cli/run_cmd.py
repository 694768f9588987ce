"""``kiosk run``: the kiosk as a city deploys it — real readers, the configured central server."""

from __future__ import annotations

import argparse

from kiosk.app.cli.output import error
from kiosk.config import PRODUCTION_CONFIG, ConfigError, load_config


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("run", help="the kiosk on real readers (configuration: config/kiosk.toml)")
    parser.add_argument("--config", default=str(PRODUCTION_CONFIG), help="configuration file")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        error(str(exc))
        return 2
    from kiosk.app.wiring import run_app

    return run_app(config, demo=False)
