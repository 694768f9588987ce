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
    accounts: dict[str, str] = dataclasses.field(default_factory=dict)  # counter demo: user name -> password

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
    accounts: dict[str, str] = {}
    if config.kiosk.station == "counter":
        accounts = _seed_counter(build_context(settings, lambda: datetime.now(UTC)), var_dir)
    server = BackgroundServer(settings).start()
    section = dataclasses.replace(config.server, url=server.base_url, ca_bundle=str(pki.ca_cert),
                                  client_cert=str(credentials.cert), client_key=str(credentials.key))
    return LocalCentral(server, section, accounts)


# The counter demo's synthetic residents whose new cards wait for pickup, and their notice numbers.
DEMO_PICKUPS = (("new-card", "DEMO-0001", "98760000000000000000101"),
                ("new-card-child", "DEMO-0002", "98760000000000000000102"))
DEMO_ACCOUNTS = (("demo-clerk", "clerk"), ("demo-supervisor", "supervisor"))


def _seed_counter(context: Any, var_dir: Path) -> dict[str, str]:
    """DEMO clerk accounts (random passwords, made once and kept in the state folder with mode 0600: no
    password is written in the repository) and the pickups of the new-card demo residents."""
    import json
    import os
    import secrets

    from sqlalchemy import select

    from server import security
    from server.models import Clerk

    file = var_dir / "demo-counter-accounts.json"
    try:
        accounts: dict[str, str] = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        accounts = {}
    try:
        for username, role in DEMO_ACCOUNTS:
            with context.sessions() as session:
                exists = session.scalar(select(Clerk.id).where(Clerk.username == username)) is not None
            if exists and username in accounts:
                continue
            accounts[username] = secrets.token_urlsafe(12)
            with context.sessions() as session:
                if exists:
                    clerk = session.scalar(select(Clerk).where(Clerk.username == username))
                    clerk.password_hash = security.hash_password(accounts[username])
                else:
                    security.add_clerk(session, username=username, password=accounts[username], role=role,
                                       now=datetime.now(UTC))
                session.commit()
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(accounts, out)
        for profile_name, notice, application_id in DEMO_PICKUPS:
            _seed_pickup(context, profile_name, notice, application_id)
    finally:
        context.engine.dispose()
    return accounts


def _seed_pickup(context: Any, profile_name: str, notice: str, application_id: str) -> None:
    """A pickup for a demo card, once (its notice number is unique); the photo is the demo resident's face."""
    import base64
    import io

    from PIL import Image
    from sqlalchemy import select

    from drivers.mynumber.certificates import parse_certificate
    from drivers.sim.profile import load_profile, profile_certificates
    from kiosk.config import DEFAULTS_DIR
    from kiosk.defaults.camera import Head, picture
    from server.models import Pickup
    from server.pickup_admin import create_pickup
    from server.schemas import PickupCreate

    with context.sessions() as session:
        if session.scalar(select(Pickup.id).where(Pickup.notice_number == notice)) is not None:
            return
    profile = load_profile(DEFAULTS_DIR / "cards" / f"{profile_name}.toml")
    certificate = parse_certificate(profile_certificates(profile)["auth"])
    resident = profile.resident
    photo = io.BytesIO()
    Image.fromarray(picture(700, 900, (Head(x=350, y=380, height=680),))).save(photo, "JPEG", quality=85)
    body = PickupCreate.model_validate({
        "application_id": application_id,
        "notice_number": notice,
        "card": {"auth_cert_serial": format(certificate.serial, "x"),
                 "issuer_key_id": (certificate.authority_key_id or b"\0").hex()},
        "basic4": {"name": resident.name, "address": resident.address,
                   "birth_date": resident.birth_date.resolve(datetime.now(UTC).date()).strftime("%Y%m%d"),
                   "sex": str(resident.sex)},
        "photo_jpeg_base64": base64.b64encode(photo.getvalue()).decode("ascii"),
    })
    create_pickup(context, body)


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
