"""The central server as systemd services: a migration oneshot the server requires and follows, both running as
the unprivileged ``mynumber`` user in a locked-down sandbox; ``systemd-analyze verify`` passes on each (with
ExecStart pointed at this checkout's ``kiosk``, since /opt/mynumber-kiosk is not installed here)."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server.cli import build_parser
from tests.conftest import REPO, require

UNITS = REPO / "deploy" / "systemd"
SERVER = UNITS / "mynumber-central.service"
MIGRATE = UNITS / "mynumber-central-migrate.service"
INSTALLED_KIOSK = "/opt/mynumber-kiosk/bin/kiosk"
CONFIG = "/etc/mynumber-central/server.toml"


def unit_settings(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


def _analyze() -> str:
    analyze = shutil.which("systemd-analyze") or ("/usr/bin/systemd-analyze"
                                                  if Path("/usr/bin/systemd-analyze").exists() else None)
    require(analyze is not None, "systemd-analyze is missing (apt package systemd; scripts/setup installs it)")
    assert analyze is not None
    return analyze


def _local_kiosk() -> str:
    """This checkout's ``kiosk`` entry point (the venv's), standing in for the installed one."""
    candidate = Path(sys.executable).parent / "kiosk"
    require(candidate.exists(), f"no kiosk entry point beside {sys.executable} (pip install -e .)")
    return str(candidate)


def _staged(directory: Path, kiosk: str | None = None) -> list[Path]:
    """Copies of both units with ExecStart's program replaced (they are verified together: one requires the
    other)."""
    staged = []
    for unit in (MIGRATE, SERVER):
        copy = directory / unit.name
        copy.write_text(unit.read_text(encoding="utf-8").replace(INSTALLED_KIOSK, kiosk or _local_kiosk()),
                        encoding="utf-8")
        staged.append(copy)
    return staged


def _verify(*units: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_analyze(), "verify", *map(str, units)], capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.mark.parametrize("which", ["migrate", "server"])
def test_each_unit_passes_systemd_analyze_verify_without_a_warning(which: str, tmp_path: Path) -> None:
    migrate, server = _staged(tmp_path)
    result = _verify(migrate) if which == "migrate" else _verify(server, migrate)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a missing program and a misspelt value are reported."""
    migrate, server = _staged(tmp_path, kiosk="/opt/no-such-place/bin/kiosk")
    server.write_text(server.read_text(encoding="utf-8").replace("Restart=on-failure", "Restart=sometimes"),
                      encoding="utf-8")
    result = _verify(server, migrate)
    assert result.returncode != 0
    assert "/opt/no-such-place/bin/kiosk" in result.stderr and "sometimes" in result.stderr


def test_the_units_are_sandboxed_and_run_as_the_service_user() -> None:
    for path in (MIGRATE, SERVER):
        service = unit_settings(path)["Service"]
        assert service["User"] == "mynumber" and service["Group"] == "mynumber", path.name
        assert service["StateDirectory"] == "mynumber-central" and service["StateDirectoryMode"] == "0700"
        assert service["ConfigurationDirectory"] == "mynumber-central"
        assert service["UMask"] == "0077"
        for key, value in {"ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
                           "ProtectHome": "yes", "PrivateDevices": "yes", "RestrictSUIDSGID": "yes",
                           "CapabilityBoundingSet": "", "AmbientCapabilities": "",
                           "SystemCallArchitectures": "native"}.items():
            assert service[key] == value, f"{path.name}: {key}={service.get(key)!r}"
        assert set(service["RestrictAddressFamilies"].split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}
    server = unit_settings(SERVER)
    assert server["Service"]["Restart"] == "on-failure"
    assert "mynumber-central-migrate.service" in server["Unit"]["Requires"].split()
    assert "mynumber-central-migrate.service" in server["Unit"]["After"].split()
    assert server["Install"]["WantedBy"] == "multi-user.target"
    migrate = unit_settings(MIGRATE)
    assert migrate["Service"]["Type"] == "oneshot"
    assert "Install" not in migrate  # not enabled on its own: the server pulls it in, an operator may start it


@pytest.mark.parametrize(("unit", "command"), [(MIGRATE, "migrate"), (SERVER, "serve")])
def test_execstart_is_a_kiosk_server_command_with_the_packaged_config(unit: Path, command: str) -> None:
    argv = shlex.split(unit_settings(unit)["Service"]["ExecStart"])
    assert argv[:3] == [INSTALLED_KIOSK, "server", command]
    parsed = build_parser().parse_args(argv[2:])  # what `kiosk server …` hands on: the server CLI accepts it
    assert parsed.command == command and parsed.config == CONFIG
    assert 'kiosk = "kiosk.app.cli.main:main"' in (REPO / "pyproject.toml").read_text(encoding="utf-8")


def test_the_sandbox_exposure_is_low(tmp_path: Path) -> None:
    """``systemd-analyze security`` scores the sandbox 0 (locked down) to 10 (exposed); "OK" is below 4."""
    for unit in _staged(tmp_path):
        result = subprocess.run([_analyze(), "security", "--offline=yes", str(unit)], capture_output=True,
                                text=True, timeout=60, check=False)
        found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout + result.stderr)
        assert found is not None, result.stdout + result.stderr
        assert float(found.group(1)) <= 2.5, f"{unit.name}: exposure {found.group(1)}"
