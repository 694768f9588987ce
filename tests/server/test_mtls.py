"""Kiosk identity over real mTLS: who is let in, who is refused, and how the refusal reads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import requests

from server.pki_demo import DemoPki
from server.serve import BackgroundServer
from server.settings import Settings
from tests.server.helpers import LiveServer, in_process

pytestmark = pytest.mark.server

HEARTBEAT = {"version": "0.1.0", "reader_state": "ok", "outbox_depth": 0}


def test_a_registered_kiosk_is_accepted_and_identified(server: LiveServer) -> None:
    response = server.session("kiosk-02").post(server.url("/v1/kiosks/heartbeat"), json=HEARTBEAT)
    assert response.status_code == 200, response.text
    assert response.json()["kiosk_id"] == "kiosk-02"  # the identity came from the certificate, not the body
    assert response.headers["x-request-id"]


def test_a_ca_signed_but_unregistered_kiosk_gets_a_clear_403(server: LiveServer) -> None:
    response = server.session("kiosk-unregistered").post(server.url("/v1/kiosks/heartbeat"), json=HEARTBEAT)
    assert response.status_code == 403
    body = response.json()
    assert body["error"] == "kiosk_unknown"
    assert server.pki.kiosks["kiosk-unregistered"].fingerprint in body["message"]
    assert "add-kiosk" in body["message"]


def test_a_certificate_from_a_foreign_ca_is_refused_in_the_handshake(server: LiveServer) -> None:
    session = server.session(None, cert=server.foreign_client)
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(server.url("/healthz"), timeout=10)


def test_no_client_certificate_is_refused_in_the_handshake(server: LiveServer) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        server.session(None).get(server.url("/healthz"), timeout=10)


def test_the_server_certificate_is_checked_by_clients(server: LiveServer, tmp_path: Path) -> None:
    """A kiosk that trusts another CA must not talk to this server (no silent verify=False anywhere)."""
    other_ca = tmp_path / "other.pem"
    other_ca.write_bytes(server.foreign_client[0].read_bytes())
    session = server.session("kiosk-01")
    session.verify = str(other_ca)
    with pytest.raises(requests.exceptions.SSLError):
        session.get(server.url("/healthz"), timeout=10)


def test_the_app_checks_the_issuer_itself(demo_pki: DemoPki, foreign_client: tuple[Path, Path], tmp_path: Path) -> None:
    """Defence in depth: behind a proxy that forwards any certificate, the app still refuses foreign ones."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        secret_file=tmp_path / "secret",
        kiosk_ca_file=demo_pki.ca_cert,
        kiosks={"kiosk-01": demo_pki.kiosks["kiosk-01"].fingerprint},
    )
    with in_process(settings, foreign_client[0].read_text()) as call:
        response = call("POST", "/v1/kiosks/heartbeat", json=HEARTBEAT)
    assert response.status_code == 403
    assert response.json()["error"] == "kiosk_certificate_untrusted"
    with in_process(settings, demo_pki.kiosks["kiosk-01"].cert.read_text()) as call:
        assert call("POST", "/v1/kiosks/heartbeat", json=HEARTBEAT).status_code == 200
    with in_process(settings, None) as call:
        response = call("POST", "/v1/kiosks/heartbeat", json=HEARTBEAT)
        assert response.status_code == 403
        assert response.json()["error"] == "kiosk_certificate_required"
        assert call("GET", "/healthz").status_code == 200


def test_oversized_bodies_are_refused_before_they_are_read(demo_pki: DemoPki, tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        secret_file=tmp_path / "secret",
        kiosk_ca_file=demo_pki.ca_cert,
        kiosks={"kiosk-01": demo_pki.kiosks["kiosk-01"].fingerprint},
        max_body_bytes=1000,
    )
    with in_process(settings, demo_pki.kiosks["kiosk-01"].cert.read_text()) as call:
        response = call(
            "POST", "/v1/kiosks/heartbeat", content=b"x" * 2000, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json()["error"] == "payload_too_large"

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while streaming
            for _ in range(3):
                yield b" " * 600

        response = call("POST", "/v1/kiosks/heartbeat", content=chunks())
        assert response.status_code == 413


def test_optional_client_certificates_let_health_checks_in_but_not_kiosk_calls(
    demo_pki: DemoPki, tmp_path: Path
) -> None:
    """client_cert_mode=optional (e.g. for a load balancer's health check), over real HTTPS."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        secret_file=tmp_path / "secret",
        tls_certfile=demo_pki.server_cert,
        tls_keyfile=demo_pki.server_key,
        kiosk_ca_file=demo_pki.ca_cert,
        client_cert_mode="optional",
        kiosks={"kiosk-01": demo_pki.kiosks["kiosk-01"].fingerprint},
    )
    with BackgroundServer(settings) as optional, requests.Session() as anonymous:
        anonymous.trust_env = False
        anonymous.verify = str(demo_pki.ca_cert)
        assert anonymous.get(optional.base_url + "/healthz", timeout=10).status_code == 200
        response = anonymous.post(optional.base_url + "/v1/kiosks/heartbeat", json=HEARTBEAT, timeout=10)
        assert response.status_code == 403
        assert response.json()["error"] == "kiosk_certificate_required"
        with requests.Session() as kiosk:
            kiosk.trust_env = False
            kiosk.verify = str(demo_pki.ca_cert)
            credentials = demo_pki.kiosks["kiosk-01"]
            kiosk.cert = (str(credentials.cert), str(credentials.key))
            assert kiosk.post(optional.base_url + "/v1/kiosks/heartbeat", json=HEARTBEAT).status_code == 200
