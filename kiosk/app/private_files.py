"""Which of the kiosk's files must be private, and the check ``kiosk run`` and ``kiosk doctor`` make at start.

The kiosk's client key, the outbox (encrypted applications waiting for the network), its key file and the
audit trail must be 0600 and owned by the kiosk's user (``contract.file_modes``). A file that does not exist
yet is fine: the kiosk creates it private on first use.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from contract.file_modes import SQLITE_SIDE_FILES, FileModeProblem, private_file_problem
from kiosk.config import KioskConfig


def secret_files(config: KioskConfig) -> list[Path]:
    """The configured files that hold a secret or residents' data (whether or not they exist yet)."""
    paths: list[Path] = []
    if config.server.client_key:
        paths.append(config.resolve(config.server.client_key))
    for database in (config.outbox.path, config.audit.path):
        if database:
            main = config.resolve(database)
            paths.append(main)
            paths.extend(main.with_name(main.name + suffix) for suffix in SQLITE_SIDE_FILES)
    if config.outbox.key_source == "file" and config.outbox.key_file:
        paths.append(config.resolve(config.outbox.key_file))
    return paths


def file_mode_problems(config: KioskConfig, *, uid: int | None = None) -> list[FileModeProblem]:
    """The secret files that exist and are not private to ``uid`` (default: this process's user)."""
    uid = os.geteuid() if uid is None else uid
    user = _user_name(uid)
    problems = []
    for path in secret_files(config):
        try:
            found = path.lstat()
        except FileNotFoundError:
            continue
        problem = private_file_problem(str(path), found.st_mode, found.st_uid, uid=uid, user=user)
        if problem is not None:
            problems.append(problem)
    return problems


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


__all__ = ["file_mode_problems", "secret_files"]
