"""``kiosk doctor`` on the camera and the receipt printer: what the operator is told, with the fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kiosk.app.doctor import FAIL, OK, WARN, check_camera, check_printer
from kiosk.config import CameraSection, KioskConfig, PrinterSection


def test_no_camera_is_a_warning_that_says_what_residents_cannot_do() -> None:
    finding = check_camera(KioskConfig(camera=CameraSection(kind="none")))
    assert finding is not None and finding.status == WARN and "cannot apply" in finding.detail
    assert finding.fix is not None and "kind" in finding.fix


def test_the_demo_camera_names_what_it_plays_and_a_missing_picture_fails(tmp_path: Path) -> None:
    assert (finding := check_camera(KioskConfig(camera=CameraSection(kind="files")))) is not None
    assert finding.status == OK and "synthetic demo residents" in finding.detail
    missing = str(tmp_path / "gone.png")
    finding = check_camera(KioskConfig(camera=CameraSection(kind="files", files=(missing,))))
    assert finding is not None and finding.status == FAIL and missing in finding.detail


def test_a_camera_that_is_not_plugged_in_fails_with_the_device_named(tmp_path: Path) -> None:
    device = f"/dev/{tmp_path.name}-video9"  # no such device node
    finding = check_camera(KioskConfig(camera=CameraSection(kind="opencv", device=device)))
    assert finding is not None and finding.status == FAIL and device in finding.detail
    assert finding.fix is not None and "camera.device" in finding.fix


def test_without_probing_the_camera_is_not_opened() -> None:
    finding = check_camera(KioskConfig(camera=CameraSection(kind="opencv", device="/dev/nothing-here")), probe=False)
    assert finding is not None and finding.status == OK and "not opened" in finding.detail


def test_printer_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert (none := check_printer(KioskConfig())) is not None and none.status == OK and "on screen" in none.detail
    pdf = check_printer(KioskConfig(printer=PrinterSection(kind="pdf", pdf_dir=str(tmp_path / "receipts"))))
    assert pdf is not None and pdf.status == OK and str(tmp_path / "receipts") in pdf.detail
    monkeypatch.setenv("PATH", str(tmp_path))  # no lp anywhere
    cups = check_printer(KioskConfig(printer=PrinterSection(kind="cups", destination="receipts-1f")))
    assert cups is not None and cups.status == FAIL and cups.fix == "apt-get install cups-client"
    device = tmp_path / "lp0"
    absent = check_printer(KioskConfig(printer=PrinterSection(kind="escpos", device=str(device))))
    assert absent is not None and absent.status == FAIL and str(device) in absent.detail
    device.write_bytes(b"")
    device.chmod(0o400)
    if os.geteuid() != 0:  # root writes anything: the permission finding is for the kiosk's own user
        readonly = check_printer(KioskConfig(printer=PrinterSection(kind="escpos", device=str(device))))
        assert readonly is not None and readonly.status == FAIL and "not writable" in readonly.detail
    device.chmod(0o600)
    ready = check_printer(KioskConfig(printer=PrinterSection(kind="escpos", device=str(device), paper_mm=58)))
    assert ready is not None and ready.status == OK and "58 mm" in ready.detail
