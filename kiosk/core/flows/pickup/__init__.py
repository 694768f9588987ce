"""The clerk's counter: sign-in and the card pickup (交付) — see ``machine``."""

from kiosk.core.flows.pickup.machine import (
    CHECKS,
    COLLECTED,
    OVERRIDE_REASONS,
    PICKUP_KEYS,
    REQUIRED_CHECKS,
    PickupFlow,
)

__all__ = ["CHECKS", "COLLECTED", "OVERRIDE_REASONS", "PICKUP_KEYS", "REQUIRED_CHECKS", "PickupFlow"]
