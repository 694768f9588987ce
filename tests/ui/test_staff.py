"""The staff exit: only a salted hash in the configuration, constant-time checks, a lockout."""

from __future__ import annotations

import pytest

from kiosk.ui.staff import (
    DEMO_PIN,
    ENV_HASH,
    LOCKOUT_SECONDS,
    MAX_FAILURES,
    StaffExitGuard,
    configured_hash,
    hash_staff_pin,
    verify_staff_pin,
)

pytestmark = pytest.mark.ui


def test_a_hash_verifies_its_pin_only() -> None:
    encoded = hash_staff_pin("24681357", iterations=1000)
    assert "24681357" not in encoded
    assert verify_staff_pin("24681357", encoded)
    assert not verify_staff_pin("24681358", encoded)


@pytest.mark.parametrize("garbage", ["", "plain", "md5$1$a$b", "pbkdf2_sha256$x$a$b", "pbkdf2_sha256$1$!!$??"])
def test_a_malformed_hash_refuses_instead_of_raising(garbage: str) -> None:
    assert not verify_staff_pin("000000", garbage)


def test_failures_lock_the_dialog_for_a_while() -> None:
    now = [100.0]
    guard = StaffExitGuard(hash_staff_pin("123456", iterations=1000), clock=lambda: now[0])
    for _ in range(MAX_FAILURES):
        assert not guard.check("654321")
    assert guard.locked()
    assert not guard.check("123456")  # even the right PIN while locked
    now[0] += LOCKOUT_SECONDS + 1
    assert guard.check("123456")


def test_where_the_hash_comes_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_HASH, raising=False)
    assert configured_hash(None, demo=False) is None  # run mode without a hash: no staff exit in the UI
    demo = configured_hash(None, demo=True)
    assert demo and verify_staff_pin(DEMO_PIN, demo)
    monkeypatch.setenv(ENV_HASH, "pbkdf2_sha256$1$AA==$AA==")
    assert configured_hash(None, demo=True) == "pbkdf2_sha256$1$AA==$AA=="

    class Staff:
        exit_pin_hash = "from-config"

    class Config:
        staff = Staff()

    assert configured_hash(Config(), demo=False) == "from-config"


def test_without_a_hash_nothing_opens_the_exit() -> None:
    guard = StaffExitGuard(None)
    assert not guard.enabled and not guard.check(DEMO_PIN)
