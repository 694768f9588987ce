"""Trust anchors and chain building for JPKI certificates and card-info CV certificates.

Every JPKI CA generation has the same DN (card-protocol.md §5.1), so a chain builder that matches by name
alone picks the wrong generation half the time. Candidates are therefore found by key identifier (AKI ==
SKI) and, where identifiers are missing, by DN — and ALWAYS confirmed by verifying the signature. The
store is loaded from a configured folder (the only I/O in this layer) and can be pinned to known SHA-256
fingerprints so a file slipped into that folder is refused instead of trusted. Chain results carry
machine-readable reasons; revocation is the server's job (a city is a legal JPKI verifier, a kiosk not).

A certificate that names a J-LIS CA as its issuer but is signed by no CA key in the store is answered
``unknown_ca_generation``, not ``bad_signature``: J-LIS has issued under several CA generations and not
every one is publicly available (``KNOWN_UNSHIPPED``), so such a card is most likely genuine and this kiosk
merely lacks its CA. Only a certificate whose key identifier names a CA we hold and whose signature then
fails is ``bad_signature`` (forged or damaged). Either way the chain check fails: nothing here is a pass.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from drivers.errors import CardError
from drivers.mynumber.certificates import CertificateError, JpkiCertificate, parse_certificate
from drivers.mynumber.integrity import CV_ID_SIZE

CERTIFICATE_SUFFIXES = (".pem", ".crt", ".cer", ".der")
MAX_TRUST_FILE_BYTES = 1 << 20  # a trust file is a few KB; anything bigger is not one
MAX_CHAIN_LENGTH = 6
_CV_ROOT_NAME = re.compile(rf"^[0-9a-fA-F]{{{2 * CV_ID_SIZE}}}$")
_PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)

# Machine-readable chain reasons.
REASON_UNKNOWN_ISSUER = "unknown_issuer"  # nothing in the store or the intermediates names the issuer
REASON_BAD_SIGNATURE = "bad_signature"  # issuers were found by key id or DN, none verifies the signature
REASON_NOT_A_CA = "not_a_ca"  # the verifying issuer lacks CA:TRUE or keyCertSign
REASON_CA_EXPIRED = "ca_expired"
REASON_CA_NOT_YET_VALID = "ca_not_yet_valid"
REASON_UNTRUSTED_ROOT = "untrusted_root"  # the path ends in a self-issued certificate not in the store
REASON_CHAIN_TOO_LONG = "chain_too_long"
# the issuer is a J-LIS CA (by DN) but no CA key in the store signed it: a generation this kiosk lacks
REASON_UNKNOWN_CA_GENERATION = "unknown_ca_generation"


# --- J-LIS facts (card-protocol.md §5.1) -----------------------------------------------------------------

def _jlis_name(unit: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Japan Agency for Local Authority Information Systems"),
    ])


# The DN every generation of each J-LIS CA carries (subject = issuer: the CAs are self-signed roots).
JLIS_CA_NAMES: Mapping[str, x509.Name] = MappingProxyType({
    "auth": _jlis_name("JPKI for user authentication"),
    "sign": _jlis_name("JPKI for digital signature"),
})


def jlis_purpose(name: x509.Name) -> str | None:
    """"auth" or "sign" when ``name`` is the DN of a J-LIS CA, else None."""
    return next((purpose for purpose, known in JLIS_CA_NAMES.items() if known == name), None)


@dataclass(frozen=True, slots=True)
class KnownGeneration:
    """A J-LIS CA generation known to exist but not shipped in config/trust/jlis (no public copy we could
    verify). ``sha256``/``key_id_prefix`` let ``kiosk doctor`` recognise it once an operator adds it."""

    purpose: str  # "auth" | "sign"
    year: int  # the year its validity begins
    sha256: str | None  # fingerprint of the CA certificate, where J-LIS has published one
    key_id_prefix: str | None  # lower-case hex start of its key identifier, where cards show it
    note: str

    def present_in(self, store: TrustStore) -> bool:
        for cert in store.certificates:
            if self.sha256 is not None and cert.sha256_fingerprint == self.sha256:
                return True
            ski = cert.subject_key_id.hex() if cert.subject_key_id is not None else ""
            if self.key_id_prefix is not None and ski.startswith(self.key_id_prefix) and jlis_purpose(
                    cert.subject_name) == self.purpose:
                return True
        return False


# THE list of J-LIS generations this kiosk knows of but does not ship. Cards whose certificates they issued
# (roughly 2019–2023) are answered ``unknown_ca_generation`` until an operator adds the CA certificate to
# the trust folder and its fingerprint to ``[verification] anchor_sha256``.
KNOWN_UNSHIPPED: tuple[KnownGeneration, ...] = (
    KnownGeneration("sign", 2019, "79679c33e4cc9319440f1ad120a597ff1844e2ef217063adb176966fd5e6fbeb", None,
                    "jpki-signca02, valid 2019–2029: J-LIS publishes its SHA-256 79:67:9C:33…, but no copy of "
                    "the certificate was available to ship"),
    KnownGeneration("auth", 2019, None, "8cd5586a",
                    "key id 8C:D5:58:6A…, seen only as the issuer of real cards; no public copy found, and its "
                    "year is UNCONFIRMED"),
)


class TrustStoreError(CardError):
    """The trust folder cannot be used as configured (unreadable file, fingerprint mismatch, …)."""

    code = "trust_store"


class TrustPinError(TrustStoreError):
    """The folder's anchors and the configured fingerprints disagree (a file not pinned, or a pin without
    its file): fixed by checking the file and the pins, not by repairing a file."""


def normalize_fingerprint(value: str) -> str:
    """Lower-case hex without separators ("AB:CD …" and "abcd…" are the same pin)."""
    cleaned = re.sub(r"[\s:]", "", value).lower()
    if len(cleaned) != 64 or re.fullmatch(r"[0-9a-f]{64}", cleaned) is None:
        raise TrustStoreError(f"{value!r} is not a SHA-256 fingerprint (64 hex digits)")
    return cleaned


@dataclass(frozen=True, slots=True)
class _Anchor:
    certificate: JpkiCertificate
    source: str  # file name it came from ("" when built in memory)


@dataclass(frozen=True, slots=True)
class TrustStore:
    """CA certificates (any number of generations per DN) and card-info CV root keys by issuer id.

    ``sources`` maps a CA certificate's SHA-256 to the file it came from and ``origin`` names the folder,
    so an operator's report (``kiosk doctor``) can say which file is which; both are empty for a store
    built in memory. ``pinned`` says whether ``from_directory`` checked every anchor against pins.
    """

    certificates: tuple[JpkiCertificate, ...] = ()
    cv_roots: Mapping[bytes, rsa.RSAPublicKey] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    origin: str = ""
    pinned: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "cv_roots", MappingProxyType(dict(self.cv_roots)))
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))

    def cv_root(self, issuer_id: bytes) -> rsa.RSAPublicKey | None:
        """The card-info root key a CV certificate names by its 16-byte issuer id, if configured."""
        return self.cv_roots.get(bytes(issuer_id))

    def contains(self, cert: JpkiCertificate) -> bool:
        return any(anchor.der == cert.der for anchor in self.certificates)

    def source_of(self, cert: JpkiCertificate) -> str:
        """The file name ``cert`` was loaded from ("" when the store was built in memory)."""
        return self.sources.get(cert.sha256_fingerprint, "")

    @classmethod
    def from_directory(
        cls,
        path: str | Path,
        expected_sha256: Mapping[str, str | Collection[str]] | Collection[str] | None = None,
    ) -> TrustStore:
        """Load every ``*.pem/.crt/.cer/.der`` in ``path`` (not recursive).

        PEM files may hold several certificates; a PEM public key in a file named ``<32 hex>.pem`` is a
        card-info CV root for that issuer id (as ``drivers.sim.pki.write_trust_store`` writes them).

        ``expected_sha256`` pins the folder, either as a plain collection of fingerprints (each anchor's
        must be among them: CA certificates by the SHA-256 of their DER, CV roots of their key's SPKI) or
        as a mapping: keys are file names or subjects (RFC 4514 DN for CA certificates, issuer-id hex for
        CV roots), values one fingerprint or several (one DN covers several generations). With pins
        configured, EVERY anchor must be pinned and match, and every pin must find its anchor — fail
        closed, with a message naming the file.
        """
        folder = Path(path)
        if not folder.is_dir():
            raise TrustStoreError(f"trust folder {folder} does not exist or is not a folder")
        anchors: list[_Anchor] = []
        roots: dict[bytes, tuple[rsa.RSAPublicKey, str, str]] = {}
        for file in sorted(folder.iterdir()):
            if not file.is_file() or file.suffix.lower() not in CERTIFICATE_SUFFIXES:
                continue
            data = _read(file)
            if file.suffix.lower() == ".pem" and b"-----BEGIN PUBLIC KEY-----" in data:
                issuer_id, key = _cv_root(file, data)
                if issuer_id in roots:
                    raise TrustStoreError(f"{file.name}: a second CV root for the same issuer id")
                roots[issuer_id] = (key, file.name, _spki_fingerprint(key))
                continue
            anchors.extend(_Anchor(cert, file.name) for cert in _certificates(file, data))
        if expected_sha256 is not None:
            if isinstance(expected_sha256, Mapping):
                _check_pins(expected_sha256, anchors, roots)
            else:
                _check_pin_set(expected_sha256, anchors, roots)
        return cls(
            certificates=tuple(anchor.certificate for anchor in anchors),
            cv_roots={issuer_id: key for issuer_id, (key, _, _) in roots.items()},
            sources={anchor.certificate.sha256_fingerprint: anchor.source for anchor in anchors},
            origin=str(folder),
            pinned=expected_sha256 is not None,
        )


def _read(file: Path) -> bytes:
    try:
        size = file.stat().st_size
        if size > MAX_TRUST_FILE_BYTES:
            raise TrustStoreError(f"{file.name}: {size} bytes is too large for a trust file")
        return file.read_bytes()
    except OSError as exc:
        raise TrustStoreError(f"{file.name}: cannot be read ({exc.strerror or exc})") from exc


def _cv_root(file: Path, data: bytes) -> tuple[bytes, rsa.RSAPublicKey]:
    if not _CV_ROOT_NAME.match(file.stem):
        raise TrustStoreError(
            f"{file.name}: a public key file must be named by its {CV_ID_SIZE}-byte issuer id in hex"
        )
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TrustStoreError(f"{file.name}: not a readable PEM public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise TrustStoreError(f"{file.name}: card-info roots are RSA keys")
    return bytes.fromhex(file.stem), key


def _spki_fingerprint(key: rsa.RSAPublicKey) -> str:
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def _certificates(file: Path, data: bytes) -> list[JpkiCertificate]:
    blocks = _PEM_CERTIFICATE.findall(data)
    if not blocks and b"-----BEGIN" in data:
        raise TrustStoreError(f"{file.name}: PEM file holds neither a certificate nor a public key")
    try:
        if not blocks:
            return [parse_certificate(data)]
        return [
            parse_certificate(x509.load_pem_x509_certificate(block).public_bytes(serialization.Encoding.DER))
            for block in blocks
        ]
    except (CertificateError, ValueError) as exc:
        raise TrustStoreError(f"{file.name}: not a readable certificate") from exc


def _allowed(value: str | Collection[str]) -> set[str]:
    values: Iterable[str] = (value,) if isinstance(value, str) else value
    return {normalize_fingerprint(item) for item in values}


def _check_pins(
    expected: Mapping[str, str | Collection[str]],
    anchors: Sequence[_Anchor],
    roots: Mapping[bytes, tuple[rsa.RSAPublicKey, str, str]],
) -> None:
    pins = {key: _allowed(value) for key, value in expected.items()}
    used: set[str] = set()
    entries = [(a.source, a.certificate.subject, a.certificate.sha256_fingerprint, "CA") for a in anchors]
    entries += [(name, issuer_id.hex(), fp, "CV root") for issuer_id, (_, name, fp) in roots.items()]
    for source, subject, fingerprint, what in entries:
        keys = [key for key in (source, subject, subject.lower()) if key in pins]
        if not keys:
            raise TrustPinError(
                f"{source}: {what} is not pinned; add its SHA-256 {fingerprint} to the expected fingerprints"
            )
        allowed = set().union(*(pins[key] for key in keys))
        if fingerprint not in allowed:
            raise TrustPinError(
                f"{source}: {what} fingerprint {fingerprint} does not match the configured fingerprint; "
                "refusing the trust folder"
            )
        used.update(keys)
    missing = sorted(set(pins) - used)
    if missing:
        raise TrustPinError(f"pinned trust anchors not found in the folder: {', '.join(missing)}")


def _check_pin_set(
    expected: Collection[str],
    anchors: Sequence[_Anchor],
    roots: Mapping[bytes, tuple[rsa.RSAPublicKey, str, str]],
) -> None:
    """Pins as one set of fingerprints: every anchor's must be in it, and every pin must find its anchor."""
    pins = _allowed(expected)
    entries = [(a.source, a.certificate.sha256_fingerprint, "CA certificate") for a in anchors]
    entries += [(name, fp, "CV root key") for _, name, fp in roots.values()]
    for source, fingerprint, what in entries:
        if fingerprint not in pins:
            raise TrustPinError(
                f"{source}: {what} with SHA-256 {fingerprint} is not one of the pinned fingerprints; "
                "refusing the trust folder"
            )
    missing = sorted(pins - {fingerprint for _, fingerprint, _ in entries})
    if missing:
        raise TrustPinError(f"pinned trust anchors not found in the folder: {', '.join(missing)}")


# --- chains -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainResult:
    """``path`` runs from the leaf to the trust anchor when ``ok``; on failure, as far as it got."""

    ok: bool
    path: list[JpkiCertificate]
    reason: str | None = None

    @property
    def anchor(self) -> JpkiCertificate | None:
        return self.path[-1] if self.ok else None


def _candidate(child: JpkiCertificate, issuer: JpkiCertificate) -> bool:
    """Could ``issuer`` have issued ``child``? By key id when both sides have one, else by DN."""
    if child.authority_key_id is not None and issuer.subject_key_id is not None:
        return child.authority_key_id == issuer.subject_key_id
    return child.issuer_name == issuer.subject_name


def _named_by_key_id(child: JpkiCertificate, issuer: JpkiCertificate) -> bool:
    """``child``'s authority key identifier names exactly ``issuer``'s key (not merely its DN)."""
    return child.authority_key_id is not None and child.authority_key_id == issuer.subject_key_id


def _no_issuer_reason(child: JpkiCertificate, otherwise: str) -> str:
    """Why no issuer signed ``child``: for a J-LIS CA DN, a generation this store lacks (all generations
    share the DN, so only a key identifier could have told them apart); for any other DN, ``otherwise``."""
    return REASON_UNKNOWN_CA_GENERATION if jlis_purpose(child.issuer_name) is not None else otherwise


def signed_by(child: JpkiCertificate, issuer: JpkiCertificate) -> bool:
    """The signature on ``child`` verifies with ``issuer``'s key (and the names chain)."""
    try:
        child.certificate.verify_directly_issued_by(issuer.certificate)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _ca_problem(issuer: JpkiCertificate, at: datetime) -> str | None:
    if not issuer.is_ca or "keyCertSign" not in issuer.key_usage:
        return REASON_NOT_A_CA
    if at < issuer.not_before:
        return REASON_CA_NOT_YET_VALID
    if at > issuer.not_after:
        return REASON_CA_EXPIRED
    return None


def build_chain(
    leaf: JpkiCertificate,
    intermediates: Sequence[JpkiCertificate] = (),
    *,
    store: TrustStore,
    at: datetime,
) -> ChainResult:
    """A path from ``leaf`` to a CA in ``store``, every link confirmed by its signature.

    ``intermediates`` (e.g. the CA certificate the card carries) may help to find a path but are never
    trusted themselves: the path must end at a certificate that is in ``store``. Each issuer must be a
    CA with keyCertSign and be valid at ``at`` (aware). The leaf's own validity is not judged here
    (``certificates.validity`` does that, with renewal windows).
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    if store.contains(leaf):
        return ChainResult(True, [leaf])
    path = [leaf]
    while True:
        current = path[-1]
        if current is not leaf and current.self_issued and signed_by(current, current):
            # a J-LIS-named root we do not hold (the card's own copy of its CA, say): a missing generation
            return ChainResult(False, path, _no_issuer_reason(current, REASON_UNTRUSTED_ROOT))
        if len(path) > MAX_CHAIN_LENGTH:
            return ChainResult(False, path, REASON_CHAIN_TOO_LONG)
        anchors = [(cert, True) for cert in store.certificates]
        extra = [(cert, False) for cert in intermediates if not store.contains(cert)]
        seen = {cert.der for cert in path}
        found = [(c, t) for c, t in anchors + extra if c.der not in seen and _candidate(current, c)]
        if not found:
            return ChainResult(False, path, _no_issuer_reason(current, REASON_UNKNOWN_ISSUER))
        verified = [(c, t) for c, t in found if signed_by(current, c)]
        if not verified:
            if any(_named_by_key_id(current, c) for c, _ in found):
                return ChainResult(False, path, REASON_BAD_SIGNATURE)  # its CA is here, the signature is not
            return ChainResult(False, path, _no_issuer_reason(current, REASON_BAD_SIGNATURE))
        problems = [(_ca_problem(c, at), c, t) for c, t in verified]
        usable = [(c, t) for problem, c, t in problems if problem is None]
        if not usable:
            problem, issuer, _ = problems[0]
            return ChainResult(False, [*path, issuer], problem)
        trusted = [c for c, t in usable if t]
        if trusted:
            return ChainResult(True, [*path, trusted[0]])
        path.append(usable[0][0])
