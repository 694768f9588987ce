"""Building blocks for verifier tests: simulated cards from (possibly modified) profiles, trust, CRLs."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.certificates import parse_certificate
from drivers.mynumber.revocation import CrlRevocationChecker
from drivers.mynumber.trust import TrustStore
from drivers.mynumber.verifier import CardVerifier, VerifierConfig
from drivers.sim import pki
from drivers.sim.card import SimulatedCard
from drivers.sim.profile import ResidentProfile, build_card_image, load_profile, profile_certificates
from drivers.sim.transport import SimTransport
from tests.conftest import REPO

CARDS = REPO / "config" / "cards"


@cache
def profile(name: str) -> ResidentProfile:
    return load_profile(CARDS / f"{name}.toml")


@cache
def image_of(name: str):
    return build_card_image(profile(name))


def trust_store(directory: Path, *, drop: tuple[str, ...] = ()) -> TrustStore:
    pki.write_trust_store(directory)
    for pattern in drop:
        for path in directory.glob(pattern):
            path.unlink()
    return TrustStore.from_directory(directory)


def crl_checker(revoked_profiles: tuple[str, ...] = (), *, stale: bool = False) -> CrlRevocationChecker:
    now = datetime.now(UTC)
    crls = []
    for generation in ("g1", "g2"):
        ca = pki.certificate_authority("auth", generation)
        serials = [parse_certificate(profile_certificates(profile(name))["auth"]).serial for name in revoked_profiles]
        this_update = now - timedelta(days=30 if stale else 1)
        crls.append(pki.make_crl(ca, serials, this_update=this_update, next_update=this_update + timedelta(days=7)))
    issuers = [parse_certificate(ca.der) for ca in pki.all_certificate_authorities()]
    return CrlRevocationChecker(crls, issuers, clock=lambda: datetime.now(UTC))


def verifier_for(card: SimulatedCard, store: TrustStore, *, revocation=None, extended: bool = True,
                 required: frozenset[str] | None = None, policy=None, wrap=None) -> CardVerifier:
    icc = wrap(card) if wrap else card
    kwargs = {"policy": policy} if policy is not None else {}
    my_number_card = MyNumberCard(SimTransport(icc, extended=extended), **kwargs)
    config = VerifierConfig(required=required) if required is not None else None
    return CardVerifier(my_number_card, store, config=config, revocation=revocation)


def replace_profile(name: str, **changes) -> ResidentProfile:
    base = profile(name)
    sections = {key: dataclasses.replace(getattr(base, key), **value) for key, value in changes.items()}
    return dataclasses.replace(base, **sections)
