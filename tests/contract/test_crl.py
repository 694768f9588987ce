"""CRL verification (contract/crl.py): every refusal rule with a CRL that breaks it, and the lookups.

The CAs here are small EC test CAs made on the fly (synthetic names); one case uses the simulator's RSA
"J-LIS-like" test PKI, whose two auth CA generations share one DN.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.crl import (
    CrlRejected,
    ca_key_id,
    crl_number,
    entry_reason,
    find_for_issuer,
    is_current,
    load_ca_certificate,
    load_crl,
    normalise_key_id,
    normalise_serial,
    verified,
    verify_against_any,
    verify_crl,
)
from tests.support.fuzzing import examples

NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
DN = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"), x509.NameAttribute(NameOID.COMMON_NAME, "TEST CA")])


@dataclass(frozen=True)
class Ca:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


@cache
def make_ca(label: str, *, name: x509.Name = DN, crl_sign: bool | None = True, ski: bool = True) -> Ca:
    """A self-signed EC CA; ``crl_sign=None`` leaves keyUsage out, ``ski=False`` the subject key id."""
    del label  # only makes separate cached keys for one DN (CA generations)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=365))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
    )
    if crl_sign is not None:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=crl_sign,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
    if ski:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    return Ca(key, builder.sign(key, hashes.SHA256()))


def make_crl(ca: Ca, revoked: dict[int, x509.ReasonFlags | None] | None = None, *, signer: Ca | None = None,
             issuer: x509.Name | None = None, this_update: datetime = NOW - timedelta(hours=1),
             next_update: datetime = NOW + timedelta(days=1), aki: bytes | bool | None = True,
             extra: tuple[x509.ExtensionType, ...] = (), number: int | None = 7) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer or ca.certificate.subject)
        .last_update(this_update)
        .next_update(next_update)
    )
    if number is not None:
        builder = builder.add_extension(x509.CRLNumber(number), critical=False)
    if aki is True:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier(ca_key_id(ca.certificate), None, None), critical=False
        )
    elif isinstance(aki, bytes):
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(aki, None, None), critical=False)
    for extension in extra:
        builder = builder.add_extension(extension, critical=True)
    for serial, reason in (revoked or {}).items():
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(this_update)
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign((signer or ca).key, hashes.SHA256())


def der(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.DER)


# --- a CRL without nextUpdate (cryptography's builder refuses to make one, so the DER is edited) --------------


def _tlv(data: bytes, at: int) -> tuple[int, int, int]:
    """(start of value, end of element) of the DER element at ``at``, plus its tag."""
    tag, first = data[at], data[at + 1]
    if first < 0x80:
        return at + 2, at + 2 + first, tag
    count = first & 0x7F
    length = int.from_bytes(data[at + 2 : at + 2 + count], "big")
    return at + 2 + count, at + 2 + count + length, tag


def _encode(tag: int, value: bytes) -> bytes:
    if len(value) < 0x80:
        return bytes([tag, len(value)]) + value
    size = len(value).to_bytes((len(value).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + value


def crl_without_next_update(ca: Ca) -> bytes:
    tbs = make_crl(ca).tbs_certlist_bytes
    body_start, body_end, _ = _tlv(tbs, 0)
    elements, at = [], body_start
    while at < body_end:
        _, end, tag = _tlv(tbs, at)
        elements.append((tag, tbs[at:end]))
        at = end
    times = [i for i, (tag, _) in enumerate(elements) if tag in (0x17, 0x18)]  # UTCTime / GeneralizedTime
    assert len(times) == 2, "thisUpdate and nextUpdate expected"
    del elements[times[1]]
    new_tbs = _encode(0x30, b"".join(element for _, element in elements))
    signature = ca.key.sign(new_tbs, ec.ECDSA(hashes.SHA256()))
    algorithm = _encode(0x30, bytes.fromhex("06082a8648ce3d040302"))  # ecdsa-with-SHA256
    return _encode(0x30, new_tbs + algorithm + _encode(0x03, b"\x00" + signature))


# --- verification rules ------------------------------------------------------------------------------------------


def test_a_proper_crl_is_filed_under_the_ca_key_id() -> None:
    ca = make_ca("g1")
    assert verify_crl(make_crl(ca), ca.certificate) == ca_key_id(ca.certificate)
    checked = verified(make_crl(ca), ca.certificate)
    assert checked.issuer_key_id == ca_key_id(ca.certificate) and checked.next_update == NOW + timedelta(days=1)
    assert checked.issuer == DN and checked.this_update == NOW - timedelta(hours=1)
    assert "TEST CA" not in repr(checked)


def test_no_aki_and_no_key_usage_are_tolerated() -> None:
    ca = make_ca("plain", crl_sign=None, ski=False)
    assert verify_crl(make_crl(ca, aki=False), ca.certificate) == ca_key_id(ca.certificate)  # computed key id


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda ca, other: make_crl(ca, signer=other), "signature"),  # same DN, another key
        (lambda ca, other: make_crl(ca, issuer=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "X")])),
         "issuer"),
        (lambda ca, other: make_crl(ca, aki=ca_key_id(other.certificate)), "authority key id"),
        (lambda ca, other: make_crl(ca, extra=(x509.DeltaCRLIndicator(3),)), "delta"),
        (lambda ca, other: make_crl(ca, extra=(x509.IssuingDistributionPoint(
            full_name=[x509.UniformResourceIdentifier("http://crl.example.invalid/13101.crl")], relative_name=None,
            only_contains_user_certs=True, only_contains_ca_certs=False, only_some_reasons=None,
            indirect_crl=False, only_contains_attribute_certs=False),)), "partitioned"),
    ],
    ids=["other-key", "other-dn", "aki-mismatch", "delta", "partitioned"],
)
def test_each_rule_refuses_its_crl(build, message: str) -> None:
    ca, other = make_ca("g1"), make_ca("g2")
    with pytest.raises(CrlRejected, match=message):
        verify_crl(build(ca, other), ca.certificate)


def test_a_ca_without_crl_sign_is_refused() -> None:
    ca = make_ca("no-crl-sign", crl_sign=False)
    with pytest.raises(CrlRejected, match="cRLSign"):
        verify_crl(make_crl(ca), ca.certificate)


def test_an_unsupported_ca_key_is_refused() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    certificate = (
        x509.CertificateBuilder().subject_name(DN).issuer_name(DN).public_key(key.public_key())
        .serial_number(1).not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=1))
        .sign(key, None)
    )
    with pytest.raises(CrlRejected, match="key type"):
        verify_crl(make_crl(make_ca("g1")), certificate)


def test_a_crl_without_next_update_is_refused() -> None:
    ca = make_ca("g1")
    crl = load_crl(crl_without_next_update(ca))
    assert crl.next_update_utc is None and crl.is_signature_valid(ca.certificate.public_key())
    with pytest.raises(CrlRejected, match="nextUpdate"):
        verify_crl(crl, ca.certificate)


# --- parsing ---------------------------------------------------------------------------------------------------


def test_der_and_pem_load_and_garbage_does_not() -> None:
    ca = make_ca("g1")
    crl = make_crl(ca, {5: None})
    assert load_crl(der(crl)) == crl
    assert load_crl(b"\n" + crl.public_bytes(serialization.Encoding.PEM)) == crl
    for garbage in (b"", b"nonsense", b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", der(crl)[:-5]):
        with pytest.raises(CrlRejected, match="not a CRL"):
            load_crl(garbage)
    pem = ca.certificate.public_bytes(serialization.Encoding.PEM)
    assert load_ca_certificate(pem) == ca.certificate
    assert load_ca_certificate(ca.certificate.public_bytes(serialization.Encoding.DER)) == ca.certificate
    with pytest.raises(CrlRejected, match="CA file"):
        load_ca_certificate(b"nonsense")


def test_number_and_reasons() -> None:
    ca = make_ca("g1")
    crl = make_crl(ca, {5: x509.ReasonFlags.key_compromise, 6: None}, number=42)
    assert crl_number(crl) == 42 and crl_number(make_crl(ca, number=None)) is None
    reasons = {entry.serial_number: entry_reason(entry) for entry in crl}
    assert reasons == {5: "key_compromise", 6: None}


# --- answers -----------------------------------------------------------------------------------------------------


def test_status_good_revoked_and_stale() -> None:
    ca = make_ca("g1")
    checked = verified(make_crl(ca, {5: x509.ReasonFlags.key_compromise, 6: None}), ca.certificate)
    assert checked.status(7, NOW).status == "good"
    revoked = checked.status(5, NOW)
    assert (revoked.status, revoked.reason, revoked.revoked_at) == ("revoked", "key_compromise",
                                                                   NOW - timedelta(hours=1))
    assert checked.status(6, NOW).reason == "revoked"  # no reason code given
    stale = checked.status(5, NOW + timedelta(days=1))  # the nextUpdate instant is already stale
    assert (stale.status, stale.reason) == ("unknown", "crl_expired")
    for serial in (0, -5):  # a damaged certificate: no CRL can say it is good
        assert (checked.status(serial, NOW).status, checked.status(serial, NOW).reason) == (
            "unknown", "serial_not_positive")


def test_is_current_boundary_and_naive_times() -> None:
    edge = NOW + timedelta(days=1)
    assert is_current(edge, edge - timedelta(microseconds=1))
    assert not is_current(edge, edge)
    assert is_current(edge, (edge - timedelta(seconds=1)).astimezone())  # any zone, same instant
    with pytest.raises(ValueError, match="timezone-aware"):
        is_current(edge, datetime(2026, 11, 26))  # a naive time is refused


def test_the_generation_is_told_by_signature_and_key_id() -> None:
    g1, g2 = make_ca("g1"), make_ca("g2")
    crls = [verify_against_any(der(make_crl(g, {n: None})), [g1.certificate, g2.certificate])
            for n, g in ((1, g1), (2, g2))]
    assert [c.issuer_key_id for c in crls] == [ca_key_id(g1.certificate), ca_key_id(g2.certificate)]
    found = find_for_issuer(crls, issuer_key_id=ca_key_id(g2.certificate), issuer=DN)
    assert found is crls[1] and found.status(2, NOW).status == "revoked" and found.status(1, NOW).status == "good"
    assert find_for_issuer(crls, issuer_key_id=None, issuer=DN) is None  # no AKI: no generation
    assert find_for_issuer(crls, issuer_key_id=b"\x01" * 20, issuer=None) is None
    other_dn = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Other")])
    assert find_for_issuer(crls, issuer_key_id=ca_key_id(g1.certificate), issuer=other_dn) is None


def test_verify_against_any_applies_every_rule_to_the_signer() -> None:
    g1, weak = make_ca("g1"), make_ca("weak", crl_sign=False)
    with pytest.raises(CrlRejected, match="no trusted CA"):
        verify_against_any(der(make_crl(make_ca("g3"))), [g1.certificate])
    with pytest.raises(CrlRejected, match="cRLSign"):
        verify_against_any(der(make_crl(weak)), [g1.certificate, weak.certificate])
    with pytest.raises(CrlRejected, match="delta"):
        verify_against_any(der(make_crl(g1, extra=(x509.DeltaCRLIndicator(1),))), [g1.certificate])


def test_the_simulators_rsa_generations() -> None:
    from drivers.sim import pki

    g1, g2 = (pki.certificate_authority("auth", g) for g in ("g1", "g2"))
    assert g1.certificate.subject == g2.certificate.subject  # one DN, two keys
    data = pki.make_crl(g2, [0x5A], this_update=NOW)
    checked = verify_against_any(data, [g1.certificate, g2.certificate])
    assert checked.issuer_key_id == ca_key_id(g2.certificate)
    with pytest.raises(CrlRejected, match=r"authority key id|signature"):
        verify_crl(load_crl(data), g1.certificate)


# --- identifiers -------------------------------------------------------------------------------------------------


def test_serial_and_key_id_forms() -> None:
    assert normalise_serial("00AB") == normalise_serial("ab") == "ab"
    assert normalise_serial("0") == "0"
    assert normalise_key_id("0A0b") == "0a0b"
    for bad in ("xyz", ""):
        with pytest.raises(ValueError):
            normalise_serial(bad)
    with pytest.raises(ValueError):
        normalise_key_id("abc")  # odd number of hex digits


@settings(max_examples=examples(300), deadline=None)
@given(st.integers(min_value=0, max_value=2**160 - 1), st.integers(min_value=0, max_value=8), st.booleans())
def test_any_spelling_of_a_serial_is_one_serial(serial: int, zeros: int, upper: bool) -> None:
    text = "0" * zeros + format(serial, "X" if upper else "x")
    assert normalise_serial(text) == format(serial, "x")
    assert int(normalise_serial(text), 16) == serial
