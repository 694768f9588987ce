"""The compose deployment (deploy/compose): there is no container runtime on the test machine, so what can be
checked without one is — the YAML parses, every service has a health check (one-shots say they have none and
are waited for by completion), the server waits for a successful migration and a healthy database, every
command the files run exists in this project and accepts its arguments, the server's config is valid, no
password is in the repository, and the first-start secret generator works."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from server.cli import build_parser as server_cli
from server.probe import build_parser as probe_cli
from server.settings import Settings
from tests.conftest import REPO

COMPOSE = REPO / "deploy" / "compose"
ONE_SHOTS = {"secrets", "migrate"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((COMPOSE / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _check_command(argv: list[str]) -> None:
    """``kiosk server …`` or ``python -m server.probe …``: this project's commands, with arguments they take."""
    if argv[:2] == ["kiosk", "server"]:
        server_cli().parse_args(argv[2:])
    elif argv[:3] == ["python", "-m", "server.probe"]:
        probe_cli().parse_args(argv[3:])
    elif argv == ["mynumber-central-init-secrets"]:
        assert "deploy/compose/init-secrets.sh /usr/local/bin/mynumber-central-init-secrets" in _containerfile()
    else:
        raise AssertionError(f"not a command of this project: {argv}")


def test_every_service_has_a_health_check_and_one_shots_are_waited_for(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"secrets", "db", "migrate", "server"}
    waited: dict[str, set[str]] = {}
    for service in services.values():
        for dependency, condition in service.get("depends_on", {}).items():
            waited.setdefault(dependency, set()).add(condition["condition"])
    for name, service in services.items():
        check = service["healthcheck"]
        if name in ONE_SHOTS:
            assert check == {"disable": True} and service["restart"] == "no", name
            assert waited[name] == {"service_completed_successfully"}, name
        else:
            assert check["test"][0] == "CMD" and service["restart"] == "unless-stopped", name
            assert "service_healthy" in waited.get(name, {"service_healthy"}), name


def test_the_server_starts_after_a_successful_migration_on_a_healthy_database(compose: dict[str, Any]) -> None:
    server, migrate = compose["services"]["server"], compose["services"]["migrate"]
    assert server["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert server["depends_on"]["db"] == {"condition": "service_healthy"}
    assert migrate["depends_on"]["db"] == {"condition": "service_healthy"}
    assert compose["services"]["db"]["depends_on"]["secrets"] == {"condition": "service_completed_successfully"}
    assert server["healthcheck"]["test"][1:5] == ["python", "-m", "server.probe", "readyz"]
    assert migrate["command"][:3] == ["kiosk", "server", "migrate"]


def test_every_command_exists_in_the_project(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if "command" in service:
            _check_command(service["command"])
        test = service["healthcheck"].get("test")
        if test and name != "db":
            _check_command(test[1:])
    assert compose["services"]["db"]["healthcheck"]["test"][1] == "pg_isready"  # the postgres image's own
    assert 'kiosk = "kiosk.app.cli.main:main"' in (REPO / "pyproject.toml").read_text(encoding="utf-8")


def _containerfile() -> str:
    return (COMPOSE / "Containerfile").read_text(encoding="utf-8")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", _containerfile())
    found = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def test_the_containerfile_copies_what_exists_and_runs_kiosk_server_serve(compose: dict[str, Any]) -> None:
    instructions = _instructions()
    for word, rest in instructions:
        if word == "COPY" and not rest.startswith("--from"):
            *sources, _target = shlex.split(rest)
            for source in sources:
                assert (REPO / source).exists(), f"COPY {source}: not in the repository"
        if word == "FROM":
            image = rest.split()[0]
            assert ":" in image and not image.endswith(":latest"), f"unpinned base image {image}"
    command = json.loads(next(rest for word, rest in instructions if word == "CMD"))
    assert command[:3] == ["kiosk", "server", "serve"]
    _check_command(command)
    assert command == compose["services"]["server"]["command"]
    check = next(rest for word, rest in instructions if word == "HEALTHCHECK")
    probe = json.loads(check[check.index("CMD") + 3:])
    assert probe[:4] == ["python", "-m", "server.probe", "healthz"]  # the image: alive; compose: ready
    _check_command(probe)
    assert ("USER", "mynumber") in instructions
    client = re.search(r"postgresql-client-(\d+)", _containerfile())
    database = re.search(r"postgres:(\d+)", compose["services"]["db"]["image"])
    assert client and database and client.group(1) == database.group(1)  # pg_dump of the server's major version


def test_the_mounted_config_is_a_valid_server_config(compose: dict[str, Any]) -> None:
    settings = Settings.from_toml(COMPOSE / "server.toml")
    assert settings.migrate_on_start is False  # the migrate service did it
    assert settings.client_cert_mode == "optional" and settings.log_format == "json"
    assert "@" in settings.database_url and ":" not in settings.database_url.split("//", 1)[1].split("@", 1)[0]
    server = compose["services"]["server"]
    secret_names = set(server["secrets"])
    for path in (settings.tls_certfile, settings.tls_keyfile, settings.kiosk_ca_file):
        assert path is not None and path.parent == Path("/run/secrets") and path.name in secret_names
    state = next(v.split(":")[1] for v in server["volumes"] if v.startswith("state:"))
    assert settings.secret_file.is_relative_to(state) and settings.photo_folder.is_relative_to(state)
    config_mount = next(v for v in server["volumes"] if v.startswith("./server.toml:"))
    assert config_mount.split(":")[1] == "/etc/mynumber-central/server.toml"
    assert server["environment"]["PGPASSFILE"].startswith(
        next(v.split(":")[1] for v in server["volumes"] if v.startswith("server-secret:")))


def test_no_password_is_in_the_repository(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in service.get("environment", {}).items():
            if "PASSWORD" in key.upper():
                assert key.endswith("_FILE"), f"{name}: {key} holds a password itself"
                assert str(value).startswith("/run/")
    for name, secret in compose["secrets"].items():
        assert set(secret) == {"file"} and secret["file"].startswith("./pki/"), name
    tracked = subprocess.run(["git", "ls-files", "deploy/compose"], cwd=REPO, capture_output=True, text=True,
                             check=False).stdout.split()
    assert not any(path.startswith("deploy/compose/pki") for path in tracked)
    for path in COMPOSE.iterdir():
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"(?i)password\s*[:=]\s*['\"]?[A-Za-z0-9_\-]{8,}", text), path.name


def test_the_first_start_makes_a_password_once_and_hands_it_out(tmp_path: Path) -> None:
    script = COMPOSE / "init-secrets.sh"
    assert stat.S_IMODE(script.stat().st_mode) & 0o111
    root = os.geteuid() == 0
    db_uid, server_uid = (999, 10001) if root else (os.geteuid(), os.geteuid())
    env = {**os.environ, "DB_SECRET_DIR": str(tmp_path / "db"), "SERVER_SECRET_DIR": str(tmp_path / "server"),
           "DB_UID": str(db_uid), "SERVER_UID": str(server_uid), "PYTHON": shutil.which("python3") or "python3"}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["/bin/sh", str(script)], env=env, capture_output=True, text=True, timeout=30,
                              check=False)

    first = run()
    assert first.returncode == 0, first.stderr
    password_file, pgpass = tmp_path / "db" / "password", tmp_path / "server" / "pgpass"
    password = password_file.read_text().strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{40,}", password)
    assert password not in first.stdout + first.stderr
    assert pgpass.read_text() == f"db:5432:kiosk:kiosk:{password}\n"
    for path, uid in ((password_file, db_uid), (pgpass, server_uid)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.stat().st_uid == uid
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700 and path.parent.stat().st_uid == uid
    second = run()
    assert second.returncode == 0, second.stderr
    assert password_file.read_text().strip() == password  # PostgreSQL keeps the first one: so does the script
    assert "made a new database password" in first.stdout and "made a new" not in second.stdout
