"""pytest plugin for mutation runs only (``-p tests.support.mutation`` in ``[tool.mutmut]``).

mutmut runs the selected tests again and again in one process (stats, clean run, then a fork per
mutant), so state a module learns once per process survives from one test to the next. A normal run
starts every process fresh; this gives each test that fresh start, so a verdict depends on the mutant,
not on which tests happened to run before it in the same process.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_process_state(monkeypatch: pytest.MonkeyPatch) -> None:
    # Extended-APDU support learnt per reader name (drivers.mynumber.session): one test's probe reader
    # must not teach the next test's reader of the same name.
    monkeypatch.setattr("drivers.mynumber.session._EXTENDED_BY_READER", {})
