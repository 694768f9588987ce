"""PINs for the command line: from a prompt or from an environment variable named on the command line.

Never from an argument: arguments end up in shell history and in ``ps`` output for every user to see.
"""

from __future__ import annotations

import getpass
import os
import sys


class PinInputError(Exception):
    """No way to get the PIN (no terminal and no variable), or the variable is unset."""


def read_pin(label: str, env_var: str | None, flag: str, *, confirm: bool = False) -> str:
    """``label`` names the PIN in the prompt; ``flag`` is the option that names its variable."""
    if env_var:
        value = os.environ.get(env_var)
        if value is None:
            raise PinInputError(f"environment variable {env_var} is not set")
        return value
    if not sys.stdin.isatty():
        raise PinInputError(f"no terminal to ask for the {label}; pass {flag} VAR")
    value = getpass.getpass(f"{label}: ")
    if confirm and getpass.getpass(f"{label} again: ") != value:
        raise PinInputError(f"the two entries of the {label} differ")
    return value
