"""What flows ask of the world, as types: card operations with typed results, and the queue that runs them.

A flow never talks to a card. It builds a ``CardOperation`` — a small frozen object that says what to do
("verify with this PIN", "change this PIN") and how, in terms of the driver's domain verbs — and hands it
to ``CardJobs.submit``. The card worker (``kiosk.services.card_service``) runs every operation the same
way, ``operation.run(card)``, on the thread that owns the reader, and posts ``CardResult`` or
``CardFailed`` with the ticket it gave out. There are no job kinds to switch on, on either side: the
flow keeps the continuation for each ticket it waits for (``Tickets``), so a result reaches exactly the
code that asked for it, with its own type.

Two promises every operation keeps:

* **PINs are the operation's to zero.** A PIN travels inside the operation as a ``bytearray``; ``wipe()``
  zeroes it and the worker calls it when the operation ends — run, failed or skipped at shutdown. The
  driver zeroes the buffer too (``drivers.mynumber.pinpolicy.prepare_pin``).
* **Personal data in a result is wipeable.** A result type that holds the basic 4 or the My Number has a
  ``wipe()``; the flow calls it as soon as it has made its view lines, and on any stale result.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.verifier import CardVerifier

LOG = logging.getLogger(__name__)

R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


class OpenCard(Protocol):
    """The card in the reader, as the worker hands it to an operation (already connected and recognised
    as a My Number card). Operations call the driver's domain verbs on it; nothing else."""

    @property
    def card(self) -> MyNumberCard: ...

    @property
    def verifier(self) -> CardVerifier: ...


class CardOperation(Protocol[R_co]):
    """One unit of card work with a typed result. ``run`` is called on the reader's worker thread."""

    def run(self, card: OpenCard) -> R_co: ...

    def wipe(self) -> None:
        """Zero any PIN the operation carries (idempotent)."""
        ...


class CardJobs(Protocol):
    """The card worker's queue. ``submit`` returns a ticket at once and never blocks on the card; the
    outcome arrives later as ``CardResult``/``CardFailed`` carrying that ticket. An operation queued for
    an insertion that is over fails with ``drivers.errors.CardRemoved`` instead of touching a new card."""

    def submit(self, operation: CardOperation[object], *, insertion: int) -> int: ...


class Wipeable(Protocol):
    def wipe(self) -> None: ...


def wipe_if_personal(result: object) -> None:
    """Wipe a result that may hold personal data (anything with ``wipe()``)."""
    wipe = getattr(result, "wipe", None)
    if callable(wipe):
        wipe()


@dataclass(slots=True)
class _Waiting(Generic[R]):
    on_result: Callable[[R], None]
    on_failure: Callable[[BaseException], None]


@dataclass(slots=True)
class Tickets:
    """The operations a flow waits for, each with its continuations. A ticket not waited for (the flow
    moved on, the session ended) is stale: its result is wiped and dropped, never shown to anyone."""

    _waiting: dict[int, _Waiting[object]] = field(default_factory=dict)

    def expect(self, ticket: int, on_result: Callable[[R], None], on_failure: Callable[[BaseException], None]) -> int:
        self._waiting[ticket] = _Waiting(on_result, on_failure)  # type: ignore[arg-type]
        return ticket

    def waiting_for(self, ticket: int) -> bool:
        return ticket in self._waiting

    @property
    def pending(self) -> bool:
        return bool(self._waiting)

    def forget_all(self) -> None:
        """Stop waiting for anything (the results, when they come, are stale)."""
        self._waiting.clear()

    def forget(self, ticket: int) -> None:
        self._waiting.pop(ticket, None)

    def deliver(self, ticket: int, result: object) -> bool:
        """Run the continuation for ``ticket``; False (and the result wiped) when nobody waits for it."""
        waiting = self._waiting.pop(ticket, None)
        if waiting is None:
            wipe_if_personal(result)
            LOG.info("stale card result (ticket %d) dropped", ticket)
            return False
        waiting.on_result(result)
        return True

    def fail(self, ticket: int, error: BaseException) -> bool:
        waiting = self._waiting.pop(ticket, None)
        if waiting is None:
            LOG.info("stale card failure (ticket %d) dropped", ticket)
            return False
        waiting.on_failure(error)
        return True


class TicketCounter:
    """Ticket numbers, unique for the life of the process (shared by every flow and the worker)."""

    def __init__(self, start: int = 1) -> None:
        self._next = itertools.count(start)

    def __call__(self) -> int:
        return next(self._next)


__all__ = ["CardJobs", "CardOperation", "OpenCard", "TicketCounter", "Tickets", "Wipeable", "wipe_if_personal"]
