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
    assert document["apdu_count"] == 10  # SELECT AP + 3 × (SELECT EF + header READ + READ of the rest)


def test_certs_only_reads_just_the_one_certificate() -> None:
    result = kiosk("card", "certs", "--sim", str(CARDS / "adult.toml"), "--json", "--only", "auth")
    document = json.loads(result.stdout)
    assert set(document["certificates"]) == {"auth"}
    assert document["apdu_count"] == 4


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


# --- --json means JSON on every outcome ---------------------------------------------------------------------


def json_error(result: subprocess.CompletedProcess[str]) -> dict:
    document = json.loads(result.stdout)  # exactly one JSON document, even on failure
    assert set(document) == {"error"}, document
    return document["error"]


def test_a_wrong_pin_in_json_mode_is_a_json_error_with_tries_left() -> None:
    result = kiosk("card", "verify", "--sim", str(CARDS / "adult.toml"), "--json", "--pin-env", "P", P="9999")
    assert result.returncode == 4
    assert json_error(result) == {"code": "wrong_pin", "message": "wrong auth PIN: 2 tries left", "pin": "auth",
                                  "remaining": 2}
    assert "9999" not in result.stdout + result.stderr


def test_the_guard_refusal_in_json_mode_names_pin_and_tries() -> None:
    last = load_profile(CARDS / "last-try.toml")
    result = kiosk("card", "verify", "--sim", str(CARDS / "last-try.toml"), "--json", "--pin-env", "P",
                   P=last.pins.auth)
    assert result.returncode == 3
    error = json_error(result)
    assert (error["code"], error["pin"], error["remaining"]) == ("pin_guard", "auth", 1)


@pytest.mark.parametrize(("args", "code", "exit_code"), [
    (("card", "pins", "--sim", "config/cards/no-such-resident.toml"), "profile", 2),
    (("card", "verify", "--sim", "config/cards/adult.toml", "--pin-env", "UNSET_PIN_VARIABLE"), "pin_input", 2),
    (("outbox", "status", "--config", "/nonexistent/kiosk.toml"), "config", 2),
])
def test_usage_errors_in_json_mode_are_json_errors(args: tuple[str, ...], code: str, exit_code: int) -> None:
    result = kiosk(*args, "--json")
    assert result.returncode == exit_code, result.stderr
    assert json_error(result)["code"] == code
    assert "Traceback" not in result.stderr


def test_a_missing_reader_in_json_mode_is_a_json_error() -> None:
    result = kiosk("card", "pins", "--reader", "No Such Reader 42", "--json")
    assert result.returncode == 3
    assert json_error(result)["code"] in {"service_unavailable", "no_reader", "no_card"}


def test_a_closed_pipe_prints_no_traceback() -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (say `head`) is already gone
    try:
        result = subprocess.run([str(KIOSK), "card", "pins", "--sim", str(CARDS / "adult.toml"), "--json"],
                                stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120, check=False,
                                stdin=subprocess.DEVNULL)
    finally:
        os.close(write_end)
    assert result.returncode == 141
    assert result.stderr == ""


def test_a_tampered_card_is_not_verified_with_the_default_checks() -> None:
    tampered = load_profile(CARDS / "tampered.toml")
    result = kiosk("card", "verify", "--sim", str(CARDS / "tampered.toml"), "--json", "--pin-env", "P",
                   "--card-info-pin-env", "Q", P=tampered.pins.auth, Q=tampered.pins.card_info)
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["verified"] is False
    failed = {c["name"] for c in document["checks"] if c["status"] == "failed"}
    assert "basic4_digest" in failed
