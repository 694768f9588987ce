"""Trust-folder refusals word for word, and exact chain results at every limit.

An operator fixes a refused trust folder from the message alone, so each refusal is asserted in full; a
chain result is compared whole (ok, path, reason), because a caller reads all three. Built on small EC
test keys (fast) — the chain rules do not depend on the key type. Comments name the mutmut 3.8 mutants
of ``drivers.mynumber.trust`` each test kills (docs/mutation.md).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from drivers.mynumber.certificates import JpkiCertificate, parse_certificate
from drivers.mynumber.trust import (
    MAX_TRUST_FILE_BYTES,
    ChainResult,
    TrustStore,
    TrustStoreError,
    build_chain,
    normalize_fingerprint,
)
from drivers.sim import pki

NOW = datetime(2026, 6, 1, tzinfo=UTC)
START, END = datetime(2024, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)


def name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, text)])


def issue(subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
          *, ca: bool = True, not_before: datetime = START) -> JpkiCertificate:
    """A test certificate for ``key``; ``issuer`` None makes it self-signed. CAs get keyCertSign."""
    issuer_name, issuer_key = issuer or (name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(not_before)
        .not_valid_after(END)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, ca, ca, False, False), critical=True)
    )
    return parse_certificate(builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER))


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def root() -> tuple[JpkiCertificate, ec.EllipticCurvePrivateKey]:
    key = new_key()
    return issue("TEST-ONLY root", key, None), key


def chain_below(root: tuple[JpkiCertificate, ec.EllipticCurvePrivateKey], intermediates: int
                ) -> tuple[JpkiCertificate, list[JpkiCertificate]]:
    """A leaf under ``intermediates`` CAs under ``root``; returns the leaf and the CAs, leaf side first."""
    parent_name, parent_key = root[0].subject_name, root[1]
    cas: list[JpkiCertificate] = []
    for level in range(intermediates):
        key = new_key()
        cas.insert(0, issue(f"TEST-ONLY intermediate {level}", key, (parent_name, parent_key)))
        parent_name, parent_key = cas[0].subject_name, key
    return issue("TEST-ONLY leaf", new_key(), (parent_name, parent_key), ca=False), cas


# --- chains ----------------------------------------------------------------------------------------------


def test_five_intermediates_chain_and_six_are_too_long(root) -> None:
    """MAX_CHAIN_LENGTH is the longest path walked; kills x_build_chain 30–37."""
    store = TrustStore(certificates=(root[0],))
    leaf, cas = chain_below(root, 5)
    assert build_chain(leaf, cas, store=store, at=NOW) == ChainResult(True, [leaf, *cas, root[0]])
    leaf, cas = chain_below(root, 6)
    assert build_chain(leaf, cas, store=store, at=NOW) == ChainResult(False, [leaf, *cas], "chain_too_long")


def test_an_anchor_given_as_the_leaf_is_its_own_path(root) -> None:
    """Kills x_build_chain 7 (path None)."""
    result = build_chain(root[0], store=TrustStore(certificates=(root[0],)), at=NOW)
    assert result == ChainResult(True, [root[0]]) and result.anchor == root[0]


def test_a_self_signed_leaf_is_an_unknown_issuer() -> None:
    """Kills x_build_chain 16 (``and`` → ``or``: a self-signed *leaf* is not an untrusted root)."""
    key = new_key()
    leaf = issue("TEST-ONLY self-signed leaf", key, None, ca=False)
    assert build_chain(leaf, store=TrustStore(), at=NOW) == ChainResult(False, [leaf], "unknown_issuer")


def test_a_path_ending_in_a_root_outside_the_store(root) -> None:
    """Kills x_build_chain 23/24."""
    leaf, _ = chain_below(root, 0)
    result = build_chain(leaf, [root[0]], store=TrustStore(), at=NOW)
    assert result == ChainResult(False, [leaf, root[0]], "untrusted_root")


def test_unknown_issuer_and_bad_signature_are_exact(root) -> None:
    """Kills x_build_chain 54/55 and 67."""
    leaf, _ = chain_below(root, 0)
    assert build_chain(leaf, store=TrustStore(), at=NOW) == ChainResult(False, [leaf], "unknown_issuer")
    impostor = issue("TEST-ONLY root", new_key(), None)  # same DN, other key: found by name, does not verify
    forged = issue("TEST-ONLY leaf", new_key(), (root[0].subject_name, root[1]), ca=False)
    store = TrustStore(certificates=(impostor,))
    without_aki = build_chain(forged, store=store, at=NOW)
    assert without_aki == ChainResult(False, [forged], "unknown_issuer")  # key ids differ: not a candidate
    by_name = parse_certificate(
        x509.CertificateBuilder().subject_name(name("TEST-ONLY leaf")).issuer_name(root[0].subject_name)
        .public_key(new_key().public_key()).serial_number(8).not_valid_before(START).not_valid_after(END)
        .sign(root[1], hashes.SHA256()).public_bytes(serialization.Encoding.DER))
    assert build_chain(by_name, store=store, at=NOW) == ChainResult(False, [by_name], "bad_signature")


def test_an_issuer_that_is_not_a_ca_ends_the_path_with_it(root) -> None:
    """Kills x_build_chain 84."""
    key = new_key()
    plain = issue("TEST-ONLY plain", key, None, ca=False)
    leaf = issue("TEST-ONLY leaf", new_key(), (plain.subject_name, key), ca=False)
    assert build_chain(leaf, store=TrustStore(certificates=(plain,)), at=NOW) == ChainResult(
        False, [leaf, plain], "not_a_ca")


def test_a_ca_is_valid_from_its_first_instant(root) -> None:
    """Kills x__ca_problem 7 (``<=``)."""
    key = new_key()
    late = issue("TEST-ONLY late root", key, None, not_before=NOW)
    leaf = issue("TEST-ONLY leaf", new_key(), (late.subject_name, key), ca=False)
    store = TrustStore(certificates=(late,))
    assert build_chain(leaf, store=store, at=NOW).ok
    assert build_chain(leaf, store=store, at=NOW - timedelta(seconds=1)).reason == "ca_not_yet_valid"


def test_a_naive_time_is_refused_by_name(root) -> None:
    """Kills x_build_chain 2/3/4."""
    with pytest.raises(ValueError) as caught:
        build_chain(root[0], store=TrustStore(), at=datetime(2026, 1, 1))  # naive on purpose
    assert str(caught.value) == "at must be timezone-aware"


# --- folders and pins ------------------------------------------------------------------------------------


def refusal(folder: Path, pins: dict[str, str] | None = None) -> str:
    with pytest.raises(TrustStoreError) as caught:
        TrustStore.from_directory(folder, pins)
    return str(caught.value)


def rsa_pem() -> bytes:
    return pki.cv_root("text").key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_fingerprints_must_be_64_hex_digits() -> None:
    """Kills x_normalize_fingerprint 11 (64 characters that are not hex) and 21 (the message)."""
    with pytest.raises(TrustStoreError) as caught:
        normalize_fingerprint("g" * 64)
    assert str(caught.value) == f"{'g' * 64!r} is not a SHA-256 fingerprint (64 hex digits)"


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    """Kills x_from_directory 4."""
    assert refusal(tmp_path / "nowhere") == f"trust folder {tmp_path / 'nowhere'} does not exist or is not a folder"


def test_two_files_for_one_cv_root_are_refused(tmp_path: Path) -> None:
    """Kills x_from_directory 29."""
    issuer = pki.CV_ROOT_IDS["text"].hex()
    (tmp_path / f"{issuer.upper()}.pem").write_bytes(rsa_pem())
    (tmp_path / f"{issuer}.pem").write_bytes(rsa_pem())
    assert refusal(tmp_path) == f"{issuer}.pem: a second CV root for the same issuer id"


def test_the_size_limit_is_inclusive(tmp_path: Path) -> None:
    """Kills x__read 2 (``>=``) and 3: a file of exactly the limit is read (and then judged)."""
    (tmp_path / "big.der").write_bytes(bytes(MAX_TRUST_FILE_BYTES))
    assert refusal(tmp_path) == "big.der: not a readable certificate"
    (tmp_path / "big.der").write_bytes(bytes(MAX_TRUST_FILE_BYTES + 1))
    assert refusal(tmp_path) == f"big.der: {MAX_TRUST_FILE_BYTES + 1} bytes is too large for a trust file"


def test_an_unreadable_file_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kills x__read 4/5 (tests run as root, so the read error is injected)."""
    (tmp_path / "x.pem").write_bytes(b"")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", denied)
    assert refusal(tmp_path) == "x.pem: cannot be read (Permission denied)"


def test_a_cv_root_must_be_an_rsa_key(tmp_path: Path) -> None:
    """Kills x__cv_root 8."""
    pem = new_key().public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    (tmp_path / f"{'ab' * 16}.pem").write_bytes(pem)
    assert refusal(tmp_path) == f"{'ab' * 16}.pem: card-info roots are RSA keys"


def test_a_pem_file_of_something_else_is_named_as_such(tmp_path: Path) -> None:
    """Kills x__certificates 5/6."""
    (tmp_path / "key.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    assert refusal(tmp_path) == "key.pem: PEM file holds neither a certificate nor a public key"


@pytest.fixture
def folder(tmp_path: Path, root) -> Path:
    (tmp_path / "root.pem").write_bytes(root[0].certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / f"{'cd' * 16}.pem").write_bytes(rsa_pem())
    return tmp_path


def spki_sha256() -> str:
    der = pki.cv_root("text").key.public_key().public_bytes(serialization.Encoding.DER,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def test_unpinned_anchors_are_named_by_kind(folder: Path, root) -> None:
    """Kills x__check_pins 5/6 (CA) and 9/10/11 (CV root)."""
    fingerprint = root[0].sha256_fingerprint
    assert refusal(folder, {f"{'cd' * 16}.pem": spki_sha256()}) == (
        f"root.pem: CA is not pinned; add its SHA-256 {fingerprint} to the expected fingerprints")
    assert refusal(folder, {"root.pem": fingerprint}) == (
        f"{'cd' * 16}.pem: CV root is not pinned; add its SHA-256 {spki_sha256()} to the expected fingerprints")


def test_a_ca_may_be_pinned_by_its_lower_case_subject(folder: Path, root) -> None:
    """Kills x__check_pins 13 (``subject.upper()``)."""
    pins = {root[0].subject.lower(): root[0].sha256_fingerprint, f"{'cd' * 16}.pem": spki_sha256()}
    assert TrustStore.from_directory(folder, pins).certificates == (root[0],)


def test_a_wrong_pin_and_missing_pins_are_refused_in_words(folder: Path, root) -> None:
    """Kills x__check_pins 20/21 and 29."""
    wrong = "0" * 64
    assert refusal(folder, {"root.pem": wrong, f"{'cd' * 16}.pem": spki_sha256()}) == (
        f"root.pem: CA fingerprint {root[0].sha256_fingerprint} does not match the configured fingerprint; "
        "refusing the trust folder")
    pins = {"root.pem": root[0].sha256_fingerprint, f"{'cd' * 16}.pem": spki_sha256(), "a.pem": wrong,
            "b.pem": wrong}
    assert refusal(folder, pins) == "pinned trust anchors not found in the folder: a.pem, b.pem"
