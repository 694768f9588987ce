"""The central client against a real HTTPS server on loopback that requires a client certificate."""

from __future__ import annotations

import pytest

from kiosk.services.errors import Conflict, Rejected, ServerError, ServerTimeout, ServerUnreachable, TlsError
from tests.services import synthetic
from tests.services.fake_central import FakeCentral

KEY_A = "aaaaaaaa-1111-2222-3333-444444444444"
KEY_B = "bbbbbbbb-1111-2222-3333-444444444444"


def test_submit_is_idempotent_under_the_same_key(central, make_client) -> None:
    client = make_client(central.url)
    application = synthetic.application(1)
    first = client.submit_application(application, KEY_A)
    again = client.submit_application(application, KEY_A)
    assert first.duplicate is False and again.duplicate is True
    assert first.receipt_id == again.receipt_id
    assert first.application_id_masked.endswith(application["application_id"][-4:])
    assert len(central.ledger.applications) == 1
    assert central.ledger.peers == {"test-kiosk-01"}  # the client certificate was presented


def test_conflicts(central, make_client) -> None:
    client = make_client(central.url)
    application = synthetic.application(1)
    client.submit_application(application, KEY_A)
    with pytest.raises(Conflict) as other_body:
        client.submit_application(synthetic.application(2), KEY_A)
    assert other_body.value.code == "idempotency_key_reused"
    with pytest.raises(Conflict) as other_key:
        client.submit_application(application, KEY_B)
    assert other_key.value.code == "already_submitted"


def test_server_not_vouched_for_by_our_ca(central, make_client, pki) -> None:
    client = make_client(central.url, ca_bundle=pki.stranger_ca_cert)
    with pytest.raises(TlsError, match="does not vouch"):
        client.health()


def test_client_certificate_from_another_ca_is_refused(central, make_client, pki) -> None:
    client = make_client(central.url, client_cert=pki.stranger_client_cert, client_key=pki.stranger_client_key)
    # Either the alert arrives ("refused this kiosk's client certificate") or, when it loses the race
    # against our request body, a bare close ("may have refused this kiosk's client certificate").
    with pytest.raises(TlsError, match="refused this kiosk's client certificate"):
        client.submit_application(synthetic.application(1), KEY_A)
    assert central.ledger.applications == {}


def test_key_that_does_not_match_the_certificate(central, make_client, pki) -> None:
    client = make_client(central.url, client_key=pki.stranger_client_key)
    with pytest.raises(TlsError, match="cannot be used"):
        client.health()


def test_missing_client_key_file(central, make_client, pki) -> None:
    client = make_client(central.url, client_key=pki.folder / "absent.key")
    with pytest.raises(TlsError, match="missing or unreadable"):
        client.health()


def test_environment_cannot_swap_the_ca_or_add_a_proxy(central, make_client, pki, monkeypatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki.stranger_ca_cert))
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert make_client(central.url).health() is True


def test_server_down(pki, make_client) -> None:
    server = FakeCentral(pki).start()
    url = server.url
    server.stop()
    with pytest.raises(ServerUnreachable, match="cannot be reached"):
        make_client(url).health()


def test_server_restarted_while_the_pool_holds_a_connection(central, make_client) -> None:
    client = make_client(central.url)
    assert client.health()
    central.stop()
    with pytest.raises(ServerUnreachable):
        client.health()
    central.start()
    assert client.health()


def test_slow_answer_times_out_but_was_stored(central, make_client) -> None:
    central.mode, central.slow_seconds = "slow", 5.0
    client = make_client(central.url, read_timeout=0.3)
    with pytest.raises(ServerTimeout) as info:
        client.submit_application(synthetic.application(1), KEY_A)
    assert info.value.phase == "read"
    assert len(central.ledger.applications) == 1


def test_answer_dropped_after_commit(central, make_client) -> None:
    central.script.append("drop")
    client = make_client(central.url)
    application = synthetic.application(1)
    with pytest.raises(ServerUnreachable):
        client.submit_application(application, KEY_A)
    retry = client.submit_application(application, KEY_A)
    assert retry.duplicate is True
    assert len(central.ledger.applications) == 1


def test_500_and_422(central, make_client) -> None:
    client = make_client(central.url)
    central.script.extend(["error500", "reject"])
    with pytest.raises(ServerError) as failed:
        client.submit_application(synthetic.application(1), KEY_A)
    assert failed.value.status == 500
    with pytest.raises(Rejected) as refused:
        client.submit_application(synthetic.application(1), KEY_A)
    assert (refused.value.status, refused.value.code, refused.value.retryable) == (422, "invalid_photo", False)


def test_handover_heartbeat_certificate_status(central, make_client) -> None:
    client = make_client(central.url)
    ack = client.record_handover("P-0001", card_auth_cert_serial="0A1B2C", handed_over_at="2026-11-26T10:00:00Z",
                                 grant="TEST-GRANT-" + "0" * 32, idempotency_key=KEY_A,
                                 **synthetic.handover_details())
    assert ack.http_status == 201 and ack.receipt_id and not ack.duplicate
    assert client.heartbeat(version="0.1.0", reader_state="ready", outbox_depth=3,
                            outbox_oldest_age_seconds=12.5)["ok"] is True
    assert central.ledger.heartbeats[-1]["outbox_depth"] == 3
    central.revoked_serials.add("0A1B2C")
    assert client.certificate_status("issuer-1", "0A1B2C").status == "revoked"
    assert client.certificate_status("issuer-1", "FFFF").status == "good"
