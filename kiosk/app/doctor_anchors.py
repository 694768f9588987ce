"""``kiosk doctor``'s trust-anchor findings: which CA certificates this kiosk trusts, and for how long.

Why a doctor check: the anchors decide whether a real card can pass at all, and they age — a CA that
expires, a purpose left without a valid CA, a J-LIS generation the folder lacks (its cards are answered
"unknown CA generation") are all things an operator must see before residents do. The folder is loaded
exactly as ``kiosk run`` loads it (``trust_store_from_config``), pins included; a refused folder is a
failed finding with the message ``kiosk run`` would stop with, and its files are still listed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from drivers.mynumber.certificates import JST, JpkiCertificate, months_before
from drivers.mynumber.trust import KNOWN_UNSHIPPED, TrustStore, TrustStoreError, jlis_purpose, normalize_fingerprint
from kiosk.app.doctor import FAIL, OK, WARN, Finding
from kiosk.config import ConfigError, KioskConfig

CHECK = "trust anchors"
PURPOSES = {"auth": "user-authentication", "sign": "signing"}
_PIN_FIX = "list the SHA-256 of every file in [verification] anchor_sha256 (config/trust/jlis/README.md)"
_ADD_FIX = ("add the CA certificate J-LIS publishes (https://www.jpki.go.jp/ca/) to the trust folder and its "
            "SHA-256 to [verification] anchor_sha256 (config/trust/jlis/README.md)")


def check_anchors(config: KioskConfig | None, now: datetime | None = None) -> list[Finding]:
    """The trust folder as a whole, each anchor in it, each purpose's coverage, known missing generations."""
    if config is None:
        return []
    from kiosk.app.wiring import trust_store_from_config

    at = now or datetime.now(UTC)
    months = config.verification.anchor_warn_months  # its range is checked when the file loads
    if not config.verification.trust_store and config.simulator.enabled:
        return [Finding(CHECK, OK, "the simulator's generated TEST PKI: no real card can pass at this kiosk",
                        data={"test_pki": True})]
    try:
        store, refused = trust_store_from_config(config), None
    except ConfigError as exc:
        refused = exc
        try:
            store = trust_store_from_config(config, pinned=False)
        except ConfigError:
            store = None
    if store is None or refused is not None:
        detail, _, fix = str(refused).partition("; fix: ")
        findings = [Finding(CHECK, FAIL, detail, fix or "correct [verification] in the configuration")]
        return findings + ([] if store is None else _anchor_findings(store, config, at, months))
    return [_summary(store), *_anchor_findings(store, config, at, months), *_coverage(store, at),
            *_missing_generations(store)]


def _summary(store: TrustStore) -> Finding:
    count = f"{len(store.certificates)} CA certificate(s)"
    if store.cv_roots:
        count += f" and {len(store.cv_roots)} card-info CV root key(s)"
    data = {"folder": store.origin, "certificates": len(store.certificates), "cv_roots": len(store.cv_roots),
            "pinned": store.pinned}
    if not store.certificates:
        return Finding(CHECK, FAIL, f"{store.origin}: no CA certificate: no real card can pass",
                       "put the J-LIS CA certificates there, or set trust_store = \"{bundled}/jlis\"", data=data)
    if not store.pinned:
        return Finding(CHECK, WARN, f"{count} from {store.origin}, not pinned: a certificate slipped into the "
                       "folder would be trusted", _PIN_FIX, data=data)
    return Finding(CHECK, OK, f"{count} from {store.origin}, every one pinned", data=data)


def _pins(config: KioskConfig) -> set[str]:
    pins = set()
    for pin in config.verification.anchor_sha256:
        try:
            pins.add(normalize_fingerprint(pin))
        except TrustStoreError:  # a malformed pin: the folder's own finding reports it
            continue
    return pins


def short_fingerprint(fingerprint: str) -> str:
    """The first four bytes, as J-LIS and openssl print them: "64:11:4F:29…"."""
    return ":".join(fingerprint[i:i + 2] for i in range(0, 8, 2)).upper() + "…"


def _jst_day(moment: datetime) -> str:
    return moment.astimezone(JST).date().isoformat()


def _anchor_findings(store: TrustStore, config: KioskConfig, at: datetime, months: int) -> list[Finding]:
    pins = _pins(config)
    return [_anchor(cert, store.source_of(cert) or "?", cert.sha256_fingerprint in pins, bool(pins), at, months)
            for cert in store.certificates]


def _anchor(cert: JpkiCertificate, source: str, pinned: bool, pins_configured: bool, at: datetime,
            months: int) -> Finding:
    purpose = jlis_purpose(cert.subject_name) or "other"
    what = f"{PURPOSES[purpose]} CA" if purpose in PURPOSES else f"CA {cert.subject}"
    generation = cert.not_before.astimezone(JST).year
    valid = f"{_jst_day(cert.not_before)} → {_jst_day(cert.not_after)}"
    data = {"file": source, "purpose": purpose, "generation": generation, "not_before": cert.not_before.isoformat(),
            "not_after": cert.not_after.isoformat(), "sha256": cert.sha256_fingerprint, "pinned": pinned}
    described = (f"{what}, generation {generation}, valid {valid}, SHA-256 {short_fingerprint(cert.sha256_fingerprint)}"
                 f", {'pinned' if pinned else 'not pinned'}")
    check = f"anchor {source}"
    if pins_configured and not pinned:
        return Finding(check, WARN, f"{described} — its SHA-256 is not in [verification] anchor_sha256",
                       "if J-LIS published it, add its SHA-256; otherwise remove the file",
                       data={**data, "state": "unpinned"})
    if at > cert.not_after:
        return Finding(check, WARN, f"{described}: expired (kept for cards it issued)",
                       "nothing to do while newer anchors of its purpose are valid", data={**data, "state": "expired"})
    if at < cert.not_before:
        return Finding(check, WARN, f"{described}: not valid yet", "check the machine's clock",
                       data={**data, "state": "not_yet_valid"})
    days = (cert.not_after - at).days
    if at >= months_before(cert.not_after, months):
        return Finding(check, WARN, f"{described}: expires in {days} days",
                       "watch https://www.jpki.go.jp/ca/ for its successor; " + _ADD_FIX,
                       data={**data, "state": "expiring", "days_left": days})
    return Finding(check, OK, described, data={**data, "state": "valid", "days_left": days})


def _coverage(store: TrustStore, at: datetime) -> list[Finding]:
    """A purpose whose every CA has expired: no new card of that kind can chain here."""
    findings = []
    for purpose, label in PURPOSES.items():
        mine = [cert for cert in store.certificates if jlis_purpose(cert.subject_name) == purpose]
        if not any(cert.not_before <= at <= cert.not_after for cert in mine):
            findings.append(Finding(f"{CHECK}: {purpose}", WARN,
                                    f"no unexpired J-LIS {label} CA in the trust folder ({len(mine)} expired or "
                                    "missing): cards whose certificates it issues cannot pass", _ADD_FIX,
                                    data={"purpose": purpose}))
    return findings


def _missing_generations(store: TrustStore) -> list[Finding]:
    """J-LIS generations known to exist that the folder lacks (``KNOWN_UNSHIPPED``)."""
    missing = [generation for generation in KNOWN_UNSHIPPED if not generation.present_in(store)]
    if not missing:
        return []
    parts = [f"{generation.year} {PURPOSES[generation.purpose]} CA ({generation.note})" for generation in missing]
    return [Finding(f"{CHECK}: missing generations", WARN,
                    "not in the trust folder: " + "; ".join(parts) + ". Cards they issued are answered "
                    "\"unknown CA generation\" (never \"forged\") and get no PIN", _ADD_FIX,
                    data={"missing": [{"purpose": g.purpose, "year": g.year, "sha256": g.sha256,
                                       "key_id_prefix": g.key_id_prefix} for g in missing]})]
