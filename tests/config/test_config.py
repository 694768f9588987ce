"""The kiosk configuration as a city's IT staff meets it: every mistake is a ConfigError that names the
file and the key (no daemon needed; the doctor and ``kiosk run`` show the same message)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import DEFAULT_CONFIG, ConfigError, load_config
from tests.conftest import REPO

KIOSK = Path(sys.executable).with_name("kiosk")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "names", "says"),
    [
        ("[timeout]\nidle_seconds = 30\n", ["'timeout'"], "did you mean 'timeouts'"),
        ("[displays]\nx = 1\n", ["'displays'"], "valid: kiosk, card"),
        ("timeouts = 30\n", ["[timeouts]"], "must be a table"),
        ("[timeouts]\nidle_second = 30\n", ["'timeouts.idle_second'"], "did you mean 'timeouts.idle_seconds'"),
        ('[kiosk]\nmode = "unattendet"\n', ["kiosk.mode"], "use one of 'unattended', 'attended'"),
        ('[card]\nextended_apdus = "maybe"\n', ["card.extended_apdus"], "use one of 'auto', 'yes', 'no'"),
        ("[simulator]\nreader_index = 2\n", ["simulator.reader_index"], "use one of 0, 1"),
        ('[simulator]\ndelay = "slow"\n', ["simulator.delay"], "use one of 'off', 'real-card'"),
        ("[timeouts]\nidle_seconds = 0\n", ["timeouts.idle_seconds"], "greater than zero"),
        ("[timeouts]\npin_entry_seconds = -5\n", ["timeouts.pin_entry_seconds"], "greater than zero"),
        ("[timeouts]\nhttp_read_seconds = -0.5\n", ["timeouts.http_read_seconds"], "greater than zero"),
        ("[timeouts]\nidle_seconds = nan\n", ["timeouts.idle_seconds"], "finite"),
        ("[timeouts]\nhttp_connect_seconds = inf\n", ["timeouts.http_connect_seconds"], "finite"),
        ("[timeouts]\nidle_seconds = true\n", ["timeouts.idle_seconds"], "must be a number, got True"),
        ("[verification]\nrenewal_months = true\n", ["verification.renewal_months"], "whole number"),
        ("[verification]\nrenewal_months = -1\n", ["verification.renewal_months"], "between 0 and 12"),
        ('[simulator]\nenabled = "yes"\n', ["simulator.enabled"], "true or false"),
        ("[card]\nreaders = \"ACS\"\n", ["card.readers"], "list of str"),
        ("[card]\nreaders = [1, 2]\n", ["card.readers"], "list of str"),
        ("[outbox]\nbackoff_base_seconds = 60\nbackoff_max_seconds = 10\n", ["outbox.backoff_max_seconds"],
         "at least"),
        ('[camera]\nkind = "webcam"\n', ["camera.kind"], "use one of 'none', 'opencv', 'files'"),
        ('[printer]\nkind = "cups"\n', ["printer.destination"], "CUPS queue name"),
        ('[printer]\nkind = "escpos"\n', ["printer.device"], "/dev/usb/lp0"),
        ("[printer]\npaper_mm = 72\n", ["printer.paper_mm"], "use one of 58, 80"),
        ('[verification]\nrequired_checks = ["auth_chian"]\n', ["verification.required_checks"],
         "did you mean 'auth_chain'"),
        ("[timeouts\nidle_seconds = 1\n", [], "not valid TOML"),
    ],
)
def test_every_mistake_is_a_config_error_naming_file_and_key(tmp_path: Path, text: str, names: list[str],
                                                              says: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    message = str(refused.value)
    assert message.startswith(f"{path}:"), message
    for name in names:
        assert name in message
    assert says in message


def test_a_missing_file_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "kiosk.toml"
    with pytest.raises(ConfigError, match="configuration file not found") as refused:
        load_config(missing)
    assert str(missing) in str(refused.value)


def test_the_shipped_files_load_and_keep_their_defaults() -> None:
    demo = load_config(DEFAULT_CONFIG)
    production = load_config(REPO / "config" / "kiosk.toml")
    assert demo.simulator.enabled and not production.simulator.enabled
    assert production.kiosk.mode == "unattended" and production.timeouts.idle_seconds > 0


def test_whole_numbers_are_accepted_where_seconds_are_asked(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[timeouts]\nidle_seconds = 45\nidle_warning_seconds = 10\n"))
    assert config.timeouts.idle_seconds == 45.0 and config.timeouts.idle_warning_seconds == 10.0


def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(KIOSK), *args], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ}, stdin=subprocess.DEVNULL)


def test_the_readme_message_for_a_wrong_key_reaches_the_operator(tmp_path: Path) -> None:
    """The README promises this exact sentence; ``kiosk run`` refuses to start with it, the doctor shows
    it with a fix. Neither needs a reader or pcscd to say so."""
    path = write(tmp_path, "[timeouts]\nidle_second = 30\n")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    promised = "unknown key 'timeouts.idle_second' — did you mean 'timeouts.idle_seconds'?"
    assert promised in readme
    run = kiosk("run", "--config", str(path))
    assert run.returncode == 2 and promised in run.stderr + run.stdout
    assert "Traceback" not in run.stderr
    doctor = kiosk("doctor", "--config", str(path), "--no-probe")
    assert doctor.returncode == 1 and promised in doctor.stdout and "fix:" in doctor.stdout
