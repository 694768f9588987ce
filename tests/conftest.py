"""Test-session rules shared by every tier.

- Generated material (simulated-card keys) goes to a per-session temp folder, so runs are parallel-safe
  and leave nothing in the home folder.
- Under CI (CI=true) a tier whose system parts are missing fails instead of skipping: a green CI must
  mean the tier ran.
- The ``hardware`` tier runs only with ``--hardware-card-serial``, and only against that card.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fuzzing import load_profiles

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="kiosk-tests-"))
os.environ.setdefault("KIOSK_SIM_CACHE", str(_SESSION_DIR / "sim-cache"))

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
HYPOTHESIS_PROFILE = load_profiles(str(REPO / ".hypothesis" / "examples"), str(_SESSION_DIR / "hypothesis"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--hardware-card-serial",
        default=None,
        help="run the hardware tier against the real card whose auth certificate has this serial (hex)",
    )


def pytest_report_header(config: pytest.Config) -> str:
    return f"hypothesis profile: {HYPOTHESIS_PROFILE}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.property)
    if config.getoption("--hardware-card-serial"):
        return
    skip = pytest.mark.skip(reason="hardware tier: needs a real reader and card (--hardware-card-serial)")
    for item in items:
        if "hardware" in item.keywords:
            item.add_marker(skip)


def require(condition: bool, reason: str) -> None:
    """Skip locally when a system part is missing; fail under CI, where it must be there."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


# The real PC/SC stack, shared by every tier that needs it (tests/pcsc, tests/ui): one pcscd per session,
# so one holder of the machine-wide lock in tests/support/pcscd.py.
@pytest.fixture(scope="session")
def pcscd_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """pcscd with the vpcd readers, for the whole session; stopped at the end only if we started it."""
    from tests.support.pcscd import PcscdSession, stack_problem

    problem = stack_problem()
    require(problem is None, problem or "")
    session = PcscdSession(log_dir=Path(tmp_path_factory.mktemp("pcscd")))
    session.start()
    try:
        yield session
    finally:
        session.finish()


@pytest.fixture(scope="session")
def vpcd_readers(pcscd_session: object) -> list[str]:
    """vpcd reader names by reader index (index i listens on ``vpcd_port(i)``)."""
    from drivers.pcsc import list_readers
    from kiosk.services import pcscd

    names = sorted(n for n in list_readers() if n.startswith(pcscd.VPCD_READER_PREFIX))
    require(len(names) >= 2, f"expected two vpcd readers, pcscd lists {names}")
    return names


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    import shutil

    shutil.rmtree(_SESSION_DIR, ignore_errors=True)
