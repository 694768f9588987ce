"""A wall clock tests can move forward (token expiry, lockouts, CRL nextUpdate, grants running out)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class MovableClock:
    """Real time plus an offset a test can move; safe to read from the server's threads."""

    def __init__(self) -> None:
        self.offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.offset += delta

    def reset(self) -> None:
        with self._lock:
            self.offset = timedelta(0)
