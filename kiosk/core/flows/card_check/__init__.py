"""The resident card check: is my card genuine and valid, and what does it hold? (``machine.py``: the state
machine; ``operations.py``: the card operations it asks for, with their typed results.)"""

from kiosk.core.flows.card_check.machine import CardCheckFlow
from kiosk.core.flows.card_check.operations import (
    CardDetails,
    CardReady,
    Prefetch,
    Prefetched,
    ReadDetails,
    Recognise,
    VerifyWithPin,
)

__all__ = ["CardCheckFlow", "CardDetails", "CardReady", "Prefetch", "Prefetched", "ReadDetails", "Recognise",
           "VerifyWithPin"]
