"""The real PC/SC path (pyscard → pcscd → any reader). The only package allowed to import ``smartcard``.

Everything pyscard raises is translated here into ``drivers.errors`` types (``errors.classify``), so the
rest of the kiosk never sees a pyscard exception. Watcher events live in ``drivers.pcsc.watcher``
(``watcher.CardRemoved`` is an *event*, not to be confused with the error ``drivers.errors.CardRemoved``).
"""

from drivers.pcsc.errors import classify
from drivers.pcsc.transport import (
    PcscTransport,
    ReaderState,
    connect,
    list_readers,
    reader_states,
    service_available,
)
from drivers.pcsc.watcher import CardWatcher, WatchEvent

__all__ = [
    "CardWatcher",
    "PcscTransport",
    "ReaderState",
    "WatchEvent",
    "classify",
    "connect",
    "list_readers",
    "reader_states",
    "service_available",
]
