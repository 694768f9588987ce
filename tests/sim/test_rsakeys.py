"""Deterministic test keys: same label → same key everywhere; only TEST-ONLY labels; a PEM cache on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from drivers.sim import rsakeys
from drivers.sim.rsakeys import cache_file_name, derive_private_numbers, deterministic_rsa_key

LABEL = "TEST-ONLY unit-test key"
# The uncached function: these tests are about the disk cache, so the in-process cache must not answer.
load_or_create = deterministic_rsa_key.__wrapped__


@pytest.fixture(autouse=True)
def key_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "sim-keys"
    monkeypatch.setenv("KIOSK_SIM_CACHE", str(directory))
    return directory


@pytest.mark.parametrize("label", ["unit-test key", "test-only lower case", " TEST-ONLY leading space", ""])
def test_labels_must_say_test_only(label: str) -> None:
    with pytest.raises(ValueError, match="TEST-ONLY"):
        deterministic_rsa_key(label)
    with pytest.raises(ValueError, match="TEST-ONLY"):
        derive_private_numbers(label, 1024)


@pytest.mark.parametrize("bits", [512, 1000, 2047])
def test_unsupported_sizes_are_refused(bits: int) -> None:
    with pytest.raises(ValueError, match="key size"):
        derive_private_numbers(LABEL, bits)


def test_same_label_same_key_different_label_different_key() -> None:
    first = derive_private_numbers(LABEL, 1024)
    assert derive_private_numbers(LABEL, 1024) == first
    assert derive_private_numbers(LABEL + " 2", 1024).public_numbers.n != first.public_numbers.n
    assert derive_private_numbers(LABEL, 1536).public_numbers.n != first.public_numbers.n


def test_key_is_a_working_rsa_2048_key_with_e_65537() -> None:
    key = load_or_create(LABEL, 2048)
    numbers = key.private_numbers()
    assert key.key_size == 2048
    assert numbers.public_numbers.n.bit_length() == 2048
    assert numbers.public_numbers.e == 65537
    assert numbers.p * numbers.q == numbers.public_numbers.n
    assert numbers.p.bit_length() == numbers.q.bit_length() == 1024
    signature = key.sign(b"hello card", padding.PKCS1v15(), hashes.SHA256())
    key.public_key().verify(signature, b"hello card", padding.PKCS1v15(), hashes.SHA256())


def test_known_answer_pins_the_derivation() -> None:
    """A change to the DRBG or prime search would silently change every simulated card: catch it."""
    n = derive_private_numbers("TEST-ONLY known-answer", 1024).public_numbers.n
    assert f"{n:x}".endswith("3c36fcf6b6cbf671")


def test_key_is_written_to_the_cache_as_pem_without_the_label_in_the_name(key_cache: Path) -> None:
    key = load_or_create(LABEL, 1024)
    files = sorted(key_cache.iterdir())
    assert [f.name for f in files] == [cache_file_name(LABEL, 1024)]
    assert "unit-test" not in files[0].name
    stored = serialization.load_pem_private_key(files[0].read_bytes(), password=None)
    assert isinstance(stored, rsa.RSAPrivateKey)
    assert stored.private_numbers() == key.private_numbers()


def test_cached_key_is_read_back_instead_of_regenerated(
    key_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = load_or_create(LABEL, 1024)

    def no_generation(label: str, bits: int) -> rsa.RSAPrivateNumbers:
        raise AssertionError("the cache file should have been used")

    monkeypatch.setattr(rsakeys, "derive_private_numbers", no_generation)
    assert load_or_create(LABEL, 1024).private_numbers() == expected.private_numbers()


@pytest.mark.parametrize(
    "garbage",
    [b"", b"not a pem", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"],
    ids=["empty", "text", "bad-pem"],
)
def test_corrupt_cache_file_is_regenerated(key_cache: Path, garbage: bytes) -> None:
    expected = derive_private_numbers(LABEL, 1024)
    key_cache.mkdir(parents=True)
    path = key_cache / cache_file_name(LABEL, 1024)
    path.write_bytes(garbage)
    assert load_or_create(LABEL, 1024).private_numbers() == expected
    reloaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(reloaded, rsa.RSAPrivateKey)
    assert reloaded.private_numbers() == expected


def test_cache_holding_a_key_of_the_wrong_size_is_regenerated(key_cache: Path) -> None:
    key_cache.mkdir(parents=True)
    other = load_or_create("TEST-ONLY other size", 1536)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (key_cache / cache_file_name(LABEL, 1024)).write_bytes(pem)
    assert load_or_create(LABEL, 1024).key_size == 1024


def test_unwritable_cache_still_gives_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("KIOSK_SIM_CACHE", str(blocker / "sim-keys"))
    assert load_or_create(LABEL, 1024).private_numbers() == derive_private_numbers(LABEL, 1024)


def test_no_temporary_files_are_left_behind(key_cache: Path) -> None:
    load_or_create(LABEL, 1024)
    load_or_create(LABEL + " b", 1024)
    assert all(not f.name.startswith(".tmp") for f in key_cache.iterdir())
    assert len(list(key_cache.iterdir())) == 2


def test_default_cache_location(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIOSK_SIM_CACHE")
    assert rsakeys.cache_directory() == Path("~/.cache/mynumber-kiosk/sim-keys").expanduser()


def test_in_process_cache_returns_the_same_object() -> None:
    assert deterministic_rsa_key(LABEL, 1024) is deterministic_rsa_key(LABEL, 1024)
