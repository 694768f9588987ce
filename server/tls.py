"""TLS for the server: the SSL context, and how the kiosk's client certificate reaches the app.

uvicorn verifies client certificates during the handshake (``CERT_REQUIRED`` + the kiosk CA) but, as of
0.54, does not pass the peer certificate to the application. ``MutualTLSProtocol`` fills the gap: a
subclass of uvicorn's h11 protocol that, once per connection (the handshake is complete when
``connection_made`` runs), reads the peer certificate from the transport's ``ssl_object`` and puts it in the
request scope under the standard ASGI TLS extension key, ``scope["extensions"]["tls"]["client_cert_chain"]``
(PEM strings, leaf first). The app only reads that key, so it also works behind any ASGI server or proxy
adapter that implements the extension — and tests can inject it without TLS. When a server already fills
the extension, the protocol leaves it alone.
"""

from __future__ import annotations

import hashlib
import ssl
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from uvicorn.protocols.http.h11_impl import H11Protocol

from server.settings import Settings

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def server_ssl_context(settings: Settings) -> ssl.SSLContext:
    """TLS 1.2+ server context that asks every client for a certificate issued by the kiosk CA.

    What a new connection costs (issue 11): TLS 1.3 is negotiated with every current client (one round trip),
    the demo PKI's keys are ECDSA P-256 (``pki_demo.py``: signing and verifying are far cheaper than RSA-2048),
    and OpenSSL's session tickets are on (two per handshake, TLS 1.3; the TLS 1.2 session cache too), so a
    client that resumes skips the certificate work. The bigger saving is not reconnecting at all: uvicorn
    keeps an idle kiosk's connection for ``[server] keep_alive_seconds``."""
    if settings.tls_certfile is None or settings.tls_keyfile is None or settings.kiosk_ca_file is None:
        raise ValueError("HTTPS needs tls_certfile, tls_keyfile and kiosk_ca_file")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # The client certificate is read once per connection (MutualTLSProtocol); renegotiation could swap it.
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.load_cert_chain(str(settings.tls_certfile), str(settings.tls_keyfile))
    context.load_verify_locations(cafile=str(settings.kiosk_ca_file))
    context.verify_mode = ssl.CERT_REQUIRED if settings.client_cert_mode == "required" else ssl.CERT_OPTIONAL
    return context


def tls_extension(ssl_object: ssl.SSLObject | None) -> dict[str, Any] | None:
    """The ASGI TLS extension dict for one connection (None for plain HTTP)."""
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    chain = [] if not der else [ssl.DER_cert_to_PEM_cert(der)]
    cipher = ssl_object.cipher()
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": None,
        "cipher_suite": None,
        # Not in the spec, informative only:
        "tls_version_name": ssl_object.version(),
        "cipher_name": cipher[0] if cipher else None,
    }


def with_tls_extension(app: ASGIApp, extension: dict[str, Any]) -> ASGIApp:
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") in ("http", "websocket"):
            extensions = scope.setdefault("extensions", {})
            extensions.setdefault("tls", extension)
        await app(scope, receive, send)

    return wrapped


class MutualTLSProtocol(H11Protocol):
    """uvicorn's h11 protocol, plus the ASGI TLS extension carrying the verified client certificate.

    It also never writes uvicorn's access log: uvicorn emits it whenever the ``uvicorn.access`` logger has a
    handler (whatever ``access_log=False`` says), and its lines hold full paths and query strings, which
    can carry application ids. ``server.middleware`` logs requests instead, by route template.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access_log = False

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        extension = tls_extension(transport.get_extra_info("ssl_object"))
        if extension is not None:
            self.app = with_tls_extension(self.app, extension)


# --- reading the certificate inside the app ---------------------------------------------------------------


def client_certificate(scope: Scope) -> x509.Certificate | None:
    """The leaf client certificate from the ASGI TLS extension, or None."""
    tls = scope.get("extensions", {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        return None
    return parse_certificate(chain[0])


def parse_certificate(entry: Any) -> x509.Certificate | None:
    """One entry of ``client_cert_chain`` (PEM text, or DER/PEM bytes) as a certificate, None when it is none."""
    try:
        data = entry.encode("ascii") if isinstance(entry, str) else bytes(entry)
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except (ValueError, TypeError, UnicodeEncodeError):
        return None


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 over the DER encoding, lower-case hex: what ``add-kiosk`` registers."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def fingerprint_of_pem_file(path: Path) -> str:
    return fingerprint(x509.load_pem_x509_certificate(path.read_bytes()))


def issued_by(certificate: x509.Certificate, ca: x509.Certificate, *, now: datetime) -> bool:
    """Signature, issuer name and validity — the app's own check, independent of the TLS layer."""
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc


def load_ca_file(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())
