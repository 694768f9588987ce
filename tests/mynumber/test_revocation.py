"""The in-memory ``RevocationChecker`` (drivers/mynumber/revocation.py): contract/crl.py's rules, kiosk-side.

It used to have laxer rules of its own (no nextUpdate needed, delta CRLs read as complete); now a CRL the
server's import would refuse is refused here too.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from drivers.errors import ProtocolError
from drivers.mynumber.certificates import parse_certificate
from drivers.mynumber.revocation import CrlError, CrlRevocationChecker
from drivers.sim import pki
from drivers.sim.profile import profile_certificates
from tests.mynumber.verification_support import profile

NOW = datetime.now(UTC)
ISSUERS = [parse_certificate(ca.der) for ca in pki.all_certificate_authorities()]


def auth_certificate(name: str = "adult"):
    return parse_certificate(profile_certificates(profile(name))["auth"])


def issuing_ca(certificate) -> pki.CertificateAuthority:
    return next(ca for ca in pki.all_certificate_authorities()
                if parse_certificate(ca.der).subject_key_id == certificate.authority_key_id)


def checker(*crls: bytes, clock=lambda: NOW) -> CrlRevocationChecker:
    return CrlRevocationChecker(crls, ISSUERS, clock=clock)


def test_good_revoked_stale_and_unknown_issuer() -> None:
    cert = auth_certificate()
    ca = issuing_ca(cert)
    other = pki.certificate_authority("auth", "g1" if ca.generation == "g2" else "g2")
    good = checker(pki.make_crl(ca, [cert.serial + 1], this_update=NOW - timedelta(hours=1)))
    assert good.check(cert).status == "good"
    revoked = checker(pki.make_crl(ca, [cert.serial], this_update=NOW - timedelta(hours=1)))
    assert (revoked.check(cert).status, revoked.check(cert).reason) == ("revoked", "revoked")
    stale = checker(pki.make_crl(ca, [], this_update=NOW - timedelta(days=2), next_update=NOW - timedelta(days=1)))
    assert (stale.check(cert).status, stale.check(cert).reason) == ("unknown", "crl_expired")
    # the other generation's CRL (same DN, other key) says nothing about this certificate
    elsewhere = checker(pki.make_crl(other, [], this_update=NOW - timedelta(hours=1)))
    assert (elsewhere.check(cert).status, elsewhere.check(cert).reason) == ("unknown", "no_crl_for_issuer")


def test_the_clock_decides_staleness_at_each_check() -> None:
    cert = auth_certificate()
    moments = [NOW, NOW + timedelta(days=2)]
    crl = pki.make_crl(issuing_ca(cert), [], this_update=NOW - timedelta(hours=1))
    live = checker(crl, clock=lambda: moments[0])
    assert live.check(cert).status == "good"
    moments.reverse()
    assert live.check(cert).reason == "crl_expired"


def test_a_certificate_without_authority_key_id_finds_no_crl() -> None:
    cert = auth_certificate()
    crl = pki.make_crl(issuing_ca(cert), [cert.serial], this_update=NOW - timedelta(hours=1))
    anonymous = dataclasses.replace(cert, authority_key_id=None)
    assert checker(crl).check(anonymous).reason == "no_crl_for_issuer"


def _delta_crl(ca: pki.CertificateAuthority) -> bytes:
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(NOW - timedelta(hours=1))
        .next_update(NOW + timedelta(days=1))
        .add_extension(x509.DeltaCRLIndicator(1), critical=True)
        .sign(ca.key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not a crl", "not a CRL"),
        (_delta_crl(pki.certificate_authority("auth", "g2")), "delta"),
    ],
    ids=["garbage", "delta"],
)
def test_a_crl_the_server_would_refuse_is_a_crl_error(data: bytes, message: str) -> None:
    with pytest.raises(CrlError, match=message) as caught:
        checker(data)
    assert isinstance(caught.value, ProtocolError) and caught.value.code == "crl_error"


def test_a_crl_from_an_untrusted_ca_is_a_crl_error() -> None:
    cert = auth_certificate()
    ca = issuing_ca(cert)
    only_other = [issuer for issuer in ISSUERS if issuer.subject_key_id != cert.authority_key_id]
    with pytest.raises(CrlError, match="no trusted CA"):
        CrlRevocationChecker([pki.make_crl(ca, [], this_update=NOW)], only_other, clock=lambda: NOW)
