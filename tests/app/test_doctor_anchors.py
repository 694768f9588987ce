"""``kiosk doctor`` lists the trust anchors: file, purpose, generation, validity, fingerprint, pinned — and
warns before they run out, when a purpose has no valid CA left and about J-LIS generations the folder lacks."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kiosk.app.doctor import FAIL, OK, WARN
from kiosk.app.doctor_anchors import check_anchors
from kiosk.config import PRODUCTION_CONFIG, ConfigError, KioskConfig, SimulatorSection, VerificationSection, load_config
from tests.conftest import REPO

KIOSK = Path(sys.executable).with_name("kiosk")
BUNDLED = REPO / "config" / "trust" / "jlis"
TODAY = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
SHORTLY_BEFORE_2033 = datetime(2033, 3, 1, tzinfo=UTC)  # 4½ months before the 2023 CAs expire
AFTER_2033 = datetime(2034, 1, 1, tzinfo=UTC)


def production(**verification: object) -> KioskConfig:
    config = load_config(PRODUCTION_CONFIG)
    return dataclasses.replace(config, verification=dataclasses.replace(config.verification, **verification))


def by_check(findings) -> dict:
    return {finding.check: finding for finding in findings}


def test_today_every_anchor_is_listed_with_its_facts() -> None:
    found = by_check(check_anchors(production(), now=TODAY))
    summary = found["trust anchors"]
    assert summary.status == OK and "4 CA certificate(s)" in summary.detail and "every one pinned" in summary.detail
    current = found["anchor auth_ca_2023.pem"]
    assert current.status == OK
    assert current.detail == ("user-authentication CA, generation 2023, valid 2023-07-16 → 2033-07-15, "
                              "SHA-256 64:11:4F:29…, pinned")
    assert current.data["purpose"] == "auth" and current.data["generation"] == 2023 and current.data["pinned"]
    assert current.data["sha256"] == "64114f29620c24ed2631d46476a040e7ee740d956089c00b036a6a8118c322b5"
    assert found["anchor sign_ca_2023.pem"].status == OK and found["anchor sign_ca_2023.pem"].data["purpose"] == "sign"
    for old in ("anchor auth_ca_2015.pem", "anchor sign_ca_2015.pem"):
        assert found[old].status == WARN and found[old].detail.endswith("expired (kept for cards it issued)")
        assert found[old].data["generation"] == 2015 and found[old].data["state"] == "expired"
    assert "trust anchors: auth" not in found and "trust anchors: sign" not in found  # both purposes covered


def test_the_missing_2019_generations_are_named() -> None:
    missing = by_check(check_anchors(production(), now=TODAY))["trust anchors: missing generations"]
    assert missing.status == WARN
    assert "2019 signing CA" in missing.detail and "2019 user-authentication CA" in missing.detail
    assert "unknown CA generation" in missing.detail and "https://www.jpki.go.jp/ca/" in missing.fix
    assert {(m["purpose"], m["year"]) for m in missing.data["missing"]} == {("sign", 2019), ("auth", 2019)}


def test_an_anchor_expiring_within_the_warning_months_is_a_warning() -> None:
    found = by_check(check_anchors(production(), now=SHORTLY_BEFORE_2033))
    soon = found["anchor auth_ca_2023.pem"]
    assert soon.status == WARN and soon.detail.endswith("expires in 136 days") and soon.data["days_left"] == 136
    assert "https://www.jpki.go.jp/ca/" in soon.fix
    quieter = by_check(check_anchors(production(anchor_warn_months=3), now=SHORTLY_BEFORE_2033))
    assert quieter["anchor auth_ca_2023.pem"].status == OK


def test_the_warning_months_come_from_the_configuration() -> None:
    assert by_check(check_anchors(production(), now=TODAY))["anchor sign_ca_2023.pem"].status == OK
    early = by_check(check_anchors(production(anchor_warn_months=84), now=TODAY))["anchor sign_ca_2023.pem"]
    assert early.status == WARN and early.data["state"] == "expiring"


def test_no_unexpired_anchor_for_a_purpose_is_a_warning() -> None:
    found = by_check(check_anchors(production(), now=AFTER_2033))
    for purpose, label in (("auth", "user-authentication"), ("sign", "signing")):
        assert found[f"trust anchors: {purpose}"].status == WARN
        assert f"no unexpired J-LIS {label} CA" in found[f"trust anchors: {purpose}"].detail


def test_a_tampered_pin_fails_naming_the_file_and_still_lists_the_anchors() -> None:
    pins = list(production().verification.anchor_sha256)
    pins[1] = pins[1].replace("64:11", "64:12")  # auth_ca_2023.pem's pin
    findings = check_anchors(production(anchor_sha256=tuple(pins)), now=TODAY)
    found = by_check(findings)
    refused = found["trust anchors"]
    assert refused.status == FAIL and "auth_ca_2023.pem" in refused.detail and "not one of the pinned" in refused.detail
    assert "verification.anchor_sha256" in refused.fix
    unpinned = found["anchor auth_ca_2023.pem"]
    assert unpinned.status == WARN and not unpinned.data["pinned"] and "not pinned" in unpinned.detail
    assert found["anchor sign_ca_2023.pem"].data["pinned"]


def test_an_unpinned_folder_is_a_warning() -> None:
    found = by_check(check_anchors(production(anchor_sha256=()), now=TODAY))
    assert found["trust anchors"].status == WARN and "not pinned" in found["trust anchors"].detail
    assert "anchor_sha256" in found["trust anchors"].fix
    assert not found["anchor auth_ca_2023.pem"].data["pinned"]
    assert found["anchor auth_ca_2023.pem"].detail.endswith("not pinned")


def test_a_missing_folder_is_a_failed_finding_not_a_traceback() -> None:
    refused = check_anchors(production(trust_store="/nonexistent/jpki-trust"), now=TODAY)
    assert [(f.check, f.status) for f in refused] == [("trust anchors", FAIL)]
    assert "/nonexistent/jpki-trust does not exist" in refused[0].detail
    assert "{bundled}/jlis" in refused[0].fix


@pytest.mark.parametrize("months", [-1, 121])
def test_warning_months_out_of_range_are_refused_when_the_file_loads(tmp_path, months: int) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(f"[verification]\nanchor_warn_months = {months}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"anchor_warn_months must be between 0 and 120, got {months}"):
        load_config(path)


def test_the_simulator_test_pki_is_said_to_be_one() -> None:
    config = KioskConfig(simulator=SimulatorSection(enabled=True), verification=VerificationSection())
    (finding,) = check_anchors(config, now=TODAY)
    assert finding.status == OK and "TEST PKI" in finding.detail and finding.data["test_pki"]


def test_an_operator_folder_of_its_own_is_listed_from_there(tmp_path: Path) -> None:
    """An operator's folder (here: only the 2023 certificates, pinned) is listed file by file."""
    folder = tmp_path / "jpki-trust"
    folder.mkdir()
    for name in ("auth_ca_2023.pem", "sign_ca_2023.pem"):
        shutil.copy(BUNDLED / name, folder / name)
    pins = tuple(p for p in production().verification.anchor_sha256 if p.startswith(("64:11", "D2:27")))
    found = by_check(check_anchors(production(trust_store=str(folder), anchor_sha256=pins), now=TODAY))
    assert found["trust anchors"].status == OK and "2 CA certificate(s)" in found["trust anchors"].detail
    assert sorted(c for c in found if c.startswith("anchor ")) == ["anchor auth_ca_2023.pem", "anchor sign_ca_2023.pem"]
    assert all(found[c].status == OK for c in found if c.startswith("anchor "))


@pytest.mark.timeout(120)
def test_kiosk_doctor_prints_the_anchors(tmp_path: Path) -> None:
    done = subprocess.run([str(KIOSK), "doctor", "--config", str(PRODUCTION_CONFIG), "--no-probe", "--json"],
                          capture_output=True, text=True, timeout=100, check=False, stdin=subprocess.DEVNULL,
                          env=dict(os.environ, KIOSK_STATE_DIR=str(tmp_path)))
    findings = {f["check"]: f for f in json.loads(done.stdout)["findings"]}
    assert findings["trust anchors"]["status"] == "ok", findings["trust anchors"]
    assert findings["anchor auth_ca_2023.pem"]["data"]["pinned"] is True
    human = subprocess.run([str(KIOSK), "doctor", "--config", str(PRODUCTION_CONFIG), "--no-probe"],
                           capture_output=True, text=True, timeout=100, check=False, stdin=subprocess.DEVNULL,
                           env=dict(os.environ, KIOSK_STATE_DIR=str(tmp_path)))
    assert "! anchor auth_ca_2015.pem: user-authentication CA, generation 2015" in human.stdout
    assert "expired (kept for cards it issued)" in human.stdout
