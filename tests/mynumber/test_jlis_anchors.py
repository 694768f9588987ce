"""The real J-LIS CA certificates shipped in config/trust/jlis, their pins, and cards from a generation we lack.

The expected values are written out here from the card-protocol fact sheet (§5.1), not read from the files
under test, so a replaced certificate or an edited pin fails. Synthetic card certificates are generated at
test time with keys of their own; none of them can pass for a real card.
"""

from __future__ import annotations

import dataclasses
import shutil
import tomllib
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from drivers.mynumber import aids
from drivers.mynumber.card import MyNumberCard
from drivers.mynumber.certificates import JpkiCertificate, parse_certificate
from drivers.mynumber.trust import (
    JLIS_CA_NAMES,
    KNOWN_UNSHIPPED,
    REASON_BAD_SIGNATURE,
    REASON_UNKNOWN_CA_GENERATION,
    TrustStore,
    build_chain,
    jlis_purpose,
    signed_by,
)
from drivers.mynumber.verifier import CardVerifier
from drivers.sim.card import SimulatedCard
from drivers.sim.transport import SimTransport
from kiosk.app.wiring import trust_store_from_config
from kiosk.config import DEFAULTS_DIR, PRODUCTION_CONFIG, ConfigError, load_config
from kiosk.core import messages
from kiosk.i18n import LANGUAGES, catalog
from tests.conftest import REPO
from tests.mynumber.verification_support import image_of

BUNDLED = REPO / "config" / "trust" / "jlis"
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)

# card-protocol.md §5.1: file → (purpose, SHA-256, notBefore, notAfter, serial, SKI prefix)
DOCUMENTED = {
    "auth_ca_2015.pem": ("auth", "4DCFC4CA0AAF9FB2A3081B3F0C991C320B3ACC008667A341EEAEC5AF1D58CA7D",
                         datetime(2015, 10, 20, 3, 8, 13, tzinfo=UTC), datetime(2025, 10, 19, 14, 59, 59, tzinfo=UTC),
                         0x01, "9567951b"),
    "auth_ca_2023.pem": ("auth", "64114F29620C24ED2631D46476A040E7EE740D956089C00B036A6A8118C322B5",
                         datetime(2023, 7, 16, 1, 1, 4, tzinfo=UTC), datetime(2033, 7, 15, 14, 59, 59, tzinfo=UTC),
                         0x06D18006, "1ac100f5"),
    "sign_ca_2015.pem": ("sign", "19645405A1FE14377434BD55957628AC4038557C542403A2243F21C706FC9355",
                         datetime(2015, 10, 20, 2, 40, 28, tzinfo=UTC), datetime(2025, 10, 19, 14, 59, 59, tzinfo=UTC),
                         0x01, "0d034cbb"),
    "sign_ca_2023.pem": ("sign", "D227F6CDE11D35C5252178F106F843D24651944975413B539FA2FB68DBFA365F",
                         datetime(2023, 7, 16, 0, 50, 27, tzinfo=UTC), datetime(2033, 7, 15, 14, 59, 59, tzinfo=UTC),
                         0x067C6A21, "d21ea558"),
}


def load_pem(path: Path) -> JpkiCertificate:
    return parse_certificate(x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(serialization.Encoding.DER))


def configured_pins() -> list[str]:
    return tomllib.loads(PRODUCTION_CONFIG.read_text(encoding="utf-8"))["verification"]["anchor_sha256"]


def colon_free(pin: str) -> str:
    return pin.replace(":", "").lower()


# --- the four certificates -----------------------------------------------------------------------------


def test_the_folder_holds_exactly_the_four_documented_certificates_and_a_readme() -> None:
    assert sorted(p.name for p in BUNDLED.iterdir()) == sorted([*DOCUMENTED, "README.md"])


@pytest.mark.parametrize("file", sorted(DOCUMENTED))
def test_each_certificate_is_the_documented_self_signed_j_lis_ca(file: str) -> None:
    purpose, sha256, not_before, not_after, serial, ski = DOCUMENTED[file]
    cert = load_pem(BUNDLED / file)
    assert cert.sha256_fingerprint == sha256.lower()
    assert (cert.not_before, cert.not_after, cert.serial) == (not_before, not_after, serial)
    assert cert.subject_key_id is not None and cert.subject_key_id.hex().startswith(ski)
    assert cert.subject_name == cert.issuer_name == JLIS_CA_NAMES[purpose]
    assert jlis_purpose(cert.subject_name) == purpose
    assert signed_by(cert, cert)  # the self-signature verifies
    assert cert.is_ca and {"keyCertSign", "cRLSign"} <= cert.key_usage
    assert isinstance(cert.public_key, rsa.RSAPublicKey) and cert.public_key.key_size == 2048


def test_kiosk_toml_pins_exactly_these_four_fingerprints() -> None:
    pins = sorted(colon_free(pin) for pin in configured_pins())
    assert pins == sorted(sha256.lower() for _, sha256, *_ in DOCUMENTED.values())


def test_the_2015_generation_has_expired_and_2023_is_valid_today() -> None:
    valid = {file: load_pem(BUNDLED / file).not_before <= NOW <= load_pem(BUNDLED / file).not_after
             for file in DOCUMENTED}
    assert valid == {"auth_ca_2015.pem": False, "auth_ca_2023.pem": True, "sign_ca_2015.pem": False,
                     "sign_ca_2023.pem": True}


def test_known_missing_generations_are_none_of_the_shipped_ones() -> None:
    store = TrustStore.from_directory(BUNDLED)
    assert {(g.purpose, g.year) for g in KNOWN_UNSHIPPED} == {("sign", 2019), ("auth", 2019)}
    assert not any(g.present_in(store) for g in KNOWN_UNSHIPPED)
    sign_2019 = next(g for g in KNOWN_UNSHIPPED if g.purpose == "sign")
    assert sign_2019.sha256 == "79679c33e4cc9319440f1ad120a597ff1844e2ef217063adb176966fd5e6fbeb"


# --- the configuration: bundled folder, pins, refusals ---------------------------------------------------


def test_the_default_kiosk_toml_loads_the_bundled_store_from_the_package() -> None:
    store = trust_store_from_config(load_config(PRODUCTION_CONFIG))
    package_folder = Path(str(resources.files("kiosk.defaults") / "trust" / "jlis")).resolve()
    assert Path(store.origin).resolve() == package_folder == (DEFAULTS_DIR / "trust" / "jlis").resolve()
    assert store.pinned
    assert sorted(store.source_of(cert) for cert in store.certificates) == sorted(DOCUMENTED)


def copied_config(tmp_path: Path, text: str) -> Path:
    """kiosk.toml as an operator copies it (scripts/install-kiosk does), edited by ``text``'s replacements."""
    config = tmp_path / "etc" / "kiosk.toml"
    config.parent.mkdir(parents=True)
    config.write_text(text, encoding="utf-8")
    return config


def test_a_copied_kiosk_toml_still_finds_the_bundled_anchors(tmp_path: Path) -> None:
    config = copied_config(tmp_path, PRODUCTION_CONFIG.read_text(encoding="utf-8"))
    store = trust_store_from_config(load_config(config))
    assert len(store.certificates) == 4 and store.pinned


def test_a_tampered_pin_refuses_the_folder_naming_the_file_and_the_fix(tmp_path: Path) -> None:
    original = "64:11:4F:29:62:0C:24:ED:26:31:D4:64:76:A0:40:E7:EE:74:0D:95:60:89:C0:0B:03:6A:6A:81:18:C3:22:B5"
    tampered = original.replace("64:11", "64:12")
    text = PRODUCTION_CONFIG.read_text(encoding="utf-8")
    assert original in text
    config = copied_config(tmp_path, text.replace(original, tampered))
    with pytest.raises(ConfigError) as refused:
        trust_store_from_config(load_config(config))
    message = str(refused.value)
    assert str(config) in message and "auth_ca_2023.pem" in message
    assert "64114f29620c24ed2631d46476a040e7ee740d956089c00b036a6a8118c322b5" in message
    assert "not one of the pinned fingerprints" in message
    assert "fix:" in message and "verification.anchor_sha256" in message and "https://www.jpki.go.jp/ca/" in message


def test_a_certificate_slipped_into_an_operator_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "jpki-trust"
    shutil.copytree(BUNDLED, folder)
    key = rsa.generate_private_key(65537, 2048)
    (folder / "extra.pem").write_bytes(synthetic_card(key, aki=None).certificate.public_bytes(
        serialization.Encoding.PEM))
    text = PRODUCTION_CONFIG.read_text(encoding="utf-8").replace('trust_store = "{bundled}/jlis"',
                                                                 f'trust_store = "{folder}"')
    with pytest.raises(ConfigError, match=r"extra\.pem: CA certificate with SHA-256 [0-9a-f]{64} is not one of"):
        trust_store_from_config(load_config(copied_config(tmp_path, text)))


def test_a_pinned_file_that_is_missing_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "jpki-trust"
    shutil.copytree(BUNDLED, folder)
    (folder / "sign_ca_2023.pem").unlink()
    text = PRODUCTION_CONFIG.read_text(encoding="utf-8").replace('trust_store = "{bundled}/jlis"',
                                                                 f'trust_store = "{folder}"')
    with pytest.raises(ConfigError, match="pinned trust anchors not found in the folder: d227f6cd"):
        trust_store_from_config(load_config(copied_config(tmp_path, text)))


def test_a_missing_folder_says_where_and_how_to_fix(tmp_path: Path) -> None:
    text = PRODUCTION_CONFIG.read_text(encoding="utf-8").replace('trust_store = "{bundled}/jlis"',
                                                                 'trust_store = "/nonexistent/jpki-trust"')
    config = copied_config(tmp_path, text)
    with pytest.raises(ConfigError) as refused:
        trust_store_from_config(load_config(config))
    message = str(refused.value)
    assert str(config) in message and "/nonexistent/jpki-trust does not exist" in message
    assert 'fix: create it with the J-LIS CA certificates, or set trust_store = "{bundled}/jlis"' in message


def test_a_malformed_pin_names_the_key(tmp_path: Path) -> None:
    text = PRODUCTION_CONFIG.read_text(encoding="utf-8").replace("anchor_sha256 = [", 'anchor_sha256 = [\n"abc",')
    with pytest.raises(ConfigError, match=r"verification\.anchor_sha256: 'abc' is not a SHA-256 fingerprint"):
        trust_store_from_config(load_config(copied_config(tmp_path, text)))


# --- a card from a J-LIS generation the store lacks --------------------------------------------------------


def synthetic_card(signer: rsa.RSAPrivateKey, *, aki: bytes | None, issuer: x509.Name | None = None,
                   with_aki: bool = True) -> JpkiCertificate:
    """An auth certificate shaped like a card's, naming a J-LIS CA as issuer, signed by ``signer``.

    ``aki``: the key identifier it claims (None: the signer's own, as a real CA of another generation
    would write it); ``with_aki=False`` leaves the extension out.
    """
    subject_key = rsa.generate_private_key(65537, 2048)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COUNTRY_NAME, "JP"),
                                 x509.NameAttribute(x509.NameOID.COMMON_NAME, "TEST-ONLY-SYNTHETIC-CARD")]))
        .issuer_name(issuer or JLIS_CA_NAMES["auth"])
        .public_key(subject_key.public_key())
        .serial_number(0x5E7)
        .not_valid_before(datetime(2025, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2030, 1, 1, tzinfo=UTC))
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    if with_aki:
        identifier = aki if aki is not None else x509.SubjectKeyIdentifier.from_public_key(signer.public_key()).digest
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(identifier, None, None), critical=False)
    return parse_certificate(builder.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.DER))


@pytest.fixture(scope="module")
def jlis_store() -> TrustStore:
    return TrustStore.from_directory(BUNDLED)


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    """A CA key of a "generation" the store does not hold (generated now: worthless anywhere else)."""
    return rsa.generate_private_key(65537, 2048)


def test_a_j_lis_issuer_whose_key_we_lack_is_an_unknown_generation(jlis_store: TrustStore,
                                                                      other_key: rsa.RSAPrivateKey) -> None:
    card = synthetic_card(other_key, aki=None)
    result = build_chain(card, store=jlis_store, at=NOW)
    assert (result.ok, result.reason, result.anchor) == (False, REASON_UNKNOWN_CA_GENERATION, None)


def test_without_a_key_identifier_a_j_lis_issuer_is_still_an_unknown_generation(
        jlis_store: TrustStore, other_key: rsa.RSAPrivateKey) -> None:
    """Every generation has the DN: without a key id nothing says it claims one we hold."""
    card = synthetic_card(other_key, aki=None, with_aki=False)
    assert build_chain(card, store=jlis_store, at=NOW).reason == REASON_UNKNOWN_CA_GENERATION


def test_the_sign_ca_dn_counts_as_j_lis_too(jlis_store: TrustStore, other_key: rsa.RSAPrivateKey) -> None:
    card = synthetic_card(other_key, aki=None, issuer=JLIS_CA_NAMES["sign"])
    assert build_chain(card, store=jlis_store, at=NOW).reason == REASON_UNKNOWN_CA_GENERATION


def test_claiming_the_2023_key_with_a_bad_signature_is_forged(jlis_store: TrustStore,
                                                              other_key: rsa.RSAPrivateKey) -> None:
    anchor_2023 = load_pem(BUNDLED / "auth_ca_2023.pem")
    forged = synthetic_card(other_key, aki=anchor_2023.subject_key_id)
    result = build_chain(forged, store=jlis_store, at=NOW)
    assert (result.ok, result.reason) == (False, REASON_BAD_SIGNATURE)


def test_a_non_j_lis_issuer_stays_an_unknown_issuer(jlis_store: TrustStore, other_key: rsa.RSAPrivateKey) -> None:
    stranger = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "TEST-ONLY some other CA")])
    assert build_chain(synthetic_card(other_key, aki=None, issuer=stranger), store=jlis_store,
                       at=NOW).reason == "unknown_issuer"


def card_with_auth_certificate(der: bytes) -> SimulatedCard:
    """The synthetic adult's card, its auth certificate EF replaced by ``der``."""
    image = image_of("adult")
    jpki = image.application("jpki")
    ef = jpki.efs[aids.EF_AUTH_CERT]
    replaced = dataclasses.replace(ef, content=der, size=max(ef.size, len(der)))
    apps = [dataclasses.replace(app, efs={**app.efs, aids.EF_AUTH_CERT: replaced}) if app is jpki else app
            for app in image.applications]
    return SimulatedCard(dataclasses.replace(image, applications=apps))


def test_the_card_check_answers_unknown_generation_not_valid_and_sends_no_pin(
        jlis_store: TrustStore, other_key: rsa.RSAPrivateKey) -> None:
    card = card_with_auth_certificate(synthetic_card(other_key, aki=None).der)
    verifier = CardVerifier(MyNumberCard(SimTransport(card)), jlis_store, clock=lambda: NOW)
    verdict = verifier.verify("1234", card_info_pin="1234", sign_pin="ABC123")
    chain = verdict.check("auth_chain")
    assert (chain.status, chain.reason) == ("failed", "unknown_ca_generation")
    assert not verdict.verified and verifier.certificate_failed
    assert verdict.check("possession").status == "not_checked"
    assert card.pin("jpki", aids.AUTH_PIN.fid).remaining == aids.AUTH_PIN.maximum  # no PIN went to the card
    headline = messages.result_headline(verdict.checks, verdict.verified)
    assert (headline.key, headline.tone) == (messages.RESULT_UNKNOWN_CA_GENERATION, "warn")


def test_a_forged_card_claiming_the_2023_key_is_not_genuine(jlis_store: TrustStore,
                                                            other_key: rsa.RSAPrivateKey) -> None:
    anchor_2023 = load_pem(BUNDLED / "auth_ca_2023.pem")
    card = card_with_auth_certificate(synthetic_card(other_key, aki=anchor_2023.subject_key_id).der)
    verdict = CardVerifier(MyNumberCard(SimTransport(card)), jlis_store, clock=lambda: NOW).verify("1234")
    assert verdict.check("auth_chain").reason == "bad_signature" and not verdict.verified
    assert messages.result_headline(verdict.checks, verdict.verified).key == messages.RESULT_NOT_GENUINE


def test_every_language_says_unknown_generation_in_its_own_words() -> None:
    key = messages.RESULT_UNKNOWN_CA_GENERATION
    assert key in messages.ALL_MESSAGE_KEYS
    for language in LANGUAGES:
        entries = catalog(language)
        assert entries[key].strip(), language
        assert entries[key] not in (entries[messages.RESULT_NOT_GENUINE], entries[messages.RESULT_ISSUER_UNKNOWN])
    assert "forged" in catalog("en")[key] and "staff" in catalog("en")[key]


@dataclasses.dataclass
class _OpenCard:
    card: MyNumberCard
    verifier: CardVerifier


def test_renewal_by_card_tells_an_unknown_generation_apart_from_a_forgery(
        jlis_store: TrustStore, other_key: rsa.RSAPrivateKey) -> None:
    """A resident whose card comes from a CA generation the kiosk lacks is not told "not genuine" at the
    renewal either; a card claiming a held CA's key with a bad signature still is. No PIN goes to either."""
    from kiosk.core.application_keys import RENEWAL_STATUS_KEYS
    from kiosk.core.flows.renewal.operations import NOT_GENUINE, UNKNOWN_CA_GENERATION, CheckRenewal

    anchor_2023 = load_pem(BUNDLED / "auth_ca_2023.pem")
    for aki, expected in ((None, UNKNOWN_CA_GENERATION), (anchor_2023.subject_key_id, NOT_GENUINE)):
        simulated = card_with_auth_certificate(synthetic_card(other_key, aki=aki).der)
        card = MyNumberCard(SimTransport(simulated))
        facts = CheckRenewal().run(_OpenCard(card, CardVerifier(card, jlis_store, clock=lambda: NOW)))
        assert facts.status == expected
        assert simulated.pin("jpki", aids.AUTH_PIN.fid).remaining == aids.AUTH_PIN.maximum
    assert RENEWAL_STATUS_KEYS[UNKNOWN_CA_GENERATION] == messages.RESULT_UNKNOWN_CA_GENERATION
