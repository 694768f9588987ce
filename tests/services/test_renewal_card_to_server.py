"""A renewal from card to server: the simulated card in pcscd's virtual reader, the kiosk's own client and
outbox, the reference server verifying against the simulator's test JPKI CAs.

The whole chain the lead's flow will run, minus the screens: read the auth certificate through pyscard →
pcscd → vpcd → the simulated card (profile ``renewal-due``: certificates 45 days from expiry), ask the
server for a nonce, let the card sign ``digest_info(renewal_message(nonce, payload))`` after the auth PIN,
queue the request as an outbox ``renewal`` item and let the flusher deliver it. The server is configured
like a city's: the JPKI auth CAs from files (it never imports the simulator) and current CRLs imported, so
revocation is really checked. A payload changed after signing ends dead with ``signature_invalid``.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from contract.renewal import digest_info, encode_nonce, renewal_message
from drivers import pcsc
from drivers.errors import TransportError
from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.certificates import parse_certificate
from drivers.sim.card import SimulatedCard
from drivers.sim.profile import load_card_image, load_profile
from drivers.sim.vpicc import VpiccServer
from kiosk.services import pcscd
from kiosk.services.central import CentralClient
from kiosk.services.errors import RateLimited, Rejected, RenewalRefused, RenewalUnavailable, ServerError
from kiosk.services.outbox import Backoff, Flusher, FlushEvent, Outbox, central_delivery
from tests.conftest import REPO
from tests.services import synthetic
from tests.services.fake_central import wait_until
from tests.services.real_central import (
    RealCentral,
    city_trusting_the_simulator,
    import_simulator_crls,
    unavailable_reason,
)

pytestmark = pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))

PROFILE = REPO / "config" / "cards" / "renewal-due.toml"


def _wait_for_card(reader: str, present: bool, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            states = {state.name: state for state in pcsc.reader_states()}
        except TransportError:
            states = {}
        if reader in states and states[reader].card_present == present:
            return
        time.sleep(0.01)
    raise AssertionError(f"{reader!r} did not show {'a' if present else 'no'} card within {timeout} s")


@pytest.fixture
def card_in_reader(vpcd_readers: list[str]) -> Iterator[tuple[str, SimulatedCard]]:
    """The renewal-due card on vpcd reader 0 for the test; out again (and pcscd sees it) afterwards."""
    card = SimulatedCard(load_card_image(PROFILE))
    server = VpiccServer(card, port=pcscd.vpcd_port(0))
    server.insert()
    try:
        _wait_for_card(vpcd_readers[0], present=True)
        yield vpcd_readers[0], card
    finally:
        server.remove()
        if pcsc.service_available():
            _wait_for_card(vpcd_readers[0], present=False)


@pytest.fixture
def city(tmp_path: Path) -> Iterator[RealCentral]:
    """A city's server with current CRLs of the test auth CAs imported: revocation is really checked."""
    server = city_trusting_the_simulator(tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def city_without_crls(tmp_path: Path) -> Iterator[RealCentral]:
    server = city_trusting_the_simulator(tmp_path, crls=False)
    try:
        yield server
    finally:
        server.stop()


def _payload() -> dict[str, Any]:
    return {
        "photo_jpeg_base64": base64.b64encode(synthetic.jpeg_photo()).decode("ascii"),  # passes the face rules
        "contact": {"email": "yoteiko.koushin@example.invalid"},
        "options": {"electronic_certificates": True, "braille_name": "コウシンヨテイコ"},
        "submitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _sign_at_the_kiosk(reader: str, client: CentralClient, payload: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """What the flow does at submit: nonce from the server, the card signs; returns the request and the cert."""
    auth_pin = bytearray(load_profile(PROFILE).pins.auth.encode("ascii"))
    with pcsc.connect(reader) as transport:
        card = MyNumberCard(transport)
        certificate = card.jpki.read_auth_certificate()
        nonce = client.renewal_nonce()
        assert len(nonce.nonce) == 32 and nonce.expires_at > datetime.now(UTC) + timedelta(hours=23)
        signature = card.jpki.sign_with_auth_key(digest_info(renewal_message(nonce.nonce, payload)), auth_pin)
    assert auth_pin == bytearray(len(auth_pin))  # the driver zeroed the PIN buffer it was given
    assert len(signature) == 256
    body = {
        "nonce": encode_nonce(nonce.nonce),
        "auth_certificate": base64.b64encode(certificate).decode("ascii"),
        "signature": base64.b64encode(signature).decode("ascii"),
        "payload": payload,
    }
    return body, certificate


def _deliver(outbox: Outbox, client: CentralClient) -> list[FlushEvent]:
    events: list[FlushEvent] = []
    with Flusher(outbox, central_delivery(client), poll_seconds=0.05, listener=events.append):
        outbox.flush_now()
        assert wait_until(lambda: outbox.status().depth == 0, timeout=30)
    return events


@pytest.mark.pcsc
def test_the_card_signs_the_outbox_delivers_the_server_stores_one_renewal(
    card_in_reader: tuple[str, SimulatedCard], city: RealCentral, make_client, make_outbox
) -> None:
    reader, card = card_in_reader
    client = make_client(city.url, **city.client_options())
    body, certificate = _sign_at_the_kiosk(reader, client, _payload())
    assert card.pin("jpki", 0x0018).remaining == 3  # the right PIN: no try spent

    outbox = make_outbox(backoff=Backoff(0.05, 0.2))
    receipt = outbox.enqueue("renewal", body)
    events = _deliver(outbox, client)

    status = outbox.status()
    assert status.dead == () and status.delivered == 1
    assert [e.outcome for e in events] == ["delivered"] and events[0].local_number == receipt.local_number
    stored = city.renewals()
    assert len(stored) == 1
    receipt_id, kiosk_id, serial, state, nonce_used = stored[0]
    assert receipt_id == events[0].receipt_id and receipt_id.startswith("R-")
    assert (kiosk_id, state, nonce_used) == ("test-kiosk-01", "received", 1)
    assert serial == format(parse_certificate(certificate).serial, "x")


@pytest.mark.pcsc
def test_a_payload_changed_after_signing_is_dead_with_signature_invalid(
    card_in_reader: tuple[str, SimulatedCard], city: RealCentral, make_client, make_outbox
) -> None:
    reader, _card = card_in_reader
    client = make_client(city.url, **city.client_options())
    body, _certificate = _sign_at_the_kiosk(reader, client, _payload())
    body["payload"] = {**body["payload"], "options": {"electronic_certificates": False, "braille_name": None}}

    outbox = make_outbox(backoff=Backoff(0.05, 0.2))
    outbox.enqueue("renewal", body)
    events = _deliver(outbox, client)

    status = outbox.status()
    assert status.delivered == 0 and len(status.dead) == 1
    assert (status.dead[0].kind, status.dead[0].last_error, status.dead[0].attempts) == (
        "renewal", "signature_invalid", 1)
    assert [(e.outcome, e.error) for e in events] == [("dead", "signature_invalid")]
    assert city.renewals() == []


@pytest.mark.pcsc
def test_revocation_not_checked_waits_and_lands_once_the_city_has_a_crl(
    card_in_reader: tuple[str, SimulatedCard], city_without_crls: RealCentral, make_client, make_outbox
) -> None:
    """No current CRL yet: 503 revocation_not_checked is server trouble, so the item waits (never accepted
    unchecked, never given up); the city imports its CRLs and the same signed item lands."""
    reader, _card = card_in_reader
    city = city_without_crls
    client = make_client(city.url, **city.client_options())
    body, _certificate = _sign_at_the_kiosk(reader, client, _payload())
    outbox = make_outbox(backoff=Backoff(0.05, 0.2))
    outbox.enqueue("renewal", body)
    events: list[FlushEvent] = []
    with Flusher(outbox, central_delivery(client), poll_seconds=0.05, listener=events.append):
        outbox.flush_now()
        assert wait_until(lambda: outbox.status().last_error == "revocation_not_checked")
        assert city.renewals() == [] and outbox.status().depth == 1
        import_simulator_crls(city)
        outbox.flush_now()
        assert wait_until(lambda: outbox.status().depth == 0, timeout=30)
    status = outbox.status()
    assert status.dead == () and status.delivered == 1
    assert events[0].outcome == "retry" and events[-1].outcome == "delivered"
    assert len(city.renewals()) == 1


# --- the client's mapping of the renewal answers (mocked session, like tests/services/test_central_errors.py) ---


def _answer(status: int, body: object) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers["Retry-After"] = "7"
    return response


def _mocked_client(mocker: Any, status: int, body: object) -> CentralClient:
    session = mocker.Mock(spec=requests.Session)
    session.request.return_value = _answer(status, body)
    return CentralClient("https://central.test:8443", ca_bundle="/etc/test/ca.pem", client_cert="/etc/test/k.pem",
                         client_key="/etc/test/k.key", session=session)


def _request_body() -> dict[str, Any]:
    payload = {"photo_jpeg_base64": "AAAA", "options": {"electronic_certificates": True},
               "submitted_at": "2026-12-14T10:00:00Z"}
    return {"nonce": encode_nonce(bytes(32)), "auth_certificate": "MIIB", "signature": "AAAA", "payload": payload}


@pytest.mark.parametrize(
    ("status", "code", "error", "outbox_code"),
    [
        (403, "signature_invalid", RenewalRefused, "signature_invalid"),
        (403, "nonce_expired", RenewalRefused, "nonce_expired"),
        (409, "nonce_used", RenewalRefused, "nonce_used"),
        (422, "not_in_renewal_window", RenewalRefused, "not_in_renewal_window"),
        (422, "photo_too_small", RenewalRefused, "photo_too_small"),
        (403, "kiosk_unknown", Rejected, "kiosk_unknown"),  # the kiosk's setup, not the renewal: it waits
        (503, "revocation_not_checked", RenewalUnavailable, "revocation_not_checked"),
        (503, "renewals_not_configured", RenewalUnavailable, "renewals_not_configured"),
        (500, "internal_error", ServerError, "http_500"),
    ],
)
def test_submit_renewal_maps_each_answer(mocker: Any, status: int, code: str, error: type[Exception],
                                         outbox_code: str) -> None:
    client = _mocked_client(mocker, status, {"error": code, "message": "refused"})
    with pytest.raises(error) as caught:
        client.submit_renewal(_request_body(), "0123456789abcdef0123")
    assert type(caught.value) is error and caught.value.code == outbox_code  # type: ignore[attr-defined]
    assert caught.value.retryable is (error in (RenewalUnavailable, ServerError))  # type: ignore[attr-defined]


def test_the_nonce_and_its_refusals(mocker: Any) -> None:
    nonce = bytes(range(32))
    good = _mocked_client(mocker, 201, {"nonce": encode_nonce(nonce), "expires_at": "2026-12-15T01:00:00Z"})
    answer = good.renewal_nonce()
    assert answer.nonce == nonce and answer.expires_at == datetime(2026, 12, 15, 1, 0, tzinfo=UTC)
    assert "nonce" not in repr(answer).replace("RenewalNonce", "")  # the nonce never shows in a repr
    with pytest.raises(RateLimited) as limited:
        _mocked_client(mocker, 429, {"error": "too_many_nonces", "retry_after_seconds": 7}).renewal_nonce()
    assert limited.value.retry_after == 7
    with pytest.raises(RenewalUnavailable) as off:
        _mocked_client(mocker, 503, {"error": "renewals_not_configured", "message": "x"}).renewal_nonce()
    assert off.value.code == "renewals_not_configured"
    with pytest.raises(ServerError):
        _mocked_client(mocker, 201, {"nonce": "short", "expires_at": "2026-12-15T01:00:00Z"}).renewal_nonce()
    with pytest.raises(ServerError):
        _mocked_client(mocker, 201, {"nonce": encode_nonce(nonce), "expires_at": "2026-12-15T01:00:00"}).renewal_nonce()


def test_a_malformed_renewal_is_refused_before_anything_is_sent(mocker: Any) -> None:
    client = _mocked_client(mocker, 201, {"receipt_id": "R-1"})
    with pytest.raises(ValueError, match="payload"):
        client.submit_renewal({**_request_body(), "payload": {}}, "0123456789abcdef0123")
    client._session.request.assert_not_called()  # type: ignore[attr-defined]
