"""``kiosk card …`` as a user runs it: the installed console script, PINs from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.sim.profile import load_profile
from tests.conftest import REPO

CARDS = REPO / "config" / "cards"
KIOSK = Path(sys.executable).with_name("kiosk")


def kiosk(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(KIOSK), *args], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, **env}, stdin=subprocess.DEVNULL)


def test_verify_json_reports_every_check_and_apdus() -> None:
    adult = load_profile(CARDS / "adult.toml")
    result = kiosk("card", "verify", "--sim", str(CARDS / "adult.toml"), "--json", "--pin-env", "P",
                   "--card-info-pin-env", "Q", P=adult.pins.auth, Q=adult.pins.card_info)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["verified"] is True
    assert {c["name"] for c in document["checks"]} >= {"auth_chain", "possession", "basic4_digest", "revocation"}
    assert document["apdu_count"] > 0
    assert adult.pins.auth not in result.stdout + result.stderr


def test_tampered_card_is_not_verified_and_says_why() -> None:
    tampered = load_profile(CARDS / "tampered.toml")
    result = kiosk("card", "verify", "--sim", str(CARDS / "tampered.toml"), "--json", "--pin-env", "P",
                   "--card-info-pin-env", "Q", "--require", "auth_chain,possession,basic4_digest",
                   P=tampered.pins.auth, Q=tampered.pins.card_info)
    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["basic4_digest"]["status"] == "failed" and checks["basic4_digest"]["reason"] == "digest_mismatch"


def test_certs_json_counts_apdus() -> None:
    result = kiosk("card", "certs", "--sim", str(CARDS / "adult.toml"), "--json")
    document = json.loads(result.stdout)
    assert set(document["certificates"]) == {"auth", "auth_ca", "sign_ca"}
    assert document["apdu_count"] == 7


def test_info_masks_the_my_number_unless_asked() -> None:
    adult = load_profile(CARDS / "adult.toml")
    masked = kiosk("card", "info", "--sim", str(CARDS / "adult.toml"), "--json", "--card-info-pin-env", "Q",
                   Q=adult.pins.card_info)
    assert adult.resident.my_number not in masked.stdout
    assert json.loads(masked.stdout)["card_info"]["my_number"].endswith(adult.resident.my_number[-4:])
    shown = kiosk("card", "info", "--sim", str(CARDS / "adult.toml"), "--json", "--card-info-pin-env", "Q",
                  "--show-number", Q=adult.pins.card_info)
    assert json.loads(shown.stdout)["card_info"]["my_number"] == adult.resident.my_number


def test_wrong_pin_and_last_try_messages() -> None:
    wrong = kiosk("card", "verify", "--sim", str(CARDS / "adult.toml"), "--pin-env", "P", P="0000")
    assert wrong.returncode == 4 and "2 tries left" in wrong.stderr
    last = load_profile(CARDS / "last-try.toml")
    guarded = kiosk("card", "verify", "--sim", str(CARDS / "last-try.toml"), "--pin-env", "P", P=last.pins.auth)
    assert guarded.returncode == 3 and "1 tries left" in guarded.stderr and "last try" in guarded.stderr


def test_no_terminal_and_no_variable_is_a_clear_error() -> None:
    result = kiosk("card", "verify", "--sim", str(CARDS / "adult.toml"))
    assert result.returncode == 2 and "--pin-env" in result.stderr


def test_pin_cannot_be_given_as_an_argument() -> None:
    result = kiosk("card", "verify", "--sim", str(CARDS / "adult.toml"), "--pin", "1234")
    assert result.returncode == 2 and "unrecognized arguments" in result.stderr


@pytest.mark.parametrize("key", ["auth", "sign"])
def test_sign_a_file(tmp_path: Path, key: str) -> None:
    adult = load_profile(CARDS / "adult.toml")
    source = tmp_path / "doc.txt"
    source.write_text("synthetic document")
    out = tmp_path / "sig.bin"
    pin = adult.pins.auth if key == "auth" else adult.pins.sign
    result = kiosk("card", "sign", "--sim", str(CARDS / "adult.toml"), "--key", key, "--in", str(source),
                   "--out", str(out), "--pin-env", "P", P=pin)
    assert result.returncode == 0, result.stderr
    assert len(out.read_bytes()) == 256
