"""Keys and databases readable by others stop ``kiosk run`` at start, with the commands that fix it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from contract.file_modes import private_file_problem
from kiosk.app.maintenance import DoctorMaintenance
from kiosk.app.private_files import file_mode_problems, secret_files
from kiosk.config import AuditSection, KioskConfig, OutboxSection, ServerSection

KIOSK = Path(sys.executable).with_name("kiosk")


def config_for(tmp_path: Path) -> KioskConfig:
    return KioskConfig(
        server=ServerSection(client_key=str(tmp_path / "kiosk.key")),
        outbox=OutboxSection(path=str(tmp_path / "outbox.sqlite3"), key_file=str(tmp_path / "outbox.key")),
        audit=AuditSection(path=str(tmp_path / "audit.sqlite3")),
    )


def write(path: Path, mode: int) -> Path:
    path.write_bytes(b"secret")
    path.chmod(mode)
    return path


def test_the_secret_files_are_the_key_the_databases_with_their_side_files_and_the_outbox_key(tmp_path: Path) -> None:
    names = {p.name for p in secret_files(config_for(tmp_path))}
    assert names == {"kiosk.key", "outbox.sqlite3", "outbox.sqlite3-wal", "outbox.sqlite3-shm",
                     "outbox.sqlite3-journal", "audit.sqlite3", "audit.sqlite3-wal", "audit.sqlite3-shm",
                     "audit.sqlite3-journal", "outbox.key"}


def test_missing_and_private_files_are_fine(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    assert file_mode_problems(config) == []  # nothing exists yet: created private on first use
    write(tmp_path / "outbox.sqlite3", 0o600)
    write(tmp_path / "kiosk.key", 0o400)
    assert file_mode_problems(config) == []


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_file_others_can_read_is_named_with_its_fix(tmp_path: Path, mode: int) -> None:
    write(tmp_path / "outbox.sqlite3", 0o600)
    leaky = write(tmp_path / "audit.sqlite3-wal", mode)
    [problem] = file_mode_problems(config_for(tmp_path))
    assert problem.path == str(leaky)
    assert f"mode {mode:04o}" in problem.problem and problem.fix == f"chmod 600 {leaky}"


def test_a_file_of_another_user_is_named_with_chown() -> None:
    problem = private_file_problem("/var/lib/k/outbox.key", 0o100600, 0, uid=1234, user="mynumber-kiosk")
    assert problem is not None and "owned by uid 0" in problem.problem
    assert problem.fix == "chown mynumber-kiosk /var/lib/k/outbox.key"
    both = private_file_problem("/k", 0o100644, 0, uid=1234, user="kiosk")
    assert both is not None and both.fix == "chown kiosk /k && chmod 600 /k"


def test_a_link_in_place_of_a_key_is_refused(tmp_path: Path) -> None:
    target = write(tmp_path / "elsewhere", 0o600)
    (tmp_path / "kiosk.key").symlink_to(target)
    [problem] = file_mode_problems(config_for(tmp_path))
    assert problem.path.endswith("kiosk.key") and "not a regular file" in problem.problem


def test_the_maintenance_checks_show_the_file_modes(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    lines = [line for line in DoctorMaintenance(config).run("checks") if line.check == "file modes"]
    assert [line.status for line in lines] == ["ok"]
    write(tmp_path / "outbox.key", 0o644)
    [line] = [line for line in DoctorMaintenance(config).run("checks") if line.check == "file modes"]
    assert line.status == "fail" and "outbox.key" in line.detail and line.fix.startswith("chmod 600")


def _run_kiosk(config: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, SDL_VIDEODRIVER="offscreen", KIVY_GL_BACKEND="mock", KIOSK_STATE_DIR=str(tmp_path / "st"))
    env.pop("KIOSK_CONFIG", None)
    return subprocess.run([str(KIOSK), "run", "--config", str(config)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_kiosk_run_refuses_to_start_with_a_readable_outbox(tmp_path: Path) -> None:
    outbox = write(tmp_path / "outbox.sqlite3", 0o644)
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[outbox]\npath = "{outbox}"\nkey_file = "{tmp_path}/outbox.key"\n'
                      f'[audit]\npath = "{tmp_path}/audit.sqlite3"\n', encoding="utf-8")
    result = _run_kiosk(config, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "refusing to start" in result.stderr and f"chmod 600 {outbox}" in result.stderr
    assert "Traceback" not in result.stderr
    assert outbox.read_bytes() == b"secret"  # not opened, not changed


def test_kiosk_run_without_its_trust_folder_says_so_without_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[verification]\ntrust_store = "{tmp_path}/no-such-folder"\n'
                      f'[outbox]\npath = "{tmp_path}/outbox.sqlite3"\nkey_file = "{tmp_path}/outbox.key"\n'
                      f'[audit]\npath = "{tmp_path}/audit.sqlite3"\n', encoding="utf-8")
    result = _run_kiosk(config, tmp_path)
    assert result.returncode == 2, result.stderr
    assert "no-such-folder" in result.stderr and "Traceback" not in result.stderr
