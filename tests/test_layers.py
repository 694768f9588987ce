"""The layer rules of architecture.md hold in the code, checked on the import statements themselves."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def python_files(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


def top(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("path", python_files("drivers"), ids=lambda p: str(p.relative_to(REPO)))
def test_drivers_import_no_ui_network_or_app(path: Path) -> None:
    forbidden = {"kivy", "requests", "kiosk", "server"} & {top(n) for n in imported_modules(path)}
    assert not forbidden, f"{path.relative_to(REPO)} imports {sorted(forbidden)}"


def test_only_drivers_pcsc_imports_smartcard() -> None:
    offenders = []
    for folder in ("drivers", "kiosk", "server"):
        for path in python_files(folder):
            inside = (REPO / "drivers" / "pcsc") in path.parents
            if "smartcard" in {top(n) for n in imported_modules(path)} and not inside:
                offenders.append(str(path.relative_to(REPO)))
    assert offenders == []


def test_flows_never_import_kivy() -> None:
    offenders = [
        str(path.relative_to(REPO))
        for path in python_files("kiosk/core")
        if "kivy" in {top(n) for n in imported_modules(path)}
    ]
    assert offenders == []


def test_the_rule_checker_sees_violations(tmp_path: Path) -> None:
    """The checker itself must catch an import, including one nested in a function."""
    sample = tmp_path / "bad.py"
    sample.write_text("def f():\n    import smartcard.System\n    from kivy.app import App\n")
    assert {"smartcard.System", "kivy.app"} <= imported_modules(sample)
