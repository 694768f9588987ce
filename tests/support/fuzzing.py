"""Hypothesis profiles: reproducible in CI, exploring locally, long on demand.

- ``ci`` (chosen when ``CI=true``): derandomized and without an example database, so a run on a clean
  clone tries exactly the same inputs as every other CI run and nothing carried over from an earlier
  run (a stored failing example) can change the verdict. Hypothesis's other caches (constants it mined
  from the code, Unicode tables) go to the session's temp folder, so nothing is written to the checkout.
- ``dev`` (the local default): random exploration; failures are kept in ``.hypothesis/`` and replayed.
- ``fuzz`` (``scripts/run-fuzz``): random, with ``FUZZ_SCALE`` times as many examples per test.

``HYPOTHESIS_PROFILE`` overrides the choice. Tests ask ``examples(n)`` instead of a bare number so one
setting decides how hard every property test works.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.database import DirectoryBasedExampleDatabase

FUZZ_SCALE = 50
PROFILE_ENV = "HYPOTHESIS_PROFILE"


def active_profile() -> str:
    chosen = os.environ.get(PROFILE_ENV)
    if chosen:
        if chosen not in ("ci", "dev", "fuzz"):
            raise ValueError(f"{PROFILE_ENV}={chosen!r}: choose ci, dev or fuzz")
        return chosen
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    return "ci" if in_ci else "dev"


def examples(n: int) -> int:
    """How many examples a property test with base budget ``n`` tries under the active profile."""
    return n * FUZZ_SCALE if active_profile() == "fuzz" else n


def load_profiles(database_dir: str, scratch_dir: str) -> str:
    """Register the three profiles and load the active one; returns its name."""
    settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
    settings.register_profile("dev", database=DirectoryBasedExampleDatabase(database_dir), deadline=None)
    settings.register_profile("fuzz", database=DirectoryBasedExampleDatabase(database_dir), deadline=None,
                              suppress_health_check=[HealthCheck.too_slow])
    name = active_profile()
    if name == "ci":
        set_hypothesis_home_dir(scratch_dir)
    settings.load_profile(name)
    return name
