"""The rule for secret files (keys, databases), shared by the kiosk and the central server.

A key or a database of residents' applications must be readable by the service's own user only: mode 0600
(or stricter) and owned by that user. A service that finds one readable by others refuses to start and says
the two commands that fix it, rather than running with a leak it cannot undo. Pure: callers ``stat`` the
files and pass what they found (this package does no I/O).
"""

from __future__ import annotations

import stat
from dataclasses import dataclass

# SQLite keeps part of a database in these files beside it (WAL mode): the same rule applies to them.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class FileModeProblem:
    """One secret file that is not private, with the fix an operator can paste into a root shell."""

    path: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}; fix: {self.fix}"


def private_file_problem(path: str, st_mode: int, st_uid: int, *, uid: int, user: str) -> FileModeProblem | None:
    """None when ``path`` (a regular file owned by ``uid``, no group or other permission bits) is private.

    ``user`` names ``uid`` in the fix (``chown``); group and other bits are what matter — the owner's own
    bits (0400, 0600) are the service's business.
    """
    if not stat.S_ISREG(st_mode):
        return FileModeProblem(path, "is not a regular file", f"replace it with the file itself (not a link): {path}")
    problems = []
    if st_uid != uid:
        problems.append(f"owned by uid {st_uid}, not by the service user {user} (uid {uid})")
    loose = stat.S_IMODE(st_mode) & 0o077
    if loose:
        problems.append(f"mode {stat.S_IMODE(st_mode):04o} lets other users read it (must be 0600)")
    if not problems:
        return None
    fixes = []
    if st_uid != uid:
        fixes.append(f"chown {user} {path}")
    if loose:
        fixes.append(f"chmod 600 {path}")
    return FileModeProblem(path, " and ".join(problems), " && ".join(fixes))


__all__ = ["SQLITE_SIDE_FILES", "FileModeProblem", "private_file_problem"]
