"""The layer contracts of architecture.md, checked by import-linter (``[tool.importlinter]`` in
pyproject.toml) on the real import graph — including imports inside functions.

A second test proves the check can fail: a copy of the packages with one forbidden import added must be
refused, naming the contract it breaks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
PACKAGES = ("contract", "drivers", "kiosk", "server")


def lint_imports(root: Path, *contracts: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    only = [argument for contract in contracts for argument in ("--contract", contract)]
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *only], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


# The layer rules architecture.md names; dropping one from pyproject.toml (or adding one without saying so
# here) fails the test below.
CONTRACTS = ("contract", "drivers", "pyscard", "core", "ui", "services", "server", "composition-root", "typeset")


def test_every_import_contract_is_kept() -> None:
    import tomllib

    configured = [c["id"] for c in tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
                  ["tool"]["importlinter"]["contracts"]]
    assert sorted(configured) == sorted(CONTRACTS)
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(CONTRACTS)} kept, 0 broken" in result.stdout


@pytest.fixture(scope="module")
def copied_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layers")
    for package in PACKAGES:
        shutil.copytree(REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("kiosk/core/_violation.py", "import kivy.app\n", "core"),
    ("kiosk/core/_violation.py", "def later():\n    from kiosk.services import outbox\n", "core"),
    ("drivers/mynumber/_violation.py", "import requests\n", "drivers"),
    ("kiosk/services/_violation.py", "from smartcard.System import readers\n", "pyscard"),
    ("kiosk/ui/_violation.py", "from drivers.sim import tray\n", "ui"),
    ("kiosk/services/_violation.py", "from kiosk.app import wiring\n", "composition-root"),
    ("server/_violation.py", "import kiosk.config\n", "server"),
    ("contract/_violation.py", "import sqlalchemy\n", "contract"),
])
def test_a_forbidden_import_breaks_its_contract(copied_tree: Path, module: str, line: str, contract: str) -> None:
    violation = copied_tree / module
    violation.write_text(line, encoding="utf-8")
    try:
        result = lint_imports(copied_tree, contract)
    finally:
        violation.unlink()
    assert result.returncode != 0 and "1 broken" in result.stdout, result.stdout
    assert "_violation" in result.stdout  # the report names the offending module

