"""Works when installed, not only from a checkout.

A wheel built from this checkout is installed into a fresh virtual environment (no system site-packages)
outside the checkout, and run from a folder outside it with HOME and XDG_STATE_HOME in a temp folder. The
installed kiosk must find its configuration, card profiles, layouts and translations inside its own
package, keep its state in the state folder, and write nothing into the package or the checkout.

Dependencies come from the configured indexes (and pip's cache), pinned to the versions of the
development environment. Measured on a 2-core machine: build ~2 s, venv ~2 s, install ~9 s (the whole
module ~20 s), so no private wheelhouse is needed.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kiosk.app.doctor import CJK_FONT_CANDIDATES
from kiosk.i18n import LANGUAGES, translator
from kiosk.i18n.po import Entry, mo_bytes
from tests.conftest import REPO, require

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

# Not needed to build the wheel; left out of the copy the wheel is built from.
_NOT_BUILT = {".git", ".venv", "tests", "docs", "benchmarks", "scripts", "var", "build", "dist", ".pytest_cache",
              ".ruff_cache", ".hypothesis"}
_KEY = "app.title"  # a message every catalog has
_STALE = "STALE CATALOG LEFT IN A CHECKOUT"

# What the installed copy reports about itself (run with its own interpreter, from outside the checkout).
_PROBE = """
import json, sys
import kiosk
from drivers.sim.profile import bundled_profiles
from kiosk.config import DEFAULT_CONFIG, load_config, running_from_checkout, state_dir
from kiosk.i18n import LANGUAGES, translator
config = load_config()
json.dump({
    "kiosk": kiosk.__file__,
    "default_config": str(DEFAULT_CONFIG),
    "checkout": running_from_checkout(),
    "state": str(state_dir()),
    "outbox": str(config.resolve(config.outbox.path)),
    "profile": str(config.resolve(config.simulator.profile)),
    "profiles": [p.name for p in bundled_profiles()],
    "translations": {code: translator(code)(sys.argv[1]) for code in LANGUAGES},
}, sys.stdout)
"""

# The demo's state, created exactly where ``kiosk demo`` (kiosk/app/cli/demo_cmd.py run_ui) creates it.
_DEMO_STATE = """
from kiosk.app.local_central import start_local_central
from kiosk.config import load_config, state_dir
from kiosk.services.outbox import open_outbox
config = load_config()
start_local_central(config, state_dir()).stop()
with open_outbox(config) as outbox:
    print(outbox.status().depth)
"""


def _tree(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every file and link under ``folder`` (links not followed), bytecode caches aside: the interpreter's,
    not the kiosk's (pip precompiles them anyway)."""
    found: dict[str, tuple[int, int, int]] = {}
    if not folder.exists():
        return found
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files + [d for d in dirs if (Path(root) / d).is_symlink()]:
            path = Path(root) / name
            info = path.lstat()
            found[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns, stat.S_IMODE(info.st_mode))
    return found


def _changes(before: Mapping[str, tuple], after: Mapping[str, tuple]) -> list[str]:
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


@dataclass
class Installed:
    """The fresh environment with the kiosk installed from the wheel, and how to run it."""

    root: Path
    wheel: Path
    venv: Path
    site_packages: Path
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def state_home(self) -> Path:
        return self.root / "xdg-state"

    @property
    def cwd(self) -> Path:
        return self.root / "elsewhere"

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def watched(self) -> dict[str, dict[str, tuple]]:
        """What the kiosk must never write to: its own package (all of site-packages) and the checkout's
        config and state folders."""
        return {"site-packages": _tree(self.site_packages), "checkout config/": _tree(REPO / "config"),
                "checkout kiosk/defaults/": _tree(REPO / "kiosk" / "defaults"), "checkout var/": _tree(REPO / "var")}

    def run(self, *argv: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run in the installed environment, then check that nothing was written where it must not be."""
        before = self.watched()
        environment = {
            "PATH": f"{self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
            "HOME": str(self.home),
            "XDG_STATE_HOME": str(self.state_home),
            "TMPDIR": str(self.root / "tmp"),
            "LANG": "C.UTF-8",
            **(env or {}),
        }
        done = subprocess.run(list(argv), cwd=self.cwd, env=environment, capture_output=True, text=True,
                              timeout=300, check=False, stdin=subprocess.DEVNULL)
        after = self.watched()
        for where, files in before.items():
            changed = _changes(files, after[where])
            assert not changed, f"{argv[0]} wrote into {where}: {changed[:10]}"
        assert str(REPO) not in done.stdout + done.stderr, "the installed kiosk refers to the checkout"
        return done


def _copy_checkout(target: Path) -> None:
    """The checkout as it is (uncommitted work included), without what the build does not need, so that
    the build writes its build/ and egg-info folders into the copy, never into the checkout."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = {n for n in names if n == "__pycache__" or n.endswith((".egg-info", ".pyc"))}
        return skip | (_NOT_BUILT & set(names)) if Path(folder) == REPO else skip

    shutil.copytree(REPO, target, symlinks=True, ignore=ignore)
    # A compiled catalog left over in a checkout, newer than its source and wrong: it must not ship.
    stale = target / "kiosk" / "i18n" / "locale" / "ja" / "LC_MESSAGES" / "kiosk.mo"
    stale.write_bytes(mo_bytes([Entry(_KEY, _STALE)]))


def _dev_constraints(target: Path) -> Path:
    """Pin the dependencies to the development environment's versions (the ones every other tier tests)."""
    frozen = subprocess.run([sys.executable, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True,
                            text=True, timeout=120, check=True).stdout
    pins = [line for line in frozen.splitlines() if line and not line.startswith(("#", "-")) and " @ " not in line]
    target.write_text("\n".join(pins) + "\n", encoding="utf-8")
    return target


def _step(timings: dict[str, float], name: str, argv: list[str], cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    began = time.monotonic()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    timings[name] = round(time.monotonic() - began, 1)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("installed-wheel")
    assert not root.resolve().is_relative_to(REPO.resolve())
    timings: dict[str, float] = {}
    source = root / "source"
    _copy_checkout(source)
    wheels = root / "wheels"
    _step(timings, "build wheel", [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
                                   str(source)], root)
    (wheel,) = wheels.glob("mynumber_kiosk-*.whl")
    venv = root / "venv"
    _step(timings, "create venv", [sys.executable, "-m", "venv", str(venv)], root)
    python = str(venv / "bin" / "python")
    _step(timings, "install", [python, "-m", "pip", "install", "-q", "-c", str(_dev_constraints(root / "pins.txt")),
                               f"{wheel}[server]"], root)
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    for folder in ("home", "xdg-state", "elsewhere", "tmp"):
        (root / folder).mkdir()
    print(f"\ninstalled wheel {wheel.name} ({wheel.stat().st_size} bytes); seconds: {timings}")
    yield Installed(root, wheel, venv, Path(purelib), timings)


def test_the_wheel_carries_what_the_kiosk_reads_at_run_time(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        for shipped in sorted((REPO / "config").rglob("*.toml")):
            inside = f"kiosk/defaults/{shipped.relative_to(REPO / 'config').as_posix()}"
            assert inside in names, f"{inside} is not in the wheel"
            assert wheel.read(inside) == shipped.read_bytes(), f"{inside} differs from {shipped}"
        metadata = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "kiosk/defaults/__init__.py" in names
    for kind in ("*.kv", "*.po"):
        for path in (REPO / "kiosk").rglob(kind):
            assert path.relative_to(REPO).as_posix() in names, f"{path} is not in the wheel"
    assert not [n for n in names if n.endswith(".mo")], "compiled catalogs must not ship (see pyproject.toml)"
    assert not [n for n in names if n.split("/")[0] in ("config", "tests", "var")]
    assert "License-Expression: Apache-2.0" in metadata


def test_doctor_uses_the_packaged_configuration(installed: Installed) -> None:
    require(any(font.exists() for font in CJK_FONT_CANDIDATES), "no CJK font (apt-get install fonts-noto-cjk)")
    done = installed.run(installed.bin("kiosk"), "doctor", "--json")
    assert done.returncode in (0, 1), done.stderr  # 1: pcscd may not run here; the findings say so
    findings = {f["check"]: f for f in json.loads(done.stdout)["findings"]}
    packaged = installed.site_packages / "kiosk" / "defaults" / "demo.toml"
    assert findings["configuration"]["status"] == "ok"
    assert findings["configuration"]["detail"].startswith(f"{packaged} "), findings["configuration"]
    assert findings["fonts"]["status"] == "ok", findings["fonts"]
    outbox = installed.state_home / "mynumber-kiosk" / "outbox.sqlite3"
    assert findings["outbox"]["detail"].startswith(f"{outbox}:"), findings["outbox"]


@pytest.mark.pcsc
def test_demo_once_serves_the_packaged_card(installed: Installed, vpcd_readers: list[str]) -> None:
    done = installed.run(installed.bin("kiosk"), "demo", "--once", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    cards = [f for f in json.loads(done.stdout)["findings"] if f["data"].get("card")]
    served = [f for f in cards if f["data"]["reader"] == vpcd_readers[0]]
    assert served, cards
    assert served[0]["status"] == "ok" and served[0]["data"]["my_number_card"], served[0]
    assert "My Number card" in served[0]["detail"]


def test_translations_profiles_and_paths_come_from_the_package(installed: Installed) -> None:
    done = installed.run(installed.bin("python"), "-c", _PROBE, _KEY)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    package = installed.site_packages / "kiosk"
    assert Path(seen["kiosk"]).parent == package and not seen["checkout"]
    assert seen["default_config"] == str(package / "defaults" / "demo.toml")
    assert seen["profile"] == str(package / "defaults" / "cards" / "adult.toml")
    assert seen["profiles"] == sorted(p.name for p in (REPO / "config" / "cards").glob("*.toml"))
    assert seen["state"] == str(installed.state_home / "mynumber-kiosk")
    assert seen["outbox"] == str(installed.state_home / "mynumber-kiosk" / "outbox.sqlite3")
    expected = {code: translator(code)(_KEY) for code in LANGUAGES}
    assert seen["translations"] == expected  # from the .po: the stale .mo did not ship
    assert seen["translations"]["ja"] not in (_KEY, _STALE, expected["en"])


def test_the_demo_state_goes_to_the_state_folder(installed: Installed) -> None:
    done = installed.run(installed.bin("python"), "-c", _DEMO_STATE)
    assert done.returncode == 0, done.stderr
    state = installed.state_home / "mynumber-kiosk"
    for name in ("outbox.sqlite3", "outbox.key", "demo-server.db", "demo-pki/ca.pem"):
        assert (state / name).is_file(), f"{name} is not in {state}: {sorted(_tree(state))}"
    assert stat.S_IMODE((state / "outbox.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700

    override = installed.root / "kiosk-state"
    done = installed.run(installed.bin("python"), "-c", _DEMO_STATE, env={"KIOSK_STATE_DIR": str(override)})
    assert done.returncode == 0, done.stderr
    assert (override / "outbox.sqlite3").is_file() and (override / "demo-pki" / "ca.pem").is_file()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_installed_server_migrates_serves_and_answers_health(installed: Installed) -> None:
    """`kiosk server` from the wheel alone: a test PKI, the migration as its own step, then HTTPS on loopback
    whose /healthz answers with the database reachable."""
    import ssl
    import urllib.request

    pki = installed.root / "server-pki"
    database = f"sqlite:///{installed.root / 'server-state' / 'central.db'}"
    (installed.root / "server-state").mkdir(exist_ok=True)
    done = installed.run(installed.bin("kiosk"), "server", "demo-pki", str(pki))
    assert done.returncode == 0, done.stderr
    done = installed.run(installed.bin("kiosk"), "server", "migrate", "--db", database, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    port = _free_port()
    log = (installed.root / "server.log").open("w")
    server = subprocess.Popen(
        [installed.bin("kiosk"), "server", "serve", "--db", database, "--host", "127.0.0.1", "--port", str(port),
         "--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key"), "--kiosk-ca",
         str(pki / "ca.pem"), "--client-cert", "optional",
         "--secret-file", str(installed.root / "server-state" / "secret")],
        cwd=installed.cwd, env={"PATH": f"{installed.venv / 'bin'}:/usr/bin:/bin", "HOME": str(installed.home),
                                "LANG": "C.UTF-8"}, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        deadline = time.monotonic() + 60
        answer: dict | None = None
        while time.monotonic() < deadline and answer is None:
            assert server.poll() is None, (installed.root / "server.log").read_text()
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=context, timeout=5) as r:
                    answer = {"status": r.status, "body": json.loads(r.read())}
            except OSError:
                time.sleep(0.3)
        assert answer is not None, (installed.root / "server.log").read_text()
        assert answer["status"] == 200 and answer["body"]["status"] == "ok", answer
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
