"""The photo's pixel and face checks after the answer (``server/photo_checks.py``), on both backends.

A photo whose headers are fine but whose face breaks a rule is received (201, ``photo_check: "pending"``)
and, once the background job has run, the status lookup says ``retake_needed`` with the rule and sends the
resident to the counter; the log names neither the resident nor the photo. Several jobs on one database
(several server processes) give every photo exactly one verdict; a job that died mid-check is taken over
when its lease runs out; a photo that cannot be read any more is a retake, not a crash. With
``[photos] checks = "request"`` the face rules refuse in the request again (422).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from server.identifiers import application_lookup_key
from server.models import Application
from server.photo_checks import LEASE, MAX_ATTEMPTS, PhotoCheckJob, wait_until_checked
from server.pki_demo import DemoPki
from server.serve import BackgroundServer
from server.settings import Settings
from tests.server.helpers import SERVER_LOGGERS, LiveServer, LogCapture, MovableClock, application_body
from tests.server.pgcluster import PgCluster
from tests.support.faces import PHOTO_VARIANTS

pytestmark = pytest.mark.server

GOOD = PHOTO_VARIANTS["good"][0]()
EYES_CLOSED = PHOTO_VARIANTS["eyes_closed"][0]()


def _database(request: pytest.FixtureRequest, folder: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{folder / 'photo-checks.db'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"photos_{secrets.token_hex(4)}")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def face_server(
    request: pytest.FixtureRequest, demo_pki: DemoPki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server of its own (its own database) with the face rules on, checked in the background."""
    folder = tmp_path_factory.mktemp("photo-checks")
    url = _database(request, folder)
    settings = Settings(
        database_url=url,
        secret_file=folder / "server.secret",
        tls_certfile=demo_pki.server_cert,
        tls_keyfile=demo_pki.server_key,
        kiosk_ca_file=demo_pki.ca_cert,
        kiosks={k: demo_pki.kiosks[k].fingerprint for k in ("kiosk-01", "kiosk-02")},
        photo_face_checks=True,
    )
    clock = MovableClock()
    background = BackgroundServer(settings, clock=clock)
    capture = LogCapture()
    loggers = [logging.getLogger(name) for name in SERVER_LOGGERS]
    for logger in loggers:
        logger.addHandler(capture)
    logging.getLogger("server").setLevel(logging.DEBUG)
    server = LiveServer(
        backend=str(request.param), db_url=url, pki=demo_pki, foreign_client=(Path(), Path()),
        background=background, clock=clock, logs=capture, secret_file=folder / "server.secret",
    )
    background.start()
    try:
        yield server
    finally:
        server.close_sessions()
        background.stop()
        for logger in loggers:
            logger.removeHandler(capture)


def settle(server: LiveServer, timeout: float = 60.0) -> None:
    """Run the job here until nothing is pending (the server's own thread may hold a row for a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        wait_until_checked(server.context.photo_checks)
        with server.context.reads() as session:
            pending = session.scalar(select(Application.id).where(Application.photo_check == "pending").limit(1))
        if pending is None:
            return
        assert time.monotonic() < deadline, "a photo check never finished"
        time.sleep(0.05)


def _status(server: LiveServer, app_id: str) -> dict[str, Any]:
    response = server.session().get(server.url(f"/v1/applications/{app_id}/status"))
    assert response.status_code == 200, response.text
    return dict(response.json())


def _row(server: LiveServer, app_id: str) -> Application:
    lookup = application_lookup_key(server.context.keys, app_id)
    with server.context.reads() as session:
        row = session.scalar(select(Application).where(Application.application_key == lookup))
    assert row is not None
    return row


def test_a_face_that_breaks_a_rule_is_received_then_marked_for_a_retake(face_server: LiveServer) -> None:
    before = len(face_server.logs.lines)
    body = application_body(EYES_CLOSED)
    response = face_server.submit(body)
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["photo_check"] == "pending"  # the receipt does not claim a check that has not run
    assert receipt["status"] == "received"

    settle(face_server)
    status = _status(face_server, body["application_id"])
    assert status["status"] == "received"
    assert status["photo_check"] == "retake_needed"
    assert status["photo_rule"] == "photo_eyes_open"
    assert status["next_step"] == "contact_counter"
    state = face_server.session().get(face_server.url(f"/v1/applications/{body['application_id']}")).json()
    assert (state["photo_check"], state["photo_rule"]) == ("retake_needed", "photo_eyes_open")

    log_text = "\n".join(face_server.logs.lines[before:])
    assert "breaks photo_eyes_open: retake needed" in log_text
    for value in (body["application_id"], body["application_id"][-4:], receipt["receipt_id"],
                  body["contact"]["name"], body["contact"]["email"], body["photo_jpeg_base64"][100:160]):
        assert value not in log_text


def test_a_good_face_passes_and_a_retry_still_replays_the_first_receipt(face_server: LiveServer) -> None:
    body = application_body(GOOD)
    key = secrets.token_hex(16)
    first = face_server.submit(body, key=key)
    assert first.status_code == 201 and first.json()["photo_check"] == "pending"
    settle(face_server)
    status = _status(face_server, body["application_id"])
    assert (status["photo_check"], status["photo_rule"], status["next_step"]) == ("passed", None, "wait_for_notice")
    again = face_server.submit(body, key=key)
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}  # the first answer, as it was given


def test_once_the_card_is_made_a_retake_no_longer_changes_the_next_step() -> None:
    from datetime import UTC, datetime

    from server.lifecycle import Lifecycle, resident_next_step

    now = datetime.now(UTC)
    assert resident_next_step(Lifecycle("in_production", now), "retake_needed") == "contact_counter"
    assert resident_next_step(Lifecycle("ready_for_pickup", now), "retake_needed") == "collect_at_counter"
    assert resident_next_step(Lifecycle("received", now), "pending") == "wait_for_notice"


def _second_job(server: LiveServer) -> PhotoCheckJob:
    """Another process's job on the same database (same store and keys)."""
    context = server.context
    return PhotoCheckJob(sessions=context.sessions, reads=context.reads, store=context.photos, keys=context.keys,
                         clock=server.clock, face_checks=True)


def test_several_jobs_give_every_photo_exactly_one_check(face_server: LiveServer) -> None:
    context = face_server.context
    context.photo_checks.stop()  # only the jobs of this test claim rows
    try:
        bodies = [application_body(GOOD if n % 2 else EYES_CLOSED) for n in range(8)]
        for body in bodies:
            assert face_server.submit(body).status_code == 201
        jobs = [_second_job(face_server) for _ in range(3)]
        threads = [threading.Thread(target=wait_until_checked, args=(job,)) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        rows = [_row(face_server, body["application_id"]) for body in bodies]
        assert [row.photo_check_attempts for row in rows] == [1] * 8  # claimed once each, by one job
        assert [row.photo_check for row in rows] == ["retake_needed", "passed"] * 4
    finally:
        context.photo_checks.start()


def test_a_job_that_died_mid_check_is_taken_over_when_its_lease_runs_out(face_server: LiveServer) -> None:
    context = face_server.context
    context.photo_checks.stop()
    try:
        body = application_body(GOOD)
        assert face_server.submit(body).status_code == 201
        row_id = _row(face_server, body["application_id"]).id
        with context.sessions() as session:  # as a process that claimed the row and was killed
            session.execute(update(Application).where(Application.id == row_id).values(
                photo_check_lease_until=face_server.clock() + LEASE, photo_check_attempts=1))
            session.commit()
        job = _second_job(face_server)
        assert job.run_once() == 0  # the lease is someone else's
        face_server.clock.advance(LEASE + timedelta(seconds=1))
        assert job.run_once() == 1
        row = _row(face_server, body["application_id"])
        assert (row.photo_check, row.photo_check_attempts) == ("passed", 2)
    finally:
        face_server.clock.reset()
        context.photo_checks.start()


def test_a_photo_that_keeps_failing_to_be_checked_or_is_gone_needs_a_retake(face_server: LiveServer) -> None:
    context = face_server.context
    context.photo_checks.stop()
    try:
        crashing, gone = application_body(GOOD), application_body(GOOD)
        for body in (crashing, gone):
            assert face_server.submit(body).status_code == 201
        crashing_id = _row(face_server, crashing["application_id"]).id
        with context.sessions() as session:
            session.execute(update(Application).where(Application.id == crashing_id).values(
                photo_check_attempts=MAX_ATTEMPTS))
            session.commit()
        stored = _row(face_server, gone["application_id"])
        if stored.photo_ref is not None:
            context.photos.path(stored.photo_ref).unlink()  # type: ignore[attr-defined]
        else:
            with context.sessions() as session:
                session.execute(update(Application).where(Application.id == stored.id).values(photo_sha256="0" * 64))
                session.commit()
        assert _second_job(face_server).run_once() == 2
        for body in (crashing, gone):
            status = _status(face_server, body["application_id"])
            assert (status["photo_check"], status["photo_rule"]) == ("retake_needed", "photo_unreadable")
    finally:
        context.photo_checks.start()


def test_checks_in_the_request_refuse_a_face_that_breaks_a_rule(demo_pki: DemoPki, tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'request.db'}", secret_file=tmp_path / "server.secret",
        tls_certfile=demo_pki.server_cert, tls_keyfile=demo_pki.server_key, kiosk_ca_file=demo_pki.ca_cert,
        kiosks={"kiosk-01": demo_pki.kiosks["kiosk-01"].fingerprint}, photo_checks_in="request",
    )
    with BackgroundServer(settings) as background:
        server = LiveServer(backend="sqlite", db_url=settings.database_url, pki=demo_pki,
                            foreign_client=(Path(), Path()), background=background, clock=MovableClock(),
                            logs=LogCapture(), secret_file=settings.secret_file)
        try:
            refused = server.submit(application_body(EYES_CLOSED))
            assert refused.status_code == 422 and refused.json()["error"] == "photo_eyes_open"
            taken = server.submit(application_body(GOOD))
            assert taken.status_code == 201 and taken.json()["photo_check"] == "passed"
        finally:
            server.close_sessions()
