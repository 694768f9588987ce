"""A throw-away PKI for the HTTPS tests, generated at test time (nothing is stored in the repository).

Why generated: test keys in a repository end up trusted somewhere. These live in the test's temp folder:
a city CA, a server certificate for 127.0.0.1/localhost, the kiosk's client certificate, and a second,
unrelated CA with its own client certificate to show that a stranger's certificate is refused.
EC P-256 keeps generation fast (a few milliseconds each).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class LoopbackPki:
    folder: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_ca_cert: Path
    stranger_client_cert: Path
    stranger_client_key: Path
    kiosk_id: str = "test-kiosk-01"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "TEST-ONLY city"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer if issuer else (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                          encipher_only=False, decipher_only=False), critical=True)
    elif server:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(folder: Path) -> LoopbackPki:
    folder.mkdir(parents=True, exist_ok=True)

    def new_key() -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    ca_key, stranger_key = new_key(), new_key()
    ca = _issue("TEST-ONLY city CA", ca_key, None, ca=True)
    stranger_ca = _issue("TEST-ONLY stranger CA", stranger_key, None, ca=True)
    server_key, client_key, stranger_client_key = new_key(), new_key(), new_key()
    server = _issue("127.0.0.1", server_key, (ca.subject, ca_key), server=True)
    client = _issue("test-kiosk-01", client_key, (ca.subject, ca_key))
    stranger_client = _issue("test-kiosk-01", stranger_client_key, (stranger_ca.subject, stranger_key))

    pki = LoopbackPki(
        folder=folder,
        ca_cert=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        client_cert=folder / "kiosk.pem",
        client_key=folder / "kiosk.key",
        stranger_ca_cert=folder / "stranger-ca.pem",
        stranger_client_cert=folder / "stranger-kiosk.pem",
        stranger_client_key=folder / "stranger-kiosk.key",
    )
    _write_cert(pki.ca_cert, ca)
    _write_cert(pki.stranger_ca_cert, stranger_ca)
    _write_cert(pki.server_cert, server)
    _write_cert(pki.client_cert, client)
    _write_cert(pki.stranger_client_cert, stranger_client)
    _write_key(pki.server_key, server_key)
    _write_key(pki.client_key, client_key)
    _write_key(pki.stranger_client_key, stranger_client_key)
    return pki
