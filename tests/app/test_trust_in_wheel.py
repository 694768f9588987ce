"""The wheel carries the J-LIS anchors, and an installed kiosk loads them from its own package.

A wheel is built from a copy of this checkout (uncommitted work included), unpacked outside the checkout
and imported from there, so the trust folder ``{bundled}/jlis`` in kiosk.toml must resolve inside the
unpacked package — the situation of a kiosk installed with pip, without the install's dependencies step.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

JLIS = REPO / "config" / "trust" / "jlis"
_LEFT_OUT = {".git", ".venv", "tests", "docs", "benchmarks", "scripts", "var", "build", "dist", ".pytest_cache",
             ".ruff_cache", ".hypothesis", "mutants"}
_LOAD = """
import json, sys
import kiosk
from kiosk.app.wiring import trust_store_from_config
from kiosk.config import PRODUCTION_CONFIG, load_config
store = trust_store_from_config(load_config(PRODUCTION_CONFIG))
json.dump({"kiosk": kiosk.__file__, "config": str(PRODUCTION_CONFIG), "origin": store.origin,
           "pinned": store.pinned, "files": sorted(store.source_of(c) for c in store.certificates)}, sys.stdout)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trust-wheel")
    source = root / "source"

    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n == "__pycache__" or n.endswith((".egg-info", ".pyc", ".mo"))}
        return skip | (_LEFT_OUT & set(names)) if Path(folder) == REPO else skip

    shutil.copytree(REPO, source, symlinks=True, ignore=ignore)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root / "wheels"),
                            str(source)], capture_output=True, text=True, timeout=500, check=False, cwd=root)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (found,) = (root / "wheels").glob("mynumber_kiosk-*.whl")
    return found


def test_the_wheel_carries_the_four_certificates_and_the_readme(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for shipped in sorted(JLIS.iterdir()):
            inside = f"kiosk/defaults/trust/jlis/{shipped.name}"
            assert inside in names, f"{inside} is not in the wheel"
            assert archive.read(inside) == shipped.read_bytes()
    assert len([n for n in names if n.startswith("kiosk/defaults/trust/jlis/") and n.endswith(".pem")]) == 4


def test_an_unpacked_wheel_loads_the_pinned_anchors_from_its_own_package(wheel: Path, tmp_path: Path) -> None:
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONHOME", "VIRTUAL_ENV")}
    env.update(PYTHONPATH=str(unpacked), KIOSK_STATE_DIR=str(tmp_path / "state"), HOME=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", _LOAD], cwd=elsewhere, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout)
    package = unpacked / "kiosk"
    assert Path(seen["kiosk"]).parent == package, seen  # the unpacked copy, not the checkout
    assert Path(seen["origin"]) == package / "defaults" / "trust" / "jlis"
    assert seen["pinned"] and seen["files"] == sorted(p.name for p in JLIS.glob("*.pem"))
