"""Server tier fixtures: a demo PKI, the real HTTPS server per database backend, and a PostgreSQL cluster.

- ``demo_pki``: a fresh TEST/DEMO CA, server certificate and kiosk certificates (kiosk-01 and kiosk-02 are
  registered, kiosk-unregistered is signed by the CA but not registered), plus a client certificate from a
  foreign CA.
- ``db_url`` is parametrised: ``sqlite`` (a temp file) and ``postgresql`` (a database in a cluster this session
  starts with initdb + pg_ctl; see pgcluster.py). Outside CI a missing PostgreSQL skips that half with the
  reason; under CI=true it fails, because a green CI must mean both backends ran.
- ``server``: the live server for the current backend (started once per backend, in a thread, over HTTPS on
  a free loopback port; stopped at the end), with client sessions closed and the clock reset after each test.
- ``jpki_auth_cas``: two RSA test CAs made at session start and configured as the server's JPKI auth CAs
  (renewals): ``with_crl`` (tests import its CRLs) and ``without_crl`` (never one: revocation not checked).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server.pki_demo import DemoPki, create_demo_pki, issue, make_ca
from server.serve import BackgroundServer
from server.settings import Settings
from tests.conftest import require
from tests.server.helpers import SERVER_LOGGERS, LiveServer, LogCapture, MovableClock
from tests.server.pgcluster import PgCluster, find_pg_bin, start_cluster

KIOSKS = ("kiosk-01", "kiosk-02", "kiosk-unregistered")
REGISTERED = ("kiosk-01", "kiosk-02")


def pytest_configure(config: pytest.Config) -> None:
    # Registered in pyproject by the lead; repeated here so this tier also runs under --strict-markers alone.
    config.addinivalue_line("markers", "server: reference central server tier (real HTTPS over loopback)")
    config.addinivalue_line("markers", "postgres: needs PostgreSQL (the test session starts its own cluster)")


@pytest.fixture(scope="session")
def demo_pki(tmp_path_factory: pytest.TempPathFactory) -> DemoPki:
    return create_demo_pki(tmp_path_factory.mktemp("pki"), list(KIOSKS))


@pytest.fixture(scope="session")
def foreign_client(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A kiosk-looking client certificate from a CA the server does not trust."""
    directory = tmp_path_factory.mktemp("foreign")
    now = datetime.now(UTC)
    ca_key, ca_cert = make_ca("Foreign CA (TEST ONLY)", now=now)
    key, cert = issue(ca_key, ca_cert, "kiosk-01", usage=ExtendedKeyUsageOID.CLIENT_AUTH, now=now)
    cert_path, key_path = directory / "client.pem", directory / "client.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@dataclass(frozen=True)
class JpkiTestCa:
    """A JPKI-like CA (RSA-2048, CA:TRUE, keyCertSign + cRLSign, SKI), TEST ONLY, made at test time."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    path: Path

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)


def make_test_jpki_ca(directory: Path, label: str, *, now: datetime) -> JpkiTestCa:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI-TEST"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"TEST ONLY auth CA {label}"),
    ])
    usage = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=3650)).not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{label}.pem"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return JpkiTestCa(key, certificate, path)


@pytest.fixture(scope="session")
def jpki_auth_cas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, JpkiTestCa]:
    directory, now = tmp_path_factory.mktemp("jpki-auth"), datetime.now(UTC)
    return {label: make_test_jpki_ca(directory, label, now=now) for label in ("with_crl", "without_crl")}


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    require(find_pg_bin() is not None, "PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    try:
        cluster = start_cluster()
    except (FileNotFoundError, RuntimeError) as exc:
        require(False, f"could not start a PostgreSQL cluster: {exc}")
        raise
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'server.db'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database(f"kiosk_{secrets.token_hex(4)}")


@pytest.fixture(scope="session")
def live(
    db_url: str,
    demo_pki: DemoPki,
    foreign_client: tuple[Path, Path],
    jpki_auth_cas: dict[str, JpkiTestCa],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    secret_file = tmp_path_factory.mktemp("secret") / "server.secret"
    settings = Settings(
        database_url=db_url,
        secret_file=secret_file,
        tls_certfile=demo_pki.server_cert,
        tls_keyfile=demo_pki.server_key,
        kiosk_ca_file=demo_pki.ca_cert,
        kiosks={k: demo_pki.kiosks[k].fingerprint for k in REGISTERED},
        jpki_auth_ca_files=tuple(ca.path for ca in jpki_auth_cas.values()),
        # this tier's photos are fast noise JPEGs (the upload rules); the face rules are tested with
        # synthetic faces against the reference server in tests/services/test_photo_rules_real.py
        photo_face_checks=False,
        # room for parallel-lockout tests over both kiosks; test_clerks.py checks the limit itself
        kiosk_sign_in_failures=20,
    )
    clock = MovableClock()
    background = BackgroundServer(settings, clock=clock)
    # Attach after the server is built: uvicorn's Config resets the "uvicorn.access" logger's handlers.
    capture = LogCapture()
    loggers = [logging.getLogger(name) for name in SERVER_LOGGERS]
    previous = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.addHandler(capture)
    for name in ("server", "uvicorn"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    server = LiveServer(
        backend="sqlite" if db_url.startswith("sqlite") else "postgresql",
        db_url=db_url,
        pki=demo_pki,
        foreign_client=foreign_client,
        background=background,
        clock=clock,
        logs=capture,
        secret_file=secret_file,
    )
    background.start()
    try:
        yield server
    finally:
        server.close_sessions()
        background.stop()
        for lg, level in previous:
            lg.removeHandler(capture)
            lg.setLevel(level)


@pytest.fixture
def server(live: LiveServer) -> Iterator[LiveServer]:
    live.reset_sign_in_limits()  # each test starts with full sign-in budgets at every kiosk
    live.context.lookups.reset()  # each test starts with full status-lookup budgets
    live.context.nonces.reset()
    try:
        yield live
    finally:
        live.close_sessions()
        live.clock.reset()
        live.context.lookups.reset()
        live.context.nonces.reset()
