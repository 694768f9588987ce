"""OpenSC, written by others, as an outside client of the simulated card through pcscd.

Where OpenSC and the simulated card disagree, the card is wrong: these tests hold it to a real driver's
expectations (its jpki driver reads 4 bytes for a certificate's length, then 256-byte chunks; its PKCS#11
module signs with VERIFY + ``80 2A 00 80``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import Encoding

from drivers.sim.card import SimulatedCard
from drivers.sim.profile import load_card_image, load_profile, profile_certificates
from tests.conftest import REPO, require

pytestmark = [pytest.mark.pcsc, pytest.mark.opensc]

ADULT = REPO / "config" / "cards" / "adult.toml"
PKCS11_MODULES = (
    Path("/usr/lib/x86_64-linux-gnu/onepin-opensc-pkcs11.so"),
    Path("/usr/lib/aarch64-linux-gnu/onepin-opensc-pkcs11.so"),
    Path("/usr/lib/x86_64-linux-gnu/pkcs11/onepin-opensc-pkcs11.so"),
)


def tool(name: str) -> str:
    path = shutil.which(name)
    require(path is not None, f"{name} is not installed (apt-get install opensc)")
    return str(path)


def run(*command: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(command, capture_output=True, timeout=60, check=False)


@pytest.fixture
def adult_in_reader(served_card, vpcd_readers):
    card = SimulatedCard(load_card_image(ADULT))
    with served_card(card, 0):
        yield card, vpcd_readers[0]


def test_pkcs15_tool_lists_the_four_jpki_certificates(adult_in_reader) -> None:
    _, reader = adult_in_reader
    result = run(tool("pkcs15-tool"), "--reader", reader, "--list-certificates")
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    for label, path in (
        ("User Authentication Certificate", "000a"),
        ("Digital Signature Certificate", "0001"),
        ("User Authentication Certificate CA", "000b"),
        ("Digital Signature Certificate CA", "0002"),
    ):
        assert f"[{label}]" in out and f"Path           : {path}" in out
    assert out.count("X.509 Certificate [") == 4


@pytest.mark.parametrize(("cert_id", "name"), [("01", "auth"), ("03", "auth_ca"), ("04", "sign_ca")])
def test_pkcs15_tool_reads_the_same_der_the_profile_holds(adult_in_reader, cert_id: str, name: str) -> None:
    _, reader = adult_in_reader
    result = run(tool("pkcs15-tool"), "--reader", reader, "--read-certificate", cert_id)
    assert result.returncode == 0, result.stderr.decode()
    der = x509.load_pem_x509_certificate(result.stdout).public_bytes(Encoding.DER)
    assert der == profile_certificates(load_profile(ADULT))[name]


def test_pkcs11_tool_signs_with_the_auth_key(adult_in_reader, tmp_path: Path) -> None:
    card, reader = adult_in_reader
    module = next((m for m in PKCS11_MODULES if m.exists()), None)
    require(module is not None, "OpenSC's onepin PKCS#11 module is missing (apt-get install opensc)")
    data = tmp_path / "data.bin"
    data.write_bytes("署名テスト: synthetic document".encode())
    signature = tmp_path / "sig.bin"
    pin = load_profile(ADULT).pins.auth
    result = run(
        tool("pkcs11-tool"), "--module", str(module), "--slot-index", "0", "--login", "--pin", pin,
        "--sign", "-m", "SHA256-RSA-PKCS", "--id", "01", "-i", str(data), "-o", str(signature),
    )
    assert result.returncode == 0, result.stderr.decode()
    auth = x509.load_der_x509_certificate(profile_certificates(load_profile(ADULT))["auth"])
    auth.public_key().verify(signature.read_bytes(), data.read_bytes(), padding.PKCS1v15(), hashes.SHA256())
    # the login was right first time: the card's counter is back at its maximum
    assert card.pin("jpki", 0x0018).remaining == 3
    assert reader.startswith("Virtual PCD")
