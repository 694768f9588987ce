"""Where the kiosk's log lines go: a terminal gets times, the journal gets priorities.

Under systemd, stderr is connected to the journal (``$JOURNAL_STREAM`` names that stream), which stamps
every line itself; a ``<N>`` prefix (sd-daemon(3)) gives each line its syslog priority so that
``journalctl -p warning -u mynumber-kiosk`` shows the kiosk's warnings and errors only. What is logged is
decided elsewhere and never holds personal data (tests/ui/test_privacy_session.py and friends).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import TextIO

TERMINAL_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT = "%(priority)s%(name)s: %(message)s"

# logging level → syslog priority (sd-daemon(3): <3> err, <4> warning, <6> info, <7> debug)
_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


def priority(level: int) -> int:
    for threshold, value in _PRIORITIES:
        if level >= threshold:
            return value
    return 7


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.priority = f"<{priority(record.levelno)}>"
        text = super().format(record)
        # a multi-line message (a traceback) stays one entry per line, each with the priority
        return text.replace("\n", "\n" + record.priority)


def stream_is_journal(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """True when ``stream`` is the journal stream systemd connected (``$JOURNAL_STREAM`` = device:inode)."""
    env = os.environ if environ is None else environ
    device, _, inode = env.get("JOURNAL_STREAM", "").partition(":")
    try:
        found = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return f"{found.st_dev}" == device and f"{found.st_ino}" == inode


def configure_logging(verbose: bool, stream: TextIO | None = None) -> None:
    """One handler on the root logger: INFO with ``--verbose`` (and always under systemd), else WARNING.
    Like ``logging.basicConfig``, nothing changes when the root logger already has a handler."""
    stream = sys.stderr if stream is None else stream
    journal = stream_is_journal(stream)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_JournalFormatter(JOURNAL_FORMAT) if journal else logging.Formatter(TERMINAL_FORMAT))
    logging.basicConfig(level=logging.INFO if verbose or journal else logging.WARNING, handlers=[handler])


__all__ = ["configure_logging", "priority", "stream_is_journal"]
