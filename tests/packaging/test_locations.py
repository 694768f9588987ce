"""Where the kiosk finds its shipped files and puts its state (fast; the installed wheel itself is tested in
test_installed_wheel.py): one rule set in kiosk.config, the same in a checkout and an installed copy."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from drivers.sim.profile import BUNDLED_PROFILES, bundled_profiles
from kiosk.config import (
    DEFAULT_CONFIG,
    DEFAULTS_DIR,
    PRODUCTION_CONFIG,
    REPO_ROOT,
    STATE_ENV,
    ConfigError,
    KioskConfig,
    load_config,
    run_config_path,
    running_from_checkout,
    state_dir,
)
from tests.conftest import REPO


def test_a_checkout_reads_the_documented_config_folder() -> None:
    assert running_from_checkout() and REPO_ROOT == REPO
    assert DEFAULTS_DIR == REPO / "config"
    assert DEFAULT_CONFIG == REPO / "config" / "demo.toml" and PRODUCTION_CONFIG == REPO / "config" / "kiosk.toml"
    assert BUNDLED_PROFILES == REPO / "config" / "cards"


def test_the_package_data_is_the_config_folder() -> None:
    """kiosk.defaults is what the wheel ships: every file of config/ must be reachable through it."""
    package = resources.files("kiosk.defaults")
    shipped = sorted(p.relative_to(REPO / "config") for p in (REPO / "config").rglob("*.toml"))
    assert shipped, "config/ has no .toml files"
    for relative in shipped:
        entry = package.joinpath(*relative.parts)
        assert entry.is_file(), f"kiosk/defaults/{relative} is missing: link it to config/{relative}"
        assert entry.read_bytes() == (REPO / "config" / relative).read_bytes()
    assert [p.name for p in bundled_profiles()] == sorted(p.name for p in (REPO / "config" / "cards").glob("*.toml"))


def test_state_folder_rules(tmp_path: Path) -> None:
    assert state_dir({}) == REPO / "var"  # a checkout keeps its git-ignored var/
    assert state_dir({STATE_ENV: str(tmp_path / "s")}) == tmp_path / "s"
    assert state_dir({STATE_ENV: "  ", "HOME": str(tmp_path)}) == REPO / "var"


def test_installed_state_folder_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("kiosk.config.running_from_checkout", lambda: False)
    home = tmp_path / "home"
    default = home / ".local" / "state" / "mynumber-kiosk"
    assert state_dir({"HOME": str(home)}) == default
    assert state_dir({"HOME": str(home), "XDG_STATE_HOME": str(tmp_path / "x")}) == tmp_path / "x" / "mynumber-kiosk"
    # the XDG spec: a relative XDG_STATE_HOME is invalid and ignored
    assert state_dir({"HOME": str(home), "XDG_STATE_HOME": "rel"}) == default
    assert state_dir({"HOME": str(home), STATE_ENV: str(tmp_path / "k")}) == tmp_path / "k"


def test_state_paths_resolve_in_the_state_folder_and_inputs_next_to_the_file(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(STATE_ENV, str(tmp_path / "state"))
    demo = load_config()
    assert demo.resolve(demo.outbox.path) == tmp_path / "state" / "outbox.sqlite3"
    assert demo.resolve(demo.outbox.key_file) == tmp_path / "state" / "outbox.key"
    assert demo.resolve(demo.simulator.profile) == REPO / "config" / "cards" / "adult.toml"
    assert demo.resolve("{state}") == tmp_path / "state"
    # a config without [outbox] keeps its outbox in the state folder too, not next to the file
    bare = KioskConfig()
    assert bare.resolve(bare.outbox.path) == tmp_path / "state" / "outbox.sqlite3"
    own = tmp_path / "etc" / "kiosk.toml"
    own.parent.mkdir()
    own.write_text('[outbox]\npath = "q/outbox.sqlite3"\n', encoding="utf-8")
    mine = load_config(own)
    assert mine.resolve(mine.outbox.path) == own.parent / "q" / "outbox.sqlite3"


@pytest.mark.parametrize("value", ["var/{state}/outbox.sqlite3", "{state}outbox.sqlite3", "/{state}/x"])
def test_state_only_begins_a_path(tmp_path: Path, value: str) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[outbox]\npath = "{value}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"outbox\.path .* \{state\} may only begin a path"):
        load_config(path)


def test_systemd_state_directory_decides_for_a_service(tmp_path: Path) -> None:
    """The unit's StateDirectory= (/var/lib/mynumber-kiosk) wins over the checkout and XDG; KIOSK_STATE_DIR
    still overrides it, and a relative value (invalid) is ignored."""
    assert state_dir({"STATE_DIRECTORY": "/var/lib/mynumber-kiosk"}) == Path("/var/lib/mynumber-kiosk")
    assert state_dir({"STATE_DIRECTORY": "/var/lib/a:/var/lib/b"}) == Path("/var/lib/a")
    assert state_dir({"STATE_DIRECTORY": "/var/lib/a", STATE_ENV: str(tmp_path)}) == tmp_path
    assert state_dir({"STATE_DIRECTORY": "relative"}) == REPO / "var"


def test_kiosk_run_reads_etc_under_systemd_and_the_shipped_example_otherwise(tmp_path: Path) -> None:
    assert run_config_path({"KIOSK_CONFIG": str(tmp_path / "mine.toml")}) == tmp_path / "mine.toml"
    assert run_config_path({"CONFIGURATION_DIRECTORY": "/etc/mynumber-kiosk"}) == Path(
        "/etc/mynumber-kiosk/kiosk.toml")
    assert run_config_path({"KIOSK_CONFIG": str(tmp_path / "k.toml"), "CONFIGURATION_DIRECTORY": "/etc/x"}
                           ) == tmp_path / "k.toml"
    expected = Path("/etc/mynumber-kiosk/kiosk.toml")
    assert run_config_path({}) == (expected if expected.is_file() else PRODUCTION_CONFIG)
