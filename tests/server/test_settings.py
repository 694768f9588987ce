"""Settings files, the server secret file, and input normalisation of the registry."""

from __future__ import annotations

import stat
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from server.keys import SecretFileError, ServerKeys, load_or_create_secret
from server.settings import Settings, normalise_fingerprint

pytestmark = pytest.mark.server

EXAMPLE = Path(__file__).resolve().parents[2] / "server" / "server.example.toml"


def test_the_example_file_loads() -> None:
    settings = Settings.from_toml(EXAMPLE)
    assert settings.port == 8443
    assert settings.tls_certfile == EXAMPLE.parent / "pki" / "server.pem"
    assert settings.clerk_token_lifetime == timedelta(minutes=30)
    assert settings.handover_grant_lifetime == timedelta(days=7)
    assert settings.lockout_threshold == 5
    assert settings.heartbeat_stale_after == timedelta(minutes=3)


def test_unknown_keys_are_named(tmp_path: Path) -> None:
    path = tmp_path / "server.toml"
    path.write_text('[server]\nport = 1\ndatabase_ur = "x"\n')
    with pytest.raises(ValueError, match=r"server\.database_ur"):
        Settings.from_toml(path)
    path.write_text("[srever]\n")
    with pytest.raises(ValueError, match="srever"):
        Settings.from_toml(path)


def test_lifetimes_must_be_positive() -> None:
    with pytest.raises(ValueError, match="handover_grant_lifetime"):
        Settings(handover_grant_lifetime=timedelta(0))
    with pytest.raises(ValueError, match="clerk_token_lifetime"):
        Settings(clerk_token_lifetime=timedelta(seconds=-1))


def test_fingerprints_and_kiosk_ids_are_checked() -> None:
    colon = ":".join(["AB"] * 32)
    assert normalise_fingerprint(colon) == "ab" * 32
    assert Settings(kiosks={"k-1": colon}).kiosks == {"k-1": "ab" * 32}
    with pytest.raises(ValueError, match="fingerprint"):
        Settings(kiosks={"k-1": "abc"})
    with pytest.raises(ValueError, match="kiosk id"):
        Settings(kiosks={"-bad": "ab" * 32})


def test_the_secret_is_created_0600_and_refused_when_readable(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "secret"
    first = load_or_create_secret(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == first
    path.chmod(0o644)
    with pytest.raises(SecretFileError, match="chmod 600"):
        load_or_create_secret(path)
    path.chmod(0o600)
    path.write_text("abcd\n")
    with pytest.raises(SecretFileError, match="32 bytes"):
        load_or_create_secret(path)


def test_derived_keys_are_separate_and_sealing_is_bound_to_its_purpose() -> None:
    keys = ServerKeys.from_secret(b"s" * 32)
    assert len({keys.matching, keys.lookup, keys.at_rest}) == 3
    sealed = keys.seal(b"photo bytes", purpose="application-photo")
    assert b"photo bytes" not in sealed
    assert keys.unseal(sealed, purpose="application-photo") == b"photo bytes"
    with pytest.raises(InvalidTag):
        keys.unseal(sealed, purpose="contact")
