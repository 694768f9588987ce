"""``GET /metrics``: Prometheus text — requests by route template (never the raw path), gauges read from the
database at scrape time, who may scrape, nothing personal, and counts that add up over ``--workers 2``."""

from __future__ import annotations

import itertools
import os
import re
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from prometheus_client.parser import text_string_to_metric_families

from drivers.sim.pki import certificate_authority, make_crl
from server.cli import main as cli_main
from server.metrics import multiprocess_directory
from server.pki_demo import DemoPki
from server.serve import BackgroundServer
from server.settings import Settings
from tests.server.helpers import LiveServer, LogCapture, MovableClock, application_body, noise_jpeg, now_iso
from tests.server.pgcluster import PgCluster
from tests.server.serve_helpers import free_port, serve_process, write_config

pytestmark = pytest.mark.server

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(value for (sample, found), value in samples.items() if sample == name and wanted <= found)


def one(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def _settings(db_url: str, pki: DemoPki, directory: Path, **changes: object) -> Settings:
    return Settings(
        database_url=db_url,
        secret_file=directory / "server.secret",
        tls_certfile=pki.server_cert,
        tls_keyfile=pki.server_key,
        kiosk_ca_file=pki.ca_cert,
        client_cert_mode="optional",  # a scraper connects without a kiosk certificate
        kiosks={k: pki.kiosks[k].fingerprint for k in ("kiosk-01", "kiosk-02")},
        photo_face_checks=False,
    ).replace(**changes)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def metered(
    request: pytest.FixtureRequest, demo_pki: DemoPki, foreign_client: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    """A server of this module's own (its gauges count only what these tests sent), per backend."""
    directory = tmp_path_factory.mktemp("metrics")
    if request.param == "sqlite":
        url = f"sqlite:///{directory / 'server.db'}"
    else:
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        url = cluster.create_database(f"metrics_{secrets.token_hex(4)}")
    clock = MovableClock()
    settings = _settings(url, demo_pki, directory)
    background = BackgroundServer(settings, clock=clock)
    live = LiveServer(request.param, url, demo_pki, foreign_client, background, clock, LogCapture(),
                      settings.secret_file)
    background.start()
    try:
        yield live
    finally:
        live.close_sessions()
        background.stop()


def scrape(server: LiveServer, session: requests.Session | None = None) -> tuple[str, Samples]:
    response = (session or server.session(None)).get(server.url("/metrics"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return response.text, parse(response.text)


def test_requests_are_counted_by_route_template_never_by_the_raw_path(metered: LiveServer) -> None:
    kiosk = metered.session("kiosk-01")
    ids = ["".join(secrets.choice("0123456789") for _ in range(23)) for _ in range(3)]
    _, before = scrape(metered)
    for application_id in ids:
        assert kiosk.get(metered.url(f"/v1/applications/{application_id}/status")).status_code == 404
    stray = f"/no-such-place/{secrets.randbelow(10**12):012d}"
    assert kiosk.get(metered.url(stray)).status_code == 404
    text, after = scrape(metered)

    route = "/v1/applications/{application_id}/status"
    requests_total = "kiosk_server_http_requests_total"
    assert total(after, requests_total, route=route, method="GET", status="404") - total(
        before, requests_total, route=route, method="GET", status="404") == 3
    duration = "kiosk_server_http_request_duration_seconds_count"
    assert total(after, duration, route=route, method="GET") - total(before, duration, route=route, method="GET") == 3
    buckets = sorted((float(dict(labels)["le"]), value) for (name, labels), value in after.items()
                     if name == "kiosk_server_http_request_duration_seconds_bucket" and dict(labels)["route"] == route)
    assert buckets[-1][0] == float("inf") and buckets[-1][1] == total(after, duration, route=route)
    assert all(a[1] <= b[1] for a, b in itertools.pairwise(buckets))  # cumulative
    assert total(after, requests_total, route="<unmatched>") - total(before, requests_total, route="<unmatched>") == 1
    for application_id in ids:
        assert application_id not in text
    assert "no-such-place" not in text
    assert total(after, requests_total, route="/metrics", status="200") >= 1  # the scrape before this one


def test_gauges_are_read_from_the_database_when_scraped(metered: LiveServer, tmp_path: Path) -> None:
    kiosk = metered.session("kiosk-01")
    _, before = scrape(metered)
    for _ in range(2):
        assert metered.submit(application_body(noise_jpeg(600, 800, seed=secrets.randbelow(999)))).status_code == 201
    call = {"call_id": str(uuid.uuid4()), "called_at": now_iso()}
    assert kiosk.post(metered.url("/v1/staff-calls"), json=call).status_code == 201
    beat = {"version": "1.0.0", "reader_state": "ok", "outbox_depth": 0}
    assert kiosk.post(metered.url("/v1/kiosks/heartbeat"), json=beat).status_code == 200
    crl, ca = tmp_path / "auth.crl", tmp_path / "ca.pem"
    authority = certificate_authority("auth", "g2")
    issued = datetime.now(UTC) - timedelta(minutes=10)
    crl.write_bytes(make_crl(authority, [0x1234], this_update=issued, next_update=issued + timedelta(days=1),
                             crl_number=int(time.time())))
    ca.write_bytes(authority.certificate.public_bytes(serialization.Encoding.PEM))
    assert cli_main(["import-crl", str(crl), "--ca", str(ca), "--db", metered.db_url,
                     "--secret-file", str(metered.secret_file)]) == 0
    _, after = scrape(metered)

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert grew("kiosk_server_applications", status="received") == 2
    assert one(after, "kiosk_server_applications", status="picked_up") == 0  # every state is listed, 0 too
    assert grew("kiosk_server_applications_received_last_hour") == 2
    assert grew("kiosk_server_staff_calls_open") == 1
    assert one(after, "kiosk_server_kiosks", state="online") == 1  # kiosk-01; kiosk-02 has never sent one
    assert one(after, "kiosk_server_kiosks", state="never_seen") == 1
    assert one(after, "kiosk_server_kiosks_by_health", health="ok") == 1
    assert one(after, "kiosk_server_crls") == 1
    age = one(after, "kiosk_server_crl_age_seconds")
    assert age is not None and 600 - 5 <= age <= 600 + 120
    left = one(after, "kiosk_server_crl_next_update_seconds")
    assert left is not None and 86400 - 600 - 120 <= left <= 86400 - 600 + 5
    assert one(after, "kiosk_server_database_up") == 1
    build = [dict(labels) for (name, labels), _ in after.items() if name == "kiosk_server_build_info"]
    assert len(build) == 1 and build[0]["api_version"] == "1.0.0" and build[0]["schema"]

    # the background job checks the photos: pending falls to 0
    deadline = time.monotonic() + 30
    while one(scrape(metered)[1], "kiosk_server_photo_checks_pending") != 0:
        assert time.monotonic() < deadline, "the photo checks stayed pending"
        time.sleep(0.2)

    metered.clock.advance(timedelta(hours=2))  # the gauges are the server's "now", not the scraper's
    try:
        _, later = scrape(metered)
        assert one(later, "kiosk_server_applications_received_last_hour") == 0
        assert one(later, "kiosk_server_kiosks", state="silent") == 1
        assert one(later, "kiosk_server_kiosks_needing_attention") == 1
        oldest_call = one(later, "kiosk_server_staff_call_oldest_open_seconds")
        assert oldest_call is not None and oldest_call >= 7200
        later_left = one(later, "kiosk_server_crl_next_update_seconds")
        assert later_left is not None and left - later_left >= 7200 - 5
    finally:
        metered.clock.reset()
    assert kiosk.delete(metered.url(f"/v1/staff-calls/{call['call_id']}")).status_code == 200
    assert total(scrape(metered)[1], "kiosk_server_staff_calls_open") == total(before, "kiosk_server_staff_calls_open")


def test_no_personal_data_in_the_metrics(metered: LiveServer) -> None:
    kiosk = metered.session("kiosk-02")
    tag = secrets.token_hex(4)
    sent: list[str] = []
    for _ in range(3):
        body = application_body(noise_jpeg(600, 800, seed=secrets.randbelow(999)),
                                contact={"name": f"計測 花子 {tag}", "email": f"m-{tag}@example.invalid",
                                         "phone": "+81 90 1234 5678"})
        key = str(uuid.uuid4())
        answer = metered.submit(body, key=key, kiosk="kiosk-02")
        assert answer.status_code == 201, answer.text
        sent += [body["application_id"], key, answer.json()["receipt_id"]]
        assert kiosk.get(metered.url(f"/v1/applications/{body['application_id']}")).status_code == 200
    call_id = str(uuid.uuid4())
    assert kiosk.post(metered.url("/v1/staff-calls"), json={"call_id": call_id, "called_at": now_iso()}).status_code \
        == 201
    text, samples = scrape(metered)
    assert total(samples, "kiosk_server_http_requests_total", route="/v1/applications") >= 3  # they were counted
    for value in [*sent, call_id, f"計測 花子 {tag}", f"m-{tag}@example.invalid", "+81 90 1234 5678", tag]:
        assert value not in text, f"{value!r} appears in /metrics"
    labels = {key for (_, found) in samples for key, _ in found}
    assert labels <= {"route", "method", "status", "le", "state", "health", "version", "api_version", "schema",
                      "python"}


def _server(settings: Settings) -> BackgroundServer:
    return BackgroundServer(settings, clock=MovableClock())


def _get(base: str, pki: DemoPki, path: str, **headers: str) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False
        session.verify = str(pki.ca_cert)
        return session.get(base + path, headers=headers)


def test_who_may_scrape(demo_pki: DemoPki, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    with _server(_settings(url, demo_pki, tmp_path)) as server:  # default: this machine, no certificate needed
        assert _get(server.base_url, demo_pki, "/metrics").status_code == 200
    with _server(_settings(url, demo_pki, tmp_path, metrics_allow=("10.0.0.0/8", "2001:db8::/32"))) as server:
        refused = _get(server.base_url, demo_pki, "/metrics")
        assert refused.status_code == 403
        assert refused.json()["error"] == "metrics_forbidden"
        assert "[metrics] allow" in refused.json()["message"]
    token = secrets.token_urlsafe(24)
    token_file = tmp_path / "metrics.token"
    token_file.write_text(token + "\n", encoding="utf-8")
    with _server(_settings(url, demo_pki, tmp_path, metrics_token_file=token_file)) as server:
        assert _get(server.base_url, demo_pki, "/metrics").status_code == 403
        assert _get(server.base_url, demo_pki, "/metrics", Authorization="Bearer wrong").status_code == 403
        scraped = _get(server.base_url, demo_pki, "/metrics", Authorization=f"Bearer {token}")
        assert scraped.status_code == 200
        assert token not in scraped.text
    with _server(_settings(url, demo_pki, tmp_path, metrics_enabled=False)) as server:
        assert _get(server.base_url, demo_pki, "/metrics").status_code == 404


def test_metrics_settings_are_checked() -> None:
    settings = Settings.from_mapping({"metrics": {"allow": ["192.0.2.7", "10.1.0.0/16"], "enabled": True}})
    assert settings.metrics_allow == ("192.0.2.7/32", "10.1.0.0/16")
    with pytest.raises(ValueError, match="'not-an-address' is not an IP address"):
        Settings.from_mapping({"metrics": {"allow": ["not-an-address"]}})
    with pytest.raises(ValueError, match=r"metrics\.allow must be a list"):
        Settings.from_mapping({"metrics": {"allow": "127.0.0.1"}})
    with pytest.raises(ValueError, match=r"unknown key\(s\): metrics\.port"):
        Settings.from_mapping({"metrics": {"port": 9100}})


def test_the_multiprocess_directory_refuses_a_library_imported_too_early() -> None:
    # this test process has imported prometheus_client already (the in-process servers above use it)
    with pytest.raises(RuntimeError, match="imported before the metrics directory was set"), multiprocess_directory():
        pass


def _gone_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


_WORKER = re.compile(r"\[(\d+)\] INFO server\.access .*route=(/v1/kiosks/heartbeat|/metrics) status=200")


@pytest.mark.slow
def test_two_workers_report_every_request_once(demo_pki: DemoPki, tmp_path: Path) -> None:
    """Each scrape, whichever worker answers it, counts every heartbeat either worker took — exactly once."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    killed = scratch / f"kiosk-server-metrics-{_gone_pid()}-left"  # a server killed outright (SIGKILL)
    (killed / "sub").mkdir(parents=True)
    alive = scratch / f"kiosk-server-metrics-{os.getpid()}-alive"  # another server that still runs
    alive.mkdir()
    config = write_config(tmp_path, demo_pki, f"sqlite:///{tmp_path / 'db.sqlite'}", port=free_port())
    beats = 24
    with serve_process(config, demo_pki, workers=2, env={"TMPDIR": str(scratch)}) as running:
        made = [p for p in scratch.glob("kiosk-server-metrics-*") if p != alive]
        assert len(made) == 1 and (made[0].stat().st_mode & 0o777) == 0o700
        assert made[0].name.startswith(f"kiosk-server-metrics-{running.process.pid}-")

        def beat(index: int) -> int:
            with running.client(("kiosk-01", "kiosk-02")[index % 2]) as session:
                return session.post(f"{running.base_url}/v1/kiosks/heartbeat",
                                    json={"version": "1.0.0", "reader_state": "ok", "outbox_depth": 0}).status_code

        sent = 0
        for _round in range(10):  # until the heartbeats have reached both workers
            with ThreadPoolExecutor(max_workers=8) as pool:
                assert set(pool.map(beat, range(beats))) == {200}
            sent += beats
            if len({pid for pid, route in _WORKER.findall(running.text()) if route != "/metrics"}) == 2:
                break

        def scrape_once(_index: int) -> float:
            with running.client(None) as session:
                response = session.get(f"{running.base_url}/metrics")
            assert response.status_code == 200
            return total(parse(response.text), "kiosk_server_http_requests_total", route="/v1/kiosks/heartbeat",
                         status="200")

        counts: list[float] = []
        served: dict[str, set[int]] = {}
        for _round in range(10):  # until both workers have answered scrapes (the kernel picks the worker)
            with ThreadPoolExecutor(max_workers=4) as pool:
                counts += pool.map(scrape_once, range(8))
            served = {}
            for pid, route in _WORKER.findall(running.text()):
                served.setdefault(route, set()).add(int(pid))
            if len(served.get("/metrics", ())) == 2:
                break
    assert counts == [sent] * len(counts)
    assert len(served["/v1/kiosks/heartbeat"]) == 2, "the heartbeats did not reach both workers"
    assert len(served["/metrics"]) == 2, f"every scrape was answered by one worker: {served}"
    assert list(scratch.glob("kiosk-server-metrics-*")) == [alive]  # its own removed at the end, the dead one's
    # at the start; a running server's left alone
