"""A throw-away demo PKI for running the server and kiosks over mTLS on one machine.

Everything is generated fresh (never stored in the repository) and says DEMO/TEST in its subject, so it can
never be mistaken for a city's real PKI. One CA signs the server certificate (for ``localhost`` and
``127.0.0.1``) and one client certificate per kiosk. Keys are EC P-256 (fast to make) and written with mode
0600; certificates are 0644.

Layout under ``directory``::

    ca.pem  ca.key              the demo CA (trust anchor for kiosks and for the server)
    server.pem  server.key      the HTTPS server
    kiosks/<id>.pem  <id>.key   one client certificate per kiosk
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from server.settings import check_kiosk_id
from server.tls import fingerprint

ORGANIZATION = "MyNumber Kiosk DEMO"
DEMO_OU = "TEST/DEMO ONLY - not for production"


@dataclass(frozen=True, slots=True)
class KioskCredentials:
    kiosk_id: str
    cert: Path
    key: Path
    fingerprint: str


@dataclass(frozen=True, slots=True)
class DemoPki:
    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    kiosks: dict[str, KioskCredentials] = field(default_factory=dict)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEMO_OU),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write(path, pem, 0o600)


def _write_cert(path: Path, certificate: x509.Certificate) -> None:
    _write(path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def make_ca(
    common_name: str, *, now: datetime, days: int = 5 * 365
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def issue(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    common_name: str,
    *,
    usage: x509.ObjectIdentifier,
    now: datetime,
    days: int = 2 * 365,
    alt_names: list[x509.GeneralName] | None = None,
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A leaf certificate for a server (``SERVER_AUTH``) or a kiosk (``CLIENT_AUTH``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
    )
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _load_ca(directory: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None:
    cert_path, key_path = directory / "ca.pem", directory / "ca.key"
    if not (cert_path.exists() and key_path.exists()):
        return None
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{key_path} is not an EC key made by demo-pki")
    return key, x509.load_pem_x509_certificate(cert_path.read_bytes())


def create_demo_pki(directory: str | os.PathLike[str], kiosk_ids: list[str] | tuple[str, ...]) -> DemoPki:
    """Create (or extend) a demo PKI: the CA and server certificate are reused when present."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    loaded = _load_ca(root)
    if loaded is None:
        ca_key, ca_cert = make_ca("Kiosk DEMO CA (TEST ONLY)", now=now)
        _write_key(root / "ca.key", ca_key)
        _write_cert(root / "ca.pem", ca_cert)
    else:
        ca_key, ca_cert = loaded
    if not (root / "server.pem").exists() or not (root / "server.key").exists():
        server_key, server_cert = issue(
            ca_key,
            ca_cert,
            "localhost (DEMO server, TEST ONLY)",
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
            now=now,
            alt_names=[
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1")),
            ],
        )
        _write_key(root / "server.key", server_key)
        _write_cert(root / "server.pem", server_cert)
    kiosks: dict[str, KioskCredentials] = {}
    for kiosk_id in kiosk_ids:
        check_kiosk_id(kiosk_id)
        cert_path, key_path = root / "kiosks" / f"{kiosk_id}.pem", root / "kiosks" / f"{kiosk_id}.key"
        if not (cert_path.exists() and key_path.exists()):
            key, cert = issue(
                ca_key, ca_cert, f"{kiosk_id} (DEMO kiosk, TEST ONLY)", usage=ExtendedKeyUsageOID.CLIENT_AUTH, now=now
            )
            _write_key(key_path, key)
            _write_cert(cert_path, cert)
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        kiosks[kiosk_id] = KioskCredentials(kiosk_id, cert_path, key_path, fingerprint(certificate))
    return DemoPki(
        directory=root,
        ca_cert=root / "ca.pem",
        ca_key=root / "ca.key",
        server_cert=root / "server.pem",
        server_key=root / "server.key",
        kiosks=kiosks,
    )
