"""PIN services at the kiosk: the four PINs' tries, changing a PIN (or the three 4-digit ones at once), and
where a locked PIN is reset (``machine.py``: the state machine; ``operations.py``: its card operations;
``reset.py``: the reset guide). No PIN is ever reset here."""

from kiosk.core.flows.pin_services.machine import COMMON, COMMON_PINS, PinServicesFlow
from kiosk.core.flows.pin_services.operations import ChangePins, PinChangeReport, PinStatuses, ReadPinStatuses

__all__ = ["COMMON", "COMMON_PINS", "ChangePins", "PinChangeReport", "PinServicesFlow", "PinStatuses",
           "ReadPinStatuses"]
