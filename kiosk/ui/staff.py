"""The staff exit secret: how staff (and only staff) leave the full-screen kiosk. No Kivy here.

A resident has no way out of the kiosk UI (Esc, window close and back gestures are swallowed). Staff hold
the top-left corner of the header for three seconds and type the staff exit PIN. The configuration holds
only a salted PBKDF2 hash of that PIN, so a copied config file does not reveal it:

    python -m kiosk.ui.staff            # asks twice for the PIN, prints the line for the config

The hash is read, in this order, from ``[staff] exit_pin_hash`` in the kiosk configuration (when the
configuration has that section) or from the ``KIOSK_STAFF_EXIT_HASH`` environment variable. Without a
hash the staff exit is disabled in ``kiosk run`` (stop the service from a terminal instead); ``kiosk demo``
uses the documented demo PIN ``000000``. Five wrong tries lock the dialog for a minute.
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

SCHEME = "pbkdf2_sha256"
ITERATIONS = 200_000
ENV_HASH = "KIOSK_STAFF_EXIT_HASH"
DEMO_PIN = "000000"
MIN_LENGTH = 6
MAX_LENGTH = 12
MAX_FAILURES = 5
LOCKOUT_SECONDS = 60.0


def hash_staff_pin(pin: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """``pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>``."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode("utf-8"), salt, iterations)
    encode = base64.urlsafe_b64encode
    return f"{SCHEME}${iterations}${encode(salt).decode()}${encode(digest).decode()}"


def verify_staff_pin(pin: str, encoded: str) -> bool:
    """Constant-time check; a malformed hash is a refusal, never an exception at the kiosk."""
    try:
        scheme, iterations, salt, expected = encoded.split("$")
        if scheme != SCHEME:
            return False
        digest = hashlib.pbkdf2_hmac(
            "sha256", pin.encode("utf-8"), base64.urlsafe_b64decode(salt), int(iterations)
        )
        return hmac.compare_digest(digest, base64.urlsafe_b64decode(expected))
    except (ValueError, TypeError):
        return False


def configured_hash(config: object | None, demo: bool) -> str | None:
    """The hash to check against (see the module docstring for the order)."""
    staff = getattr(config, "staff", None)
    value = getattr(staff, "exit_pin_hash", "") if staff is not None else ""
    value = value or os.environ.get(ENV_HASH, "")
    if value:
        return value
    if demo:
        return hash_staff_pin(DEMO_PIN, iterations=1_000)
    return None


@dataclass
class StaffExitGuard:
    """Counts failures and locks the dialog for a while; the clock is injected so tests need no sleep."""

    encoded: str | None
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    locked_until: float = field(default=0.0)

    @property
    def enabled(self) -> bool:
        return bool(self.encoded)

    def locked(self) -> bool:
        return self.clock() < self.locked_until

    def check(self, pin: str) -> bool:
        if not self.enabled or self.locked() or not (MIN_LENGTH <= len(pin) <= MAX_LENGTH):
            ok = False
        else:
            ok = verify_staff_pin(pin, self.encoded or "")
        if ok:
            self.failures = 0
            return True
        self.failures += 1
        if self.failures >= MAX_FAILURES:
            self.failures = 0
            self.locked_until = self.clock() + LOCKOUT_SECONDS
        return False


def main() -> int:
    first = getpass.getpass(f"staff exit PIN ({MIN_LENGTH}-{MAX_LENGTH} digits): ")
    if not (first.isdigit() and MIN_LENGTH <= len(first) <= MAX_LENGTH):
        print(f"the PIN must be {MIN_LENGTH} to {MAX_LENGTH} digits", file=sys.stderr)
        return 2
    if getpass.getpass("again: ") != first:
        print("the two entries differ", file=sys.stderr)
        return 2
    encoded = hash_staff_pin(first)
    print("[staff]")
    print(f'exit_pin_hash = "{encoded}"')
    print(f"# or: export {ENV_HASH}='{encoded}'")
    return 0


if __name__ == "__main__":
    sys.exit(main())
