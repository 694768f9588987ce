"""At-rest encryption: ciphertexts bound to their row, keys created safely and refused when exposed."""

from __future__ import annotations

import os
import stat
import sys
import types
from pathlib import Path

import pytest

from kiosk.services.at_rest import (
    KEY_BYTES,
    KeyFileError,
    PayloadCipher,
    PayloadUnreadable,
    load_key,
    load_key_file,
)
from tests.services import synthetic

KEY = bytes(range(32))


def test_round_trip_and_fresh_nonce_per_seal() -> None:
    cipher = PayloadCipher(KEY)
    document = synthetic.application(1)
    first = cipher.seal_json("item-1", "application", document)
    second = cipher.seal_json("item-1", "application", document)
    assert first != second and first[1:13] != second[1:13]
    assert cipher.open_json("item-1", "application", first) == document
    for needle in synthetic.personal_needles(document).values():
        assert needle not in first


@pytest.mark.parametrize(("item_id", "kind"), [("item-2", "application"), ("item-1", "handover"),
                                               ("item-", "1application")])
def test_a_ciphertext_cannot_move_to_another_row_or_kind(item_id, kind) -> None:
    cipher = PayloadCipher(KEY)
    blob = cipher.seal("item-1", "application", b"payload")
    with pytest.raises(PayloadUnreadable):
        cipher.open(item_id, kind, blob)


def test_tampering_and_wrong_key_are_detected() -> None:
    blob = bytearray(PayloadCipher(KEY).seal("i", "application", b"payload"))
    with pytest.raises(PayloadUnreadable):
        PayloadCipher(bytes(32)).open("i", "application", bytes(blob))
    blob[-1] ^= 1
    with pytest.raises(PayloadUnreadable):
        PayloadCipher(KEY).open("i", "application", bytes(blob))
    with pytest.raises(PayloadUnreadable, match="format"):
        PayloadCipher(KEY).open("i", "application", b"\x02" + bytes(40))


def test_key_size_is_checked() -> None:
    with pytest.raises(ValueError):
        PayloadCipher(b"short")


def test_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "outbox.key"
    old_umask = os.umask(0o000)  # even a careless umask must not widen it
    try:
        key = load_key_file(path)
    finally:
        os.umask(old_umask)
    assert len(key) == KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_key_file(path) == key
    assert [p.name for p in path.parent.iterdir()] == ["outbox.key"]  # no temp file left


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o700])
def test_group_or_world_access_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "outbox.key"
    load_key_file(path)
    path.chmod(mode)
    if mode & 0o077:
        with pytest.raises(KeyFileError) as info:
            load_key_file(path)
        assert f"chmod 600 {path}" in str(info.value)
        assert f"{mode:04o}" in str(info.value)
    else:
        assert len(load_key_file(path)) == KEY_BYTES


@pytest.mark.parametrize("content", ["not base64 !!", "c2hvcnQ=", ""])
def test_malformed_key_files_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "outbox.key"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError):
        load_key_file(path)


def test_a_directory_is_not_a_key(tmp_path: Path) -> None:
    folder = tmp_path / "outbox.key"
    folder.mkdir(mode=0o700)
    with pytest.raises(KeyFileError, match="regular file"):
        load_key_file(folder)


def test_keyring_source_uses_the_optional_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    store: dict[tuple[str, str], str] = {}
    fake = types.ModuleType("keyring")
    fake.get_password = lambda service, user: store.get((service, user))  # type: ignore[attr-defined]
    fake.set_password = lambda service, user, value: store.__setitem__((service, user), value)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", fake)
    key = load_key("keyring", tmp_path / "unused.key")
    assert len(key) == KEY_BYTES and load_key("keyring", tmp_path / "unused.key") == key
    assert not (tmp_path / "unused.key").exists()


def test_keyring_source_without_the_package_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # import fails
    with pytest.raises(KeyFileError, match="pip install keyring"):
        load_key("keyring", tmp_path / "k")


def test_broken_keyring_backend_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = types.ModuleType("keyring")

    def no_backend(service: str, user: str) -> str:
        raise RuntimeError("No recommended backend was available")

    fake.get_password = no_backend  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", fake)
    with pytest.raises(KeyFileError, match="keyring cannot be used"):
        load_key("keyring", tmp_path / "k")
