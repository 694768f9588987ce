"""Trust store from a folder, fingerprint pinning, and chains across CA generations sharing one DN."""

from __future__ import annotations

import hashlib
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import CardError
from drivers.mynumber.certificates import JpkiCertificate, parse_certificate, parse_certificate_ef
from drivers.mynumber.trust import (
    TrustStore,
    TrustStoreError,
    build_chain,
    normalize_fingerprint,
)
from drivers.sim import pki
from drivers.sim.profile import APP_JPKI, BUNDLED_PROFILES, build_card_image, load_profile
from tests.support.fuzzing import examples

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
IN_2020 = datetime(2020, 6, 1, tzinfo=UTC)  # the old generation valid, the new one not yet
BOTH_VALID = datetime(2024, 6, 1, tzinfo=UTC)
EF_SIGN, EF_SIGN_CA, EF_AUTH, EF_AUTH_CA = 0x0001, 0x0002, 0x000A, 0x000B


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("trust")
    pki.write_trust_store(target)
    return target


@pytest.fixture(scope="module")
def store(folder: Path) -> TrustStore:
    return TrustStore.from_directory(folder)


def card_cert(profile: str, fid: int) -> JpkiCertificate:
    card = build_card_image(load_profile(BUNDLED_PROFILES / f"{profile}.toml"), TODAY)
    parsed = parse_certificate_ef(card.application(APP_JPKI).efs[fid].padded)
    assert parsed is not None
    return parsed


@pytest.fixture(scope="module")
def adult() -> dict[int, JpkiCertificate]:
    return {fid: card_cert("adult", fid) for fid in (EF_AUTH, EF_AUTH_CA, EF_SIGN, EF_SIGN_CA)}


@pytest.fixture(scope="module")
def expired() -> dict[int, JpkiCertificate]:
    return {fid: card_cert("expired", fid) for fid in (EF_AUTH, EF_AUTH_CA)}


def ca(kind: pki.CaKind, generation: pki.CaGeneration) -> JpkiCertificate:
    return parse_certificate(pki.certificate_authority(kind, generation).der)


def only(*cas: JpkiCertificate) -> TrustStore:
    return TrustStore(certificates=cas)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def issued(
    issuer_key: rsa.RSAPrivateKey,
    issuer_name: x509.Name,
    subject_key: rsa.RSAPublicKey,
    *,
    aki: bytes | None = None,
    ca: bool = False,
    key_cert_sign: bool = False,
    subject: str = "TEST-ONLY leaf",
) -> JpkiCertificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(subject_key)
        .serial_number(11)
        .not_valid_before(datetime(2024, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2030, 1, 1, tzinfo=UTC))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(subject_key), critical=False)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, key_cert_sign, key_cert_sign, False, False), critical=True
        )
    )
    if aki is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier(key_identifier=aki, authority_cert_issuer=None,
                                        authority_cert_serial_number=None),
            critical=False,
        )
    return parse_certificate(
        builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    )


# --- loading ---------------------------------------------------------------------------------------------------


def test_loads_every_generation_and_the_cv_roots(store: TrustStore) -> None:
    assert {c.der for c in store.certificates} == {authority.der for authority in pki.all_certificate_authorities()}
    subjects = [c.subject for c in store.certificates]
    assert len(set(subjects)) == 2 and len(subjects) == 4  # two generations per DN
    for kind in ("text", "visual"):
        root = store.cv_root(pki.CV_ROOT_IDS[kind])
        assert root is not None
        assert root.public_numbers() == pki.cv_root(kind).key.public_key().public_numbers()
    assert store.cv_root(b"\x00" * 16) is None
    with pytest.raises(TypeError):
        store.cv_roots[b"x" * 16] = pki.cv_root("text").key.public_key()  # type: ignore[index]


def test_der_and_bundled_pem_files(tmp_path: Path) -> None:
    (tmp_path / "auth-g1.der").write_bytes(pki.certificate_authority("auth", "g1").der)
    bundle = b"".join(
        pki.certificate_authority("sign", gen).certificate.public_bytes(serialization.Encoding.PEM)
        for gen in ("g1", "g2")
    )
    (tmp_path / "sign-bundle.pem").write_bytes(bundle)
    (tmp_path / "README.txt").write_text("not trust material")
    loaded = TrustStore.from_directory(tmp_path)
    assert len(loaded.certificates) == 3 and dict(loaded.cv_roots) == {}


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("garbage.pem", b"-----BEGIN NONSENSE-----\nAAAA\n-----END NONSENSE-----\n"),
        ("garbage.der", b"\x30\x03\x02\x01\x01"),
        ("broken.pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        ("not-an-id.pem", None),  # a public key whose file name is not an issuer id
    ],
)
def test_unusable_files_are_clear_errors(tmp_path: Path, name: str, content: bytes | None) -> None:
    if content is None:
        content = pki.cv_root("text").key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    (tmp_path / name).write_bytes(content)
    with pytest.raises(TrustStoreError, match=name.replace(".", r"\.")) as info:
        TrustStore.from_directory(tmp_path)
    assert isinstance(info.value, CardError) and info.value.code == "trust_store"


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(TrustStoreError):
        TrustStore.from_directory(tmp_path / "nowhere")


# --- pinning ---------------------------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    if path.read_bytes().startswith(b"-----BEGIN PUBLIC KEY"):
        der = serialization.load_pem_public_key(path.read_bytes()).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    else:
        der = x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


@pytest.fixture(scope="module")
def pins(folder: Path) -> dict[str, str]:
    return {path.name: sha256_of(path) for path in folder.iterdir()}


def test_pinned_by_file_name(folder: Path, pins: dict[str, str]) -> None:
    assert len(TrustStore.from_directory(folder, pins).certificates) == 4


def test_pins_accept_openssl_style_fingerprints(folder: Path, pins: dict[str, str]) -> None:
    styled = {name: ":".join(fp[i : i + 2] for i in range(0, 64, 2)).upper() for name, fp in pins.items()}
    assert len(TrustStore.from_directory(folder, styled).certificates) == 4
    assert normalize_fingerprint(styled["jpki-test-auth-ca-g1.pem"]) == pins["jpki-test-auth-ca-g1.pem"]
    with pytest.raises(TrustStoreError):
        normalize_fingerprint("12:34")


def test_pinned_by_subject_covering_both_generations(folder: Path, pins: dict[str, str]) -> None:
    by_subject: dict[str, list[str]] = {}
    for kind in ("auth", "sign"):
        by_subject[pki.ca_name(kind).rfc4514_string()] = [pins[f"jpki-test-{kind}-ca-{g}.pem"] for g in ("g1", "g2")]
    for kind in ("text", "visual"):
        by_subject[pki.CV_ROOT_IDS[kind].hex()] = [pins[f"{pki.CV_ROOT_IDS[kind].hex()}.pem"]]
    assert len(TrustStore.from_directory(folder, by_subject).certificates) == 4


def test_mismatching_fingerprint_is_refused_by_name(folder: Path, pins: dict[str, str]) -> None:
    wrong = {**pins, "jpki-test-sign-ca-g2.pem": pins["jpki-test-sign-ca-g1.pem"]}
    with pytest.raises(TrustStoreError, match=r"jpki-test-sign-ca-g2\.pem.*does not match"):
        TrustStore.from_directory(folder, wrong)


def test_mismatching_cv_root_is_refused(folder: Path, pins: dict[str, str]) -> None:
    name = f"{pki.CV_ROOT_IDS['text'].hex()}.pem"
    with pytest.raises(TrustStoreError, match=name):
        TrustStore.from_directory(folder, {**pins, name: "00" * 32})


def test_unpinned_anchor_is_refused(folder: Path, pins: dict[str, str]) -> None:
    partial = {name: fp for name, fp in pins.items() if name != "jpki-test-auth-ca-g1.pem"}
    with pytest.raises(TrustStoreError, match=r"jpki-test-auth-ca-g1\.pem.*not pinned"):
        TrustStore.from_directory(folder, partial)


def test_pin_without_its_file_is_refused(folder: Path, pins: dict[str, str]) -> None:
    with pytest.raises(TrustStoreError, match=r"jpki-real-ca\.pem"):
        TrustStore.from_directory(folder, {**pins, "jpki-real-ca.pem": "ab" * 32})


def test_a_slipped_in_ca_is_refused(tmp_path: Path, folder: Path, pins: dict[str, str], key: rsa.RSAPrivateKey) -> None:
    for path in folder.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    rogue = issued(key, pki.ca_name("auth"), key.public_key(), ca=True, key_cert_sign=True, subject="rogue")
    (tmp_path / "rogue.der").write_bytes(rogue.der)
    assert len(TrustStore.from_directory(tmp_path).certificates) == 5  # unpinned: trusted (operator's choice)
    with pytest.raises(TrustStoreError, match=r"rogue\.der"):
        TrustStore.from_directory(tmp_path, pins)


# --- chains ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("leaf", "anchor", "kind"), [(EF_AUTH, EF_AUTH_CA, "auth"), (EF_SIGN, EF_SIGN_CA, "sign")])
def test_adult_chains_to_its_own_kind_and_generation(
    adult: dict[int, JpkiCertificate], store: TrustStore, leaf: int, anchor: int, kind: pki.CaKind
) -> None:
    result = build_chain(adult[leaf], store=store, at=NOW)
    assert result.ok and result.reason is None
    assert [c.der for c in result.path] == [adult[leaf].der, adult[anchor].der]
    assert result.anchor is not None and result.anchor.der == pki.certificate_authority(kind, "g2").der


def test_card_ca_as_intermediate_is_not_trusted_by_itself(adult: dict[int, JpkiCertificate]) -> None:
    """The card's own EF 000B copy of the CA helps nothing unless the store trusts that CA."""
    result = build_chain(adult[EF_AUTH], [adult[EF_AUTH_CA]], store=only(ca("auth", "g1")), at=NOW)
    assert not result.ok and result.reason == "untrusted_root"
    trusted = build_chain(adult[EF_AUTH], [adult[EF_AUTH_CA]], store=only(ca("auth", "g2")), at=NOW)
    assert trusted.ok and len(trusted.path) == 2


def test_wrong_generation_is_unknown_issuer(
    adult: dict[int, JpkiCertificate], expired: dict[int, JpkiCertificate]
) -> None:
    assert build_chain(adult[EF_AUTH], store=only(ca("auth", "g1")), at=NOW).reason == "unknown_issuer"
    assert build_chain(expired[EF_AUTH], store=only(ca("auth", "g2")), at=IN_2020).reason == "unknown_issuer"
    assert build_chain(adult[EF_AUTH], store=only(ca("sign", "g2")), at=NOW).reason == "unknown_issuer"


def test_old_generation_chains_while_valid_then_its_ca_expires(
    expired: dict[int, JpkiCertificate], store: TrustStore
) -> None:
    then = build_chain(expired[EF_AUTH], store=store, at=IN_2020)
    assert then.ok and then.path[-1].der == pki.certificate_authority("auth", "g1").der
    now = build_chain(expired[EF_AUTH], store=store, at=NOW)
    assert not now.ok and now.reason == "ca_expired"
    assert now.path[-1].der == pki.certificate_authority("auth", "g1").der  # the CA that expired
    before = build_chain(expired[EF_AUTH], store=store, at=datetime(2015, 1, 1, tzinfo=UTC))
    assert before.reason == "ca_not_yet_valid"


@pytest.mark.parametrize("generation", ["g1", "g2"])
def test_without_key_ids_the_signature_tells_same_dn_generations_apart(
    key: rsa.RSAPrivateKey, generation: pki.CaGeneration
) -> None:
    authority = pki.certificate_authority("auth", generation)
    leaf = issued(authority.key, authority.certificate.subject, key.public_key())  # no AKI at all
    assert leaf.authority_key_id is None
    both = only(ca("auth", "g1"), ca("auth", "g2"))
    result = build_chain(leaf, store=both, at=BOTH_VALID)
    assert result.ok and result.path[-1].der == authority.der
    other = "g2" if generation == "g1" else "g1"
    wrong = build_chain(leaf, store=only(ca("auth", other)), at=BOTH_VALID)
    assert not wrong.ok and wrong.reason == "bad_signature"


def test_forged_key_id_is_caught_by_the_signature(key: rsa.RSAPrivateKey) -> None:
    g2 = ca("auth", "g2")
    forged = issued(key, g2.subject_name, key.public_key(), aki=g2.subject_key_id)
    result = build_chain(forged, store=only(ca("auth", "g1"), g2), at=NOW)
    assert not result.ok and result.reason == "bad_signature" and result.path == [forged]


def test_issuer_that_is_not_a_ca(key: rsa.RSAPrivateKey, adult: dict[int, JpkiCertificate]) -> None:
    not_ca = issued(key, x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "TEST-ONLY plain")]),
                    key.public_key(), subject="TEST-ONLY plain")
    leaf = issued(key, not_ca.subject_name, rsa.generate_private_key(65537, 2048).public_key(),
                  aki=not_ca.subject_key_id)
    assert build_chain(leaf, store=only(not_ca), at=NOW).reason == "not_a_ca"
    # CA:TRUE without keyCertSign is not enough either
    no_sign = issued(key, x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "TEST-ONLY ca")]),
                     key.public_key(), ca=True, subject="TEST-ONLY ca")
    leaf2 = issued(key, no_sign.subject_name, key.public_key(), aki=no_sign.subject_key_id)
    assert build_chain(leaf2, store=only(no_sign), at=NOW).reason == "not_a_ca"


def test_three_level_chain_through_an_intermediate(key: rsa.RSAPrivateKey) -> None:
    root = pki.certificate_authority("sign", "g2")
    root_cert = ca("sign", "g2")
    middle_key = rsa.generate_private_key(65537, 2048)
    middle = issued(root.key, root_cert.subject_name, middle_key.public_key(), aki=root_cert.subject_key_id,
                    ca=True, key_cert_sign=True, subject="TEST-ONLY intermediate")
    leaf = issued(middle_key, middle.subject_name, key.public_key(), aki=middle.subject_key_id)
    result = build_chain(leaf, [middle], store=only(root_cert), at=NOW)
    assert result.ok and [c.der for c in result.path] == [leaf.der, middle.der, root_cert.der]
    assert build_chain(leaf, store=only(root_cert), at=NOW).reason == "unknown_issuer"


def test_anchor_itself_and_aware_time(adult: dict[int, JpkiCertificate], store: TrustStore) -> None:
    assert build_chain(adult[EF_AUTH_CA], store=store, at=NOW).ok
    with pytest.raises(ValueError):
        build_chain(adult[EF_AUTH], store=store, at=datetime(2026, 1, 1))


def test_ca_validity_is_judged_at_the_given_time(adult: dict[int, JpkiCertificate], store: TrustStore) -> None:
    g2 = ca("auth", "g2")
    assert build_chain(adult[EF_AUTH], store=store, at=g2.not_after).ok
    late = build_chain(adult[EF_AUTH], store=store, at=g2.not_after + timedelta(seconds=1))
    assert late.reason == "ca_expired"


# --- hostile files ---------------------------------------------------------------------------------------------


@settings(max_examples=examples(60), deadline=None)
@given(
    name=st.sampled_from(["x.pem", "x.der", "x.crt", f"{'ab' * 16}.pem"]),
    content=st.one_of(
        st.binary(max_size=600),
        st.binary(max_size=300).map(lambda b: b"-----BEGIN PUBLIC KEY-----\n" + b + b"\n-----END PUBLIC KEY-----\n"),
        st.binary(max_size=300).map(lambda b: b"-----BEGIN CERTIFICATE-----\n" + b + b"\n-----END CERTIFICATE-----"),
        st.integers(0, 1400).map(lambda n: pki.certificate_authority("auth", "g2").der[:n]),
    ),
)
def test_random_trust_files_are_refused_naming_the_file(name: str, content: bytes) -> None:
    """Only the intact CA certificate loads; anything else is a TrustStoreError that names the file, so the
    operator knows which file to replace (never a crash, never a silently smaller trust store)."""
    full = pki.certificate_authority("auth", "g2").der
    with tempfile.TemporaryDirectory() as directory:
        (Path(directory) / name).write_bytes(content)
        if content == full:
            store = TrustStore.from_directory(directory)
            assert [c.der for c in store.certificates] == [full]
            return
        with pytest.raises(TrustStoreError) as refused:
            TrustStore.from_directory(directory)
        assert name in str(refused.value)
