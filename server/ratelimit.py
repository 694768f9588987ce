"""A token bucket per kiosk for application-status lookups that find nothing (404).

Why: the answer to "is there an application with this 申請書ID?" is itself information. A kiosk (or a stolen
kiosk certificate) must not be able to walk through IDs faster than residents at a counter type or scan them.
What is limited are *misses*: a lookup takes a token before it looks and gives it back when the ID exists, so

* residents who find their application are never slowed down, however busy the kiosk;
* an empty bucket refuses every lookup (hit or miss) with 429 — answering hits while refusing misses would
  itself say which IDs exist;
* two concurrent lookups cannot both spend the last token (it is taken under the lock, before the query).

Defaults: a burst of 5 misses, then one more every 12 s (5 a minute, 7,200 a day at most per kiosk). A
resident mistyping three times in a row, or a queue of residents each mistyping once, stays under that.

Limits: the state is in this process's memory (the reference server runs one process; behind several
workers each has its own buckets, multiplying the rate) and is lost at restart (a burst more).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: datetime


class LookupLimiter:
    """``take(kiosk_id, now)`` before a lookup, ``give_back(kiosk_id)`` when it found something."""

    def __init__(self, *, burst: int, refill_seconds: float) -> None:
        if burst < 1:
            raise ValueError("the lookup burst must be at least 1")
        if not refill_seconds > 0:
            raise ValueError("the lookup refill interval must be positive")
        self.burst = burst
        self.refill_seconds = refill_seconds
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, kiosk_id: str, now: datetime) -> float | None:
        """Spend one token: None when allowed, else the seconds until the next token (for Retry-After)."""
        with self._lock:
            bucket = self._buckets.get(kiosk_id)
            if bucket is None:
                bucket = self._buckets[kiosk_id] = _Bucket(float(self.burst), now)
            elapsed = (now - bucket.stamp).total_seconds()
            if elapsed > 0:  # a clock stepping back refills nothing and is not held against the kiosk
                bucket.tokens = min(float(self.burst), bucket.tokens + elapsed / self.refill_seconds)
            bucket.stamp = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) * self.refill_seconds

    def give_back(self, kiosk_id: str) -> None:
        """The lookup found an application: its token is returned (hits are free)."""
        with self._lock:
            bucket = self._buckets.get(kiosk_id)
            if bucket is not None:
                bucket.tokens = min(float(self.burst), bucket.tokens + 1.0)

    def reset(self) -> None:
        """Forget every bucket (tests; an operator restart does the same)."""
        with self._lock:
            self._buckets.clear()


def retry_after_header(seconds: float) -> str:
    """Retry-After is whole seconds (RFC 9110 delay-seconds), rounded up so that a retry then succeeds."""
    return str(max(1, math.ceil(seconds)))
