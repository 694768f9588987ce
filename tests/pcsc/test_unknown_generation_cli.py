"""``kiosk card verify`` through pcscd on a card from a J-LIS CA generation the kiosk lacks: the command says
``unknown_ca_generation`` (not a bad signature), is not verified, and no PIN reaches the card."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from drivers.mynumber import aids
from tests.conftest import REPO
from tests.mynumber.test_jlis_anchors import card_with_auth_certificate, synthetic_card

pytestmark = pytest.mark.pcsc
KIOSK = Path(sys.executable).with_name("kiosk")
BUNDLED = REPO / "config" / "trust" / "jlis"


def test_kiosk_card_verify_names_the_unknown_generation(served_card, vpcd_readers, tmp_path: Path) -> None:
    card = card_with_auth_certificate(synthetic_card(rsa.generate_private_key(65537, 2048), aki=None).der)
    env = dict(os.environ, KIOSK_STATE_DIR=str(tmp_path), TEST_AUTH_PIN="1234")
    argv = [str(KIOSK), "card", "verify", "--reader", vpcd_readers[0], "--trust", str(BUNDLED),
            "--pin-env", "TEST_AUTH_PIN"]
    with served_card(card, 0):
        human = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, env=env,
                               stdin=subprocess.DEVNULL)
        machine = subprocess.run([*argv, "--json"], capture_output=True, text=True, timeout=120, check=False,
                                 env=env, stdin=subprocess.DEVNULL)
    assert human.returncode == 1 and machine.returncode == 1, human.stderr + machine.stderr
    assert "✖ auth_chain (required): failed (unknown_ca_generation)" in human.stdout
    assert "NOT verified" in human.stdout and "bad_signature" not in human.stdout
    document = json.loads(machine.stdout)
    chain = next(check for check in document["checks"] if check["name"] == "auth_chain")
    assert (chain["status"], chain["reason"], document["verified"]) == ("failed", "unknown_ca_generation", False)
    assert card.pin("jpki", aids.AUTH_PIN.fid).remaining == aids.AUTH_PIN.maximum  # the PIN never reached it
