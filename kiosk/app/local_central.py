"""The reference central server on loopback, for ``kiosk demo``: the demo shows the whole product.

It creates (once) a DEMO PKI in the kiosk's state folder (``kiosk.config.state_dir``), starts the real
server over HTTPS with client certificates in a background thread, registers this kiosk, and imports fresh
CRLs of the simulator's test CAs, so revocation is answered exactly as a city's server would answer it, and
trusts the simulator's test auth CAs for renewal by card.
Nothing here runs in production (`kiosk run` talks to the configured server).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kiosk.config import KioskConfig, ServerSection


@dataclass
class LocalCentral:
    server: Any  # server.serve.BackgroundServer
    section: ServerSection

    def stop(self) -> None:
        self.server.stop()


def start_local_central(config: KioskConfig, var_dir: Path) -> LocalCentral:
    """Start the demo server; return it with the [server] section the kiosk must use to reach it."""
    from server.app import build_context
    from server.pki_demo import create_demo_pki
    from server.revocation import import_crl
    from server.serve import BackgroundServer
    from server.settings import Settings

    kiosk_id = config.kiosk.id
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # holds the demo PKI's private keys
    pki = create_demo_pki(var_dir / "demo-pki", [kiosk_id])
    credentials = pki.kiosks[kiosk_id]
    settings = Settings(
        database_url=f"sqlite:///{var_dir / 'demo-server.db'}",
        secret_file=var_dir / "demo-server.secret",
        tls_certfile=pki.server_cert,
        tls_keyfile=pki.server_key,
        kiosk_ca_file=pki.ca_cert,
        kiosks={kiosk_id: credentials.fingerprint},
        jpki_auth_ca_files=_test_auth_cas(var_dir / "demo-pki"),
    )
    _import_test_crls(build_context(settings, lambda: datetime.now(UTC)), import_crl)
    server = BackgroundServer(settings).start()
    section = dataclasses.replace(config.server, url=server.base_url, ca_bundle=str(pki.ca_cert),
                                  client_cert=str(credentials.cert), client_key=str(credentials.key))
    return LocalCentral(server, section)


def _test_auth_cas(folder: Path) -> tuple[Path, ...]:
    """The simulator's test JPKI auth CAs (every generation) as PEM files, for renewal by card: the server
    reads CA files, as it would read J-LIS's in production, and never imports the simulator."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from drivers.sim import pki

    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    files = []
    for generation in pki.CA_GENERATIONS:
        ca = pki.certificate_authority("auth", generation)
        path = folder / f"test-jpki-auth-ca-{generation}.pem"
        path.write_bytes(ca.certificate.public_bytes(Encoding.PEM))
        files.append(path)
    return tuple(files)


def _import_test_crls(context: Any, import_crl: Any) -> None:
    """Fresh, empty CRLs from every generation of the simulator's test auth and sign CAs."""
    from drivers.sim import pki

    now = datetime.now(UTC)
    try:
        for ca in pki.all_certificate_authorities():
            crl = pki.make_crl(ca, [], this_update=now - timedelta(minutes=1), next_update=now + timedelta(days=1))
            with context.sessions() as session, session.begin():
                import_crl(session, crl, ca.der, now=now)
    finally:
        context.engine.dispose()
