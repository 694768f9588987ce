"""Everything that can happen to a kiosk session, as plain immutable events.

The UI turns touches into these; the card service turns reader changes and finished jobs into these;
the clock turns time into ``Tick``. Flows only ever see events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """Base class."""


# --- hardware / services ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReaderChanged(Event):
    """``state`` is one of kiosk.core.view.ReaderState values."""

    state: str
    reader: str | None = None


@dataclass(frozen=True, slots=True)
class CardInserted(Event):
    """``job_id``: the card service starts reading at once and names that job here, so the flow can tell
    this card's results from a previous card's late ones (0: nothing started, the flow asks for it)."""

    reader: str
    atr: bytes = b""
    job_id: int = 0


@dataclass(frozen=True, slots=True)
class CardRemoved(Event):
    reader: str


@dataclass(frozen=True, slots=True)
class JobFinished(Event):
    """A card or network job finished on its worker thread; ``result`` is job-specific.

    ``job_id`` echoes the id the job was started with (0: untagged), so a result that arrives after the
    session it belonged to ended is recognised as stale and dropped — never shown to the next resident.
    """

    job: str
    result: Any = None
    job_id: int = 0


@dataclass(frozen=True, slots=True)
class JobFailed(Event):
    """A job raised; ``error`` is the typed exception (a drivers.errors.CardError, a service error…)."""

    job: str
    error: BaseException = field(default_factory=Exception)
    job_id: int = 0


@dataclass(frozen=True, slots=True)
class Tick(Event):
    """Time passed; ``now`` is monotonic seconds from the injected clock."""

    now: float


# --- the person at the screen -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Touched(Event):
    """Any touch anywhere: the session is alive (resets the idle timer)."""


@dataclass(frozen=True, slots=True)
class Start(Event):
    """"Check my card" on the attract screen."""


@dataclass(frozen=True, slots=True)
class LanguageChosen(Event):
    code: str


@dataclass(frozen=True, slots=True)
class PinDigit(Event):
    digit: str


@dataclass(frozen=True, slots=True)
class PinBackspace(Event):
    pass


@dataclass(frozen=True, slots=True)
class PinClear(Event):
    pass


@dataclass(frozen=True, slots=True)
class PinSubmit(Event):
    pass


@dataclass(frozen=True, slots=True)
class ToggleShowPin(Event):
    pass


@dataclass(frozen=True, slots=True)
class ShowDetails(Event):
    """The resident asks to see the basic 4 information (masked My Number)."""


@dataclass(frozen=True, slots=True)
class HideDetails(Event):
    pass


@dataclass(frozen=True, slots=True)
class MoreTime(Event):
    """"I need more time" on the idle warning."""


@dataclass(frozen=True, slots=True)
class CallStaff(Event):
    pass


@dataclass(frozen=True, slots=True)
class Cancel(Event):
    """"Stop" / "back to the start": ends the session and wipes it."""


@dataclass(frozen=True, slots=True)
class Finish(Event):
    """"Done" on the result screen."""


@dataclass(frozen=True, slots=True)
class ToggleLargeText(Event):
    pass


@dataclass(frozen=True, slots=True)
class ToggleHighContrast(Event):
    pass


@dataclass(frozen=True, slots=True)
class ToggleSpeech(Event):
    pass
