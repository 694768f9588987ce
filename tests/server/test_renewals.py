"""``/v1/renewals``: a renewal signed by the resident's card, accepted only when every rule holds.

Real RSA keys and certificates are made here, at test time, by JPKI-like test CAs (``jpki_auth_cas`` in
conftest.py: one with CRLs imported by these tests, one never given a CRL). The "card" signs as a real card
does: the host hands it ``digest_info(renewal_message(nonce, payload))`` and it pads (PKCS#1 v1.5) and signs
— here ``Prehashed`` signing of the same SHA-256. Every refusal code has its own test; then success, the
idempotent replay, and exactly-once under two concurrent requests with one nonce.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select

from contract.renewal import decode_nonce, digest_info, encode_nonce, renewal_message
from server import revocation
from server.models import Application, IdempotencyRecord, Renewal, RenewalNonce
from server.settings import Settings
from tests.server.conftest import JpkiTestCa
from tests.server.helpers import (
    LiveServer,
    application_body,
    b64,
    idempotency_key,
    in_process,
    noise_jpeg,
)

pytestmark = pytest.mark.server

PHOTO = noise_jpeg(600, 800, seed=7)
EMAIL = "yoteiko.renewal@example.invalid"
BRAILLE = "コウシンヨテイコ"
_CRL_NUMBERS = itertools.count(int(time.time() * 1000))


# --- a test card: key, certificate, and a signer that behaves like the card --------------------------------


@functools.cache
def _key(index: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


_KEYS = itertools.count()


@dataclass(frozen=True)
class Card:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def der_b64(self) -> str:
        return b64(self.certificate.public_bytes(serialization.Encoding.DER))

    @property
    def cn(self) -> str:
        return str(self.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)

    def sign(self, nonce: bytes, payload: dict[str, Any]) -> str:
        """What the card returns for ``80 2A`` over the DigestInfo: PKCS#1 v1.5 type 1 + RSA."""
        info = digest_info(renewal_message(nonce, payload))
        return b64(self.key.sign(info[19:], padding.PKCS1v15(), Prehashed(hashes.SHA256())))


def _usage(*, digital_signature: bool = True, non_repudiation: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=digital_signature, content_commitment=non_repudiation,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False)


def make_card(
    ca: JpkiTestCa,
    *,
    not_before: datetime | None = None,
    expires_in: timedelta = timedelta(days=45),
    usage: x509.KeyUsage | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
    key: Any = None,
) -> Card:
    """An auth certificate like JPKI's: a serial-like CN only, digitalSignature, clientAuth, AKI = CA's SKI."""
    now = datetime.now(UTC)
    private = key if key is not None else _key(next(_KEYS) % 6)
    cn = "TST" + hashlib.sha256(str(x509.random_serial_number()).encode()).hexdigest()[:20].upper()
    ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                                 x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca.certificate.subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(days=5 * 365))
        .not_valid_after(now + expires_in)
        .add_extension(usage or _usage(), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    )
    uses = eku if eku is not None else [ExtendedKeyUsageOID.CLIENT_AUTH]
    if uses:  # [] leaves the extension out (as on JPKI's sign certificate)
        builder = builder.add_extension(x509.ExtendedKeyUsage(uses), critical=False)
    return Card(private, builder.sign(ca.key, hashes.SHA256()))


def import_crl(server: LiveServer, ca: JpkiTestCa, revoked: tuple[int, ...] = ()) -> None:
    """A fresh CRL for ``ca`` (valid two days from the server's clock), as `kiosk server import-crl` stores it."""
    now = server.clock()
    ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now - timedelta(minutes=1))
        .next_update(now + timedelta(days=2))
        .add_extension(x509.CRLNumber(next(_CRL_NUMBERS)), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
    )
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now - timedelta(hours=1)).build()
        )
    crl = builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    with server.context.sessions() as session:
        revocation.import_crl(session, crl, ca.pem, now=now)
        session.commit()


@pytest.fixture
def ca(server: LiveServer, jpki_auth_cas: dict[str, JpkiTestCa]) -> JpkiTestCa:
    """The configured CA whose CRL the city imported: a fresh one, listing nothing, for every test."""
    import_crl(server, jpki_auth_cas["with_crl"])
    return jpki_auth_cas["with_crl"]


@pytest.fixture(scope="module")
def foreign_ca(tmp_path_factory: pytest.TempPathFactory) -> JpkiTestCa:
    from tests.server.conftest import make_test_jpki_ca

    return make_test_jpki_ca(tmp_path_factory.mktemp("foreign-jpki"), "not_configured", now=datetime.now(UTC))


# --- the conversation ----------------------------------------------------------------------------------------


def payload(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "photo_jpeg_base64": b64(PHOTO),
        "contact": {"email": EMAIL},
        "options": {"electronic_certificates": True, "braille_name": BRAILLE},
        "submitted_at": "2026-12-14T10:00:00+09:00",
    }
    body.update(changes)
    return body


def get_nonce(server: LiveServer, kiosk: str = "kiosk-01") -> bytes:
    response = server.session(kiosk).post(server.url("/v1/renewals/nonces"))
    assert response.status_code == 201, response.text
    return decode_nonce(response.json()["nonce"])


def renewal_body(card: Card, nonce: bytes, body: dict[str, Any] | None = None, *,
                 signed: dict[str, Any] | None = None) -> dict[str, Any]:
    """The request; ``signed`` is what the card signed when it differs from what is sent (tampering)."""
    sent = body if body is not None else payload()
    return {
        "nonce": encode_nonce(nonce),
        "auth_certificate": card.der_b64,
        "signature": card.sign(nonce, signed if signed is not None else sent),
        "payload": sent,
    }


def submit(server: LiveServer, body: dict[str, Any], *, key: str | None = None, kiosk: str = "kiosk-01",
           session: requests.Session | None = None) -> requests.Response:
    client = session or server.session(kiosk)
    return client.post(server.url("/v1/renewals"), json=body, headers={"Idempotency-Key": key or idempotency_key()})


def refused(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert (response.status_code, response.json().get("error")) == (status, code), response.text
    return response.json()


def renewal_count(server: LiveServer) -> int:
    with server.context.sessions() as session:
        return len(session.scalars(select(Renewal.id)).all())


# --- nonces ----------------------------------------------------------------------------------------------------


def test_a_nonce_is_32_random_bytes_stored_only_as_its_hash(server: LiveServer) -> None:
    started = server.clock()
    response = server.session().post(server.url("/v1/renewals/nonces"))
    assert response.status_code == 201
    answer = response.json()
    assert set(answer) == {"nonce", "expires_at"}
    nonce = decode_nonce(answer["nonce"])
    expires_at = datetime.fromisoformat(answer["expires_at"])
    assert timedelta(hours=23, minutes=59) < expires_at - started < timedelta(hours=24, minutes=1)
    assert nonce != get_nonce(server)
    with server.context.sessions() as session:
        row = session.scalar(select(RenewalNonce).where(RenewalNonce.nonce_sha256 == hashlib.sha256(nonce).hexdigest()))
        assert row is not None and row.kiosk_id == "kiosk-01" and row.used_at is None
        columns = [getattr(row, c.key) for c in RenewalNonce.__table__.columns]
    assert not any(answer["nonce"] in str(value) or nonce.hex() in str(value) for value in columns)


def test_nonces_are_rate_limited_per_kiosk(server: LiveServer) -> None:
    """A burst, then 429 with Retry-After; another kiosk has its own budget; time refills it."""
    kiosk = "kiosk-01"
    limiter = server.context.nonces
    for _ in range(limiter.burst):
        get_nonce(server, kiosk)
    response = server.session(kiosk).post(server.url("/v1/renewals/nonces"))
    body = refused(response, 429, "too_many_nonces")
    assert int(response.headers["Retry-After"]) == body["retry_after_seconds"] >= 1
    get_nonce(server, "kiosk-02")  # another kiosk's bucket is untouched
    server.clock.advance(server.context.settings.renewal_nonce_refill)
    get_nonce(server, kiosk)


def test_without_a_configured_auth_ca_renewals_are_unavailable(live: LiveServer, tmp_path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'none.db'}",
        secret_file=tmp_path / "secret",
        kiosk_ca_file=live.pki.ca_cert,
        kiosks={"kiosk-01": live.pki.kiosks["kiosk-01"].fingerprint},
    )
    with in_process(settings, live.pki.kiosks["kiosk-01"].cert.read_text()) as call:
        refused_nonce = call("POST", "/v1/renewals/nonces")
        refused_submit = call("POST", "/v1/renewals", json={}, headers={"Idempotency-Key": idempotency_key()})
    assert (refused_nonce.status_code, refused_nonce.json()["error"]) == (503, "renewals_not_configured")
    assert refused_submit.status_code == 422  # the body is checked first; an empty one is never a renewal


def test_a_ca_file_that_is_not_a_ca_is_refused_at_start(tmp_path, jpki_auth_cas: dict[str, JpkiTestCa]) -> None:
    from server.renewal_checks import load_auth_cas

    ca = jpki_auth_cas["with_crl"]
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(make_card(ca).certificate.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(ValueError, match="not a CA"):
        load_auth_cas([leaf])
    with pytest.raises(ValueError, match="does not exist"):
        load_auth_cas([tmp_path / "missing.pem"])
    folder = tmp_path / "cas"
    folder.mkdir()
    (folder / "a.pem").write_bytes(ca.pem)
    (folder / "notes.txt").write_text("ignored: not a certificate suffix")
    assert len(load_auth_cas([folder]).certificates) == 1


# --- success, replay, exactly once ---------------------------------------------------------------------------


def test_a_valid_renewal_is_stored_once_and_a_retry_gets_the_first_answer(server: LiveServer, ca: JpkiTestCa) -> None:
    card = make_card(ca)
    nonce = get_nonce(server)
    body = renewal_body(card, nonce)
    key = idempotency_key()
    first = submit(server, body, key=key)
    assert first.status_code == 201, first.text
    receipt = first.json()
    assert receipt["status"] == "received" and receipt["receipt_id"].startswith("R-") and receipt["duplicate"] is False
    again = submit(server, body, key=key)
    assert again.status_code == 200 and again.json() == {**receipt, "duplicate": True}
    server.clock.advance(timedelta(days=3))  # the nonce has expired since: a lost answer is still replayed
    assert submit(server, body, key=key).json()["receipt_id"] == receipt["receipt_id"]
    refused(submit(server, body), 409, "nonce_used")  # the same renewal under another key

    with server.context.sessions() as session:
        rows = session.scalars(select(Renewal).where(Renewal.receipt_id == receipt["receipt_id"])).all()
        assert len(rows) == 1
        row = rows[0]
        nonce_row = session.get(RenewalNonce, row.nonce_id)
        assert nonce_row is not None and nonce_row.used_at is not None
        assert nonce_row.nonce_sha256 == hashlib.sha256(nonce).hexdigest()
    keys = server.context.keys
    assert row.status == "received" and row.kiosk_id == "kiosk-01"
    assert row.certificate_serial == format(card.certificate.serial_number, "x")
    ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert row.certificate_issuer_key_id == ski.hex()
    assert keys.unseal(row.photo_sealed, purpose="renewal-photo") == PHOTO
    assert json.loads(keys.unseal(row.contact_sealed, purpose="contact")) == {"email": EMAIL}
    assert json.loads(keys.unseal(row.options_sealed, purpose="options")) == {
        "electronic_certificates": True, "braille_name": BRAILLE}
    evidence = json.loads(keys.unseal(row.evidence_sealed, purpose="renewal-evidence"))
    # The evidence re-verifies the card's signature later, without the payload itself.
    message = b"mynumber-kiosk/renewal/v1\x00" + nonce + bytes.fromhex(evidence["payload_sha256"])
    card.key.public_key().verify(base64.b64decode(evidence["signature"]), message, padding.PKCS1v15(), hashes.SHA256())
    assert evidence["auth_certificate"] == card.der_b64 and evidence["nonce"] == encode_nonce(nonce)


def test_one_nonce_two_concurrent_requests_one_renewal(server: LiveServer, ca: JpkiTestCa) -> None:
    """Two different keys racing with one nonce: one 201, one 409 nonce_used — every round, both backends."""
    for _ in range(4):
        card = make_card(ca)
        nonce = get_nonce(server)
        body = renewal_body(card, nonce)
        sessions = [server.session(), server.session()]
        for session in sessions:  # warm both TLS connections so the race is the requests', not the handshakes'
            session.get(server.url("/healthz"))
        barrier = threading.Barrier(2)
        answers: list[requests.Response] = []
        lock = threading.Lock()

        def post(session: requests.Session, body: dict[str, Any] = body, barrier: threading.Barrier = barrier,
                 answers: list[requests.Response] = answers, lock: threading.Lock = lock) -> None:
            barrier.wait()
            response = submit(server, body, session=session)
            with lock:
                answers.append(response)

        threads = [threading.Thread(target=post, args=(s,)) for s in sessions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
        assert next(r for r in answers if r.status_code == 409).json()["error"] == "nonce_used"
        with server.context.sessions() as session:
            nonce_row = session.scalar(
                select(RenewalNonce).where(RenewalNonce.nonce_sha256 == hashlib.sha256(nonce).hexdigest()))
            assert nonce_row is not None
            assert len(session.scalars(select(Renewal).where(Renewal.nonce_id == nonce_row.id)).all()) == 1


def test_one_key_two_concurrent_requests_one_renewal_one_answer(server: LiveServer, ca: JpkiTestCa) -> None:
    card = make_card(ca)
    body = renewal_body(card, get_nonce(server))
    key = idempotency_key()
    before = renewal_count(server)
    sessions = [server.session(), server.session()]
    barrier = threading.Barrier(2)
    answers: list[requests.Response] = []

    def post(session: requests.Session) -> None:
        barrier.wait()
        answers.append(submit(server, body, key=key, session=session))

    threads = [threading.Thread(target=post, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(r.status_code for r in answers) == [200, 201], [r.text for r in answers]
    assert len({r.json()["receipt_id"] for r in answers}) == 1
    assert renewal_count(server) == before + 1


def test_validity_and_window_are_judged_when_the_nonce_was_issued(server: LiveServer, ca: JpkiTestCa) -> None:
    """The resident signed at the kiosk; the item waited overnight and the certificate expired meanwhile."""
    card = make_card(ca, expires_in=timedelta(hours=2))
    nonce = get_nonce(server)
    body = renewal_body(card, nonce)
    server.clock.advance(timedelta(hours=20))
    assert submit(server, body).status_code == 201


def test_a_reused_idempotency_key_with_another_body_is_refused(server: LiveServer, ca: JpkiTestCa) -> None:
    card = make_card(ca)
    key = idempotency_key()
    assert submit(server, renewal_body(card, get_nonce(server)), key=key).status_code == 201
    refused(submit(server, renewal_body(card, get_nonce(server)), key=key), 409, "idempotency_key_reused")


# --- every refusal ---------------------------------------------------------------------------------------------


def test_nonce_unknown(server: LiveServer, ca: JpkiTestCa) -> None:
    refused(submit(server, renewal_body(make_card(ca), b"\x42" * 32)), 403, "nonce_unknown")


def test_nonce_other_kiosk(server: LiveServer, ca: JpkiTestCa) -> None:
    nonce = get_nonce(server, "kiosk-02")
    refused(submit(server, renewal_body(make_card(ca), nonce), kiosk="kiosk-01"), 403, "nonce_other_kiosk")


def test_nonce_expired(server: LiveServer, ca: JpkiTestCa) -> None:
    body = renewal_body(make_card(ca), get_nonce(server))
    server.clock.advance(server.context.settings.renewal_nonce_lifetime + timedelta(seconds=1))
    refused(submit(server, body), 403, "nonce_expired")


def test_nonce_used(server: LiveServer, ca: JpkiTestCa) -> None:
    card, nonce = make_card(ca), get_nonce(server)
    assert submit(server, renewal_body(card, nonce)).status_code == 201
    other = payload(options={"electronic_certificates": False, "braille_name": None})
    refused(submit(server, renewal_body(card, nonce, other)), 409, "nonce_used")


def test_certificate_untrusted(server: LiveServer, foreign_ca: JpkiTestCa) -> None:
    body = refused(submit(server, renewal_body(make_card(foreign_ca), get_nonce(server))), 403,
                   "certificate_untrusted")
    assert "unknown_issuer" in body["message"]


def test_certificate_signed_by_another_key_under_the_trusted_name_is_untrusted(
    server: LiveServer, ca: JpkiTestCa, tmp_path
) -> None:
    """A forged CA with the same DN and key id as the trusted one: the chain's signature check catches it."""
    from tests.server.conftest import make_test_jpki_ca

    forged = make_test_jpki_ca(tmp_path, "forged", now=datetime.now(UTC))
    # same DN as the real CA; the AKI points at the real CA's key
    twin = JpkiTestCa(forged.key, ca.certificate, forged.path)
    refused(submit(server, renewal_body(make_card(twin), get_nonce(server))), 403, "certificate_untrusted")


def test_certificate_expired(server: LiveServer, ca: JpkiTestCa) -> None:
    card = make_card(ca, expires_in=timedelta(days=-1))
    refused(submit(server, renewal_body(card, get_nonce(server))), 403, "certificate_expired")


def test_certificate_not_yet_valid(server: LiveServer, ca: JpkiTestCa) -> None:
    card = make_card(ca, not_before=datetime.now(UTC) + timedelta(days=1))
    refused(submit(server, renewal_body(card, get_nonce(server))), 403, "certificate_not_yet_valid")


def test_certificate_revoked(server: LiveServer, ca: JpkiTestCa) -> None:
    card = make_card(ca)
    import_crl(server, ca, revoked=(card.certificate.serial_number,))
    refused(submit(server, renewal_body(card, get_nonce(server))), 403, "certificate_revoked")
    import_crl(server, ca)  # the city's next CRL no longer lists it (say, the report was a mistake)
    assert submit(server, renewal_body(card, get_nonce(server))).status_code == 201


@pytest.mark.parametrize(
    "kind",
    ["sign_certificate", "no_client_auth", "no_digital_signature", "ec_key"],
)
def test_certificate_not_for_auth(server: LiveServer, ca: JpkiTestCa, kind: str) -> None:
    if kind == "sign_certificate":  # the sign certificate (nonRepudiation) carries the basic 4: never for this
        card = make_card(ca, usage=_usage(non_repudiation=True), eku=[])
    elif kind == "no_client_auth":
        card = make_card(ca, eku=[ExtendedKeyUsageOID.EMAIL_PROTECTION])
    elif kind == "no_digital_signature":
        card = make_card(ca, usage=_usage(digital_signature=False, non_repudiation=False))
    else:
        ec_key = ec.generate_private_key(ec.SECP256R1())
        card = make_card(ca, key=ec_key)
        nonce = get_nonce(server)
        body = {"nonce": encode_nonce(nonce), "auth_certificate": card.der_b64, "signature": b64(b"\x00" * 64),
                "payload": payload()}
        refused(submit(server, body), 403, "certificate_not_for_auth")
        return
    refused(submit(server, renewal_body(card, get_nonce(server))), 403, "certificate_not_for_auth")


def test_certificate_malformed(server: LiveServer, ca: JpkiTestCa) -> None:
    body = renewal_body(make_card(ca), get_nonce(server))
    body["auth_certificate"] = b64(b"\x30\x82\x01\x00" + b"\x00" * 64)
    refused(submit(server, body), 422, "certificate_malformed")


def test_signature_invalid_for_a_tampered_payload(server: LiveServer, ca: JpkiTestCa) -> None:
    card, nonce = make_card(ca), get_nonce(server)
    signed = payload()
    tampered = payload(options={"electronic_certificates": False, "braille_name": BRAILLE})
    refused(submit(server, renewal_body(card, nonce, tampered, signed=signed)), 403, "signature_invalid")
    # ...and the nonce is not used up by a refused request: the genuine one still lands.
    assert submit(server, renewal_body(card, nonce, signed)).status_code == 201


@pytest.mark.parametrize("kind", ["other_key", "other_nonce", "login_style", "garbage"])
def test_signature_invalid(server: LiveServer, ca: JpkiTestCa, kind: str) -> None:
    card, nonce = make_card(ca), get_nonce(server)
    body = renewal_body(card, nonce)
    if kind == "other_key":
        body["signature"] = make_card(ca, key=_key(99)).sign(nonce, body["payload"])
    elif kind == "other_nonce":
        body["signature"] = card.sign(b"\x01" * 32, body["payload"])
    elif kind == "login_style":
        # The same key signing the bare nonce (as a login challenge would be signed) is no renewal.
        info = digest_info(nonce)
        body["signature"] = b64(card.key.sign(info[19:], padding.PKCS1v15(), Prehashed(hashes.SHA256())))
    else:
        body["signature"] = b64(b"\x00" * 256)
    refused(submit(server, body), 403, "signature_invalid")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"options": {"electronic_certificates": True, "braille_name": "ア" * 12}}, "payload.options.braille_name"),
        ({"options": {"electronic_certificates": "yes"}}, "payload.options.electronic_certificates"),
        ({"contact": {"email": "no-at-sign"}}, "payload.contact.email"),
        ({"my_number": "123456789018"}, "payload.my_number"),
        ({"submitted_at": "2026-12-14T10:00:00"}, "payload.submitted_at"),
        ({"contact": {"name": "\ud800"}}, "payload.contact.name"),  # a lone surrogate: no UTF-8 exists
    ],
)
def test_payload_invalid(server: LiveServer, ca: JpkiTestCa, changes: dict[str, Any], field: str) -> None:
    card, nonce = make_card(ca), get_nonce(server)
    sent = payload(**changes)
    body = {"nonce": encode_nonce(nonce), "auth_certificate": card.der_b64, "signature": b64(b"\x00" * 256),
            "payload": sent}
    answer = refused(submit(server, body), 422, "payload_invalid")
    assert field in {f["field"] for f in answer["fields"]}
    assert "123456789018" not in json.dumps(answer)


def test_photo_rules_apply(server: LiveServer, ca: JpkiTestCa) -> None:
    card, nonce = make_card(ca), get_nonce(server)
    body = renewal_body(card, nonce, payload(photo_jpeg_base64=b64(noise_jpeg(600, 800, mode="CMYK"))))
    refused(submit(server, body), 422, "photo_not_rgb")


def test_not_in_renewal_window(server: LiveServer, ca: JpkiTestCa) -> None:
    card = make_card(ca, expires_in=timedelta(days=200))
    answer = refused(submit(server, renewal_body(card, get_nonce(server))), 422, "not_in_renewal_window")
    assert "3 months" in answer["message"]
    assert str(card.certificate.not_valid_after_utc.year) not in answer["message"]  # an expiry tells a birthday


def test_revocation_not_checked_is_never_accepted(server: LiveServer, jpki_auth_cas: dict[str, JpkiTestCa]) -> None:
    card = make_card(jpki_auth_cas["without_crl"])
    nonce = get_nonce(server)
    body = renewal_body(card, nonce)
    refused(submit(server, body), 503, "revocation_not_checked")
    with server.context.sessions() as session:
        digest = hashlib.sha256(nonce).hexdigest()
        nonce_row = session.scalar(select(RenewalNonce).where(RenewalNonce.nonce_sha256 == digest))
        assert nonce_row is not None and nonce_row.used_at is None  # a refusal does not use the nonce


def test_a_stale_crl_means_revocation_not_checked(live: LiveServer, jpki_auth_cas: dict[str, JpkiTestCa],
                                                  tmp_path) -> None:
    """In process with a 3-day nonce lifetime: the CRL's nextUpdate passes while the nonce is still good."""
    ca = jpki_auth_cas["with_crl"]
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'stale.db'}",
        secret_file=tmp_path / "secret",
        kiosk_ca_file=live.pki.ca_cert,
        kiosks={"kiosk-01": live.pki.kiosks["kiosk-01"].fingerprint},
        jpki_auth_ca_files=(ca.path,),
        renewal_nonce_lifetime=timedelta(days=3),
        photo_face_checks=False,  # a noise photo, as in the rest of this tier
    )
    from server.app import build_context

    context = build_context(settings, lambda: datetime.now(UTC) - timedelta(days=2, hours=1))
    try:
        now = context.clock()
        crl = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(ca.certificate.subject)
            .last_update(now - timedelta(minutes=1))
            .next_update(now + timedelta(days=1))
            .add_extension(x509.CRLNumber(next(_CRL_NUMBERS)), critical=False)
            .sign(ca.key, hashes.SHA256())
            .public_bytes(serialization.Encoding.DER)
        )
        with context.sessions() as session:
            revocation.import_crl(session, crl, ca.pem, now=now)
            session.commit()
    finally:
        context.engine.dispose()
    card = make_card(ca)
    with in_process(settings, live.pki.kiosks["kiosk-01"].cert.read_text()) as call:
        nonce = decode_nonce(call("POST", "/v1/renewals/nonces").json()["nonce"])
        answer = call("POST", "/v1/renewals", json=renewal_body(card, nonce),
                      headers={"Idempotency-Key": idempotency_key()})
    assert (answer.status_code, answer.json()["error"]) == (503, "revocation_not_checked")


# --- privacy and the application's options -----------------------------------------------------------------------


def test_nothing_about_the_card_holder_is_logged_or_stored_in_clear(server: LiveServer, ca: JpkiTestCa) -> None:
    card = make_card(ca)
    body = renewal_body(card, get_nonce(server))
    before = len(server.logs.lines)
    assert submit(server, body).status_code == 201
    refused(submit(server, renewal_body(card, b"\x07" * 32)), 403, "nonce_unknown")
    logs = "\n".join(server.logs.lines[before:])
    for needle in (card.cn, EMAIL, BRAILLE, body["signature"][:40], body["auth_certificate"][40:80]):
        assert needle not in logs
    with server.context.sessions() as session:
        rows = [*session.scalars(select(Renewal)), *session.scalars(select(IdempotencyRecord))]
        text = " ".join(str(getattr(row, c.key)) for row in rows for c in type(row).__table__.columns)
        blobs = b"".join(getattr(row, c.key) or b"" for row in rows for c in type(row).__table__.columns
                         if c.key.endswith("_sealed"))
    for needle in (card.cn, EMAIL, BRAILLE, body["auth_certificate"][40:80]):
        assert needle not in text
        assert needle.encode() not in blobs
    assert card.certificate.public_bytes(serialization.Encoding.DER)[-64:] not in blobs


def test_the_applications_options_are_stored_sealed_with_defaults_for_older_kiosks(server: LiveServer) -> None:
    chosen = {"electronic_certificates": False, "braille_name": "ミホンハナコ"}
    with_options = application_body(PHOTO, options=chosen)
    without = application_body(PHOTO)
    assert server.submit(with_options).status_code == 201
    assert server.submit(without).status_code == 201
    bad = application_body(PHOTO, options={"electronic_certificates": True, "braille_name": "x"})
    assert server.submit(bad).status_code == 422
    keys = server.context.keys
    from server.identifiers import application_lookup_key

    with server.context.sessions() as session:
        stored = {
            name: session.scalar(select(Application).where(
                Application.application_key == application_lookup_key(keys, body["application_id"])))
            for name, body in (("with", with_options), ("without", without))
        }
    assert json.loads(keys.unseal(stored["with"].options_sealed, purpose="options")) == chosen
    assert json.loads(keys.unseal(stored["without"].options_sealed, purpose="options")) == {
        "electronic_certificates": True, "braille_name": None}
    assert b"\xe3\x83\x9f" not in stored["with"].options_sealed  # "ミ" in UTF-8: sealed, not clear


# --- kiosk and server agree on the payload -----------------------------------------------------------------------

_AGREEMENT = [
    ({}, True),
    ({"contact": None}, True),
    ({"options": {"electronic_certificates": False}}, True),
    ({"options": {"electronic_certificates": True, "braille_name": "ア" * 11}}, True),
    ({"options": {"electronic_certificates": True, "braille_name": "ア" * 12}}, False),
    ({"options": {"electronic_certificates": True, "braille_name": "abc"}}, False),
    ({"options": {"electronic_certificates": 1}}, False),
    ({"options": {"electronic_certificates": "true"}}, False),
    ({"options": None}, False),
    ({"options": {}}, False),
    ({"photo_jpeg_base64": "abc"}, False),
    ({"submitted_at": "2026-12-14T10:00:00"}, False),
    ({"contact": {"fax": "03"}}, False),
    ({"my_number": "123456789018"}, False),
]


@pytest.mark.parametrize(("changes", "accepted"), _AGREEMENT, ids=range(len(_AGREEMENT)))
def test_kiosk_and_server_judge_a_payload_alike(changes: dict[str, Any], accepted: bool) -> None:
    from pydantic import ValidationError

    from contract.payloads import PayloadInvalid
    from contract.renewal import validate_renewal_payload
    from server.schemas import RenewalPayload

    body = {**payload(photo_jpeg_base64="AAAA"), **changes}
    try:
        validate_renewal_payload(body)
        kiosk = True
    except PayloadInvalid:
        kiosk = False
    try:
        RenewalPayload.model_validate(body)
        server_side = True
    except ValidationError:
        server_side = False
    assert kiosk is server_side is accepted
