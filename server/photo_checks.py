"""The photo's pixel and face checks, after the answer: a background job in every server process.

Why: decoding a 1-7 MB JPEG and running the face rules (``contract.photo.validate_photo(content=True)``)
costs 25-40 ms of CPU per photo — most of what an application cost the server — while the kiosk already ran
the very same rules on the very same bytes before sending. So the request checks only what the JPEG's
headers say (``validate_photo_header``) and answers 201 with ``photo_check: "pending"``; this job decides
afterwards, and an application whose photo breaks a rule is marked ``retake_needed`` with the rule's code
(``photo_rule``), which the status lookup shows with the next step (contact the counter). The receipt
never claims a check that has not happened.

Several processes (``serve --workers N``, several hosts) run the job on one database. A row is taken with
a conditional UPDATE — still pending, and no live lease from another process — that sets a lease
(``photo_check_lease_until``) and counts the attempt; only the process whose UPDATE changed the row checks
it. The verdict is written with the same condition, so a verdict is written once. A process that dies
mid-check leaves a lease that expires, and another process checks the photo again; a photo that failed
``MAX_ATTEMPTS`` times without a verdict (a crash in the decoder, say) is ``retake_needed`` /
``photo_unreadable`` — as is one whose stored file is gone or does not match its digest.

The thread runs at the lowest CPU priority (Linux: ``setpriority`` on its own thread id; OpenCV's worker
threads, created from it, inherit that), so under load the requests go first and the checks use the CPU
that is left; the backlog is in the database and survives a restart. The log names row ids and rule codes,
never a photo, an application id or a receipt.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidTag
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from contract.photo import PhotoRejected, validate_photo
from server.keys import ServerKeys
from server.models import Application
from server.photo_store import PhotoStore, PhotoUnavailable

log = logging.getLogger("server.photo_checks")

PENDING = "pending"
PASSED = "passed"
RETAKE_NEEDED = "retake_needed"
UNREADABLE = "photo_unreadable"
PHOTO_PURPOSE = "application-photo"

LEASE = timedelta(minutes=2)  # far longer than one check (~40 ms), short enough to retry a dead worker soon
MAX_ATTEMPTS = 3
POLL_SECONDS = 2.0  # rows another process stored, or left behind by a dead one, are found this often
BATCH = 16
_LOWEST_PRIORITY = 19


@dataclass(frozen=True, slots=True)
class Verdict:
    state: str  # passed | retake_needed
    rule: str | None  # the photo_* code of the broken rule


def judge(photo: bytes, *, face_checks: bool) -> Verdict:
    """The full upload rules (the pixels decoded) and, when configured, every face rule."""
    try:
        validate_photo(photo, content=face_checks)
    except PhotoRejected as exc:
        return Verdict(RETAKE_NEEDED, exc.code)
    return Verdict(PASSED, None)


class PhotoCheckJob:
    """Claims pending applications, checks their photos, records the verdicts (see the module docstring).

    ``run_once`` does one pass in the caller's thread (tests, ``kiosk server`` tools); ``start`` runs passes
    in a daemon thread until ``stop``, woken by ``wake`` (a new application in this process) or every
    ``POLL_SECONDS``."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        reads: sessionmaker[Session],
        store: PhotoStore,
        keys: ServerKeys,
        clock: Callable[[], datetime],
        face_checks: bool,
    ) -> None:
        self._sessions = sessions
        self._reads = reads
        self._store = store
        self._keys = keys
        self._clock = clock
        self._face_checks = face_checks
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- the thread ---------------------------------------------------------------------------------------

    def start(self) -> PhotoCheckJob:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="photo-checks", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def request_stop(self) -> None:
        """Ask the loop to end after the photo in hand (safe from a signal handler: sets two events)."""
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def run_forever(self) -> None:
        """The loop in the caller's thread, until ``request_stop`` (``serve``'s photo-check process)."""
        self._stop.clear()
        self._loop()

    def _loop(self) -> None:
        _lower_priority()
        while not self._stop.is_set():
            self._wake.clear()
            try:
                checked = self.run_once()
            except Exception as exc:  # the database away for a moment: try again at the next poll
                log.warning("photo check pass failed: %s at %s", type(exc).__name__, _where(exc))
                checked = 0
            if checked == 0:
                self._wake.wait(POLL_SECONDS)

    # --- one pass -------------------------------------------------------------------------------------------

    def run_once(self, limit: int = BATCH) -> int:
        """Check up to ``limit`` pending photos this process could claim; the number given a verdict."""
        now = self._clock()
        with self._reads() as session:
            candidates = list(
                session.execute(
                    select(Application.id, Application.photo_check_attempts)
                    .where(Application.photo_check == PENDING, _unleased(now))
                    .order_by(Application.id)
                    .limit(limit)
                )
            )
            session.close()
        random.shuffle(candidates)  # several processes polling at once mostly claim different rows
        done = 0
        for row_id, attempts in candidates:
            if self._stop.is_set():
                break
            if attempts >= MAX_ATTEMPTS:
                log.error("photo check of application row %d failed %d times: retake needed", row_id, attempts)
                done += self._record(row_id, Verdict(RETAKE_NEEDED, UNREADABLE))
            elif self._claim(row_id):
                done += self._check(row_id)
        return done

    def _claim(self, row_id: int) -> bool:
        now = self._clock()
        with self._sessions() as session:
            result = session.execute(
                update(Application)
                .where(Application.id == row_id, Application.photo_check == PENDING, _unleased(now))
                .values(
                    photo_check_lease_until=now + LEASE,
                    photo_check_attempts=Application.photo_check_attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            session.commit()
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def _check(self, row_id: int) -> int:
        with self._reads() as session:
            row = session.execute(
                select(Application.photo_ref, Application.photo_sha256, Application.photo_sealed).where(
                    Application.id == row_id
                )
            ).first()
            session.close()
        if row is None:
            return 0
        ref, sha256, column = row
        try:
            photo = self._keys.unseal(self._store.get(ref, sha256, column), purpose=PHOTO_PURPOSE)
        except (PhotoUnavailable, InvalidTag, ValueError) as exc:
            log.error("photo of application row %d is unreadable (%s): retake needed", row_id, type(exc).__name__)
            return self._record(row_id, Verdict(RETAKE_NEEDED, UNREADABLE))
        verdict = judge(photo, face_checks=self._face_checks)
        if verdict.state == RETAKE_NEEDED:
            log.info("photo of application row %d breaks %s: retake needed", row_id, verdict.rule)
        return self._record(row_id, verdict)

    def _record(self, row_id: int, verdict: Verdict) -> int:
        now = self._clock()
        with self._sessions() as session:
            result = session.execute(
                update(Application)
                .where(Application.id == row_id, Application.photo_check == PENDING)
                .values(
                    photo_check=verdict.state,
                    photo_rule=verdict.rule,
                    photo_checked_at=now,
                    photo_check_lease_until=None,
                )
                .execution_options(synchronize_session=False)
            )
            session.commit()
        return int(result.rowcount == 1)  # type: ignore[attr-defined]


def _unleased(now: datetime) -> ColumnElement[bool]:
    return or_(Application.photo_check_lease_until.is_(None), Application.photo_check_lease_until < now)


def _lower_priority() -> None:
    """Nice 19 for this thread only (Linux: a thread is a task with its own nice value)."""
    # not Linux, or not allowed: the checks still run, at normal priority
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _LOWEST_PRIORITY)


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)[-2:]
    return " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames)) or "?"


def wait_until_checked(job: PhotoCheckJob, *, timeout: float = 30.0) -> None:
    """Run passes until none finds work (tests and tools; the thread does this on its own)."""
    deadline = time.monotonic() + timeout
    while job.run_once() and time.monotonic() < deadline:
        pass
