"""Every benchmark runs in CI in a short form, so none can rot (a benchmark that silently measured refusals
once went unnoticed: issue 9). These assert that each one finishes, reports every row it promises and
exits 0 — never a timing: timings belong in the README's table, measured by the full runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO


def run_benchmark(*args: str, timeout: float = 600) -> str:
    env = {**os.environ, "KIVY_NO_ARGS": "1"}
    result = subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, timeout=timeout,
                            check=False, env=env)
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-3000:]
    return result.stdout.decode()


def table_rows(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("| ") and not line.startswith("|---")]


@pytest.mark.slow
def test_card_bench_reports_every_driver_operation() -> None:
    out = run_benchmark("benchmarks.card_bench", "--iterations", "1", "--no-pcsc")
    for operation in ("read auth certificate", "read sign certificate", "read card info", "full verify",
                      "status of all PINs"):
        assert any(row.startswith(f"| {operation}") for row in table_rows(out)), out


@pytest.mark.pcsc
@pytest.mark.opensc
@pytest.mark.slow
def test_side_by_side_with_opensc_through_pcscd_reports_both_tools_and_a_verified_verdict(vpcd_readers) -> None:
    out = run_benchmark("benchmarks.card_side_by_side", "--quick")
    rows = table_rows(out)
    for operation in ("certificates (auth, auth CA, sign CA)", "auth certificate (read, DER out)", "PIN counters",
                      "sign a SHA-256 hash"):
        for tool in ("kiosk", "OpenSC"):
            assert any(row.startswith(f"| {operation}") and f" | {tool} | " in row and row.endswith("| yes |")
                       for row in rows), out
    assert "| verdict verified | yes |" in out


@pytest.mark.slow
def test_pickup_bench_reports_both_card_steps_and_the_audit_chain() -> None:
    out = run_benchmark("benchmarks.pickup_bench", "--iterations", "1", "--audit-entries", "20")
    rows = table_rows(out)
    for step in ("| first look", "| set 4 PINs"):
        assert any(row.startswith(step) and row.endswith("| verified |") for row in rows), out
    assert "audit chain verified" in out


@pytest.mark.slow
@pytest.mark.server
def test_outbox_drain_delivers_every_queued_item() -> None:
    out = run_benchmark("benchmarks.outbox_drain", "--items", "5")
    assert len(table_rows(out)) >= 3, out


@pytest.mark.slow
def test_photo_bench_reports_guidance_qr_and_preview_rates() -> None:
    out = run_benchmark("benchmarks.photo_bench", "--runs", "2", "--seconds", "0.5")
    for measure in ("live guidance", "QR decode", "final check", "preview while guidance runs"):
        assert measure in out, out


@pytest.mark.slow
@pytest.mark.ui
def test_ui_bench_reports_start_up_and_frame_gaps() -> None:
    out = run_benchmark("benchmarks.ui_bench", "--runs", "1")
    assert "cold start" in out and "frame gap" in out, out


@pytest.mark.slow
@pytest.mark.server
def test_server_bench_quick_run_has_no_failed_request() -> None:
    out = run_benchmark("benchmarks.server_bench", "--quick")
    assert table_rows(out), out


def test_the_verdict_floor_prices_exactly_the_bytes_the_verdict_needs() -> None:
    """The floor counts each EF the verdict reads at its content's length: priced at 1 s per byte (and
    nothing for anything else), it equals what the driver reads from those EFs, plus the card face's offset
    header and its expiry field (DF 29 08 YYYYMMDD)."""
    from benchmarks.card_side_by_side import ADULT, floor_seconds
    from drivers.mynumber.card import MyNumberCard
    from drivers.sim.card import SimulatedCard
    from drivers.sim.faults import DelayModel
    from drivers.sim.profile import load_card_image, load_profile
    from drivers.sim.transport import SimTransport

    image = load_card_image(ADULT)
    card = MyNumberCard(SimTransport(SimulatedCard(image)))
    raw = card.card_info.read(load_profile(ADULT).pins.card_info)
    efs = [card.jpki.read_auth_certificate(), raw.my_number_ef, raw.basic4_ef, raw.integrity_ef, raw.cv_certificate]
    card_face = 5 + 3 + 2 * 9 + 3 + len(card.surface.read_card_expiry(pin_a=raw_my_number(raw)).strftime("%Y%m%d"))
    assert floor_seconds(image, DelayModel(read_per_256=256.0)) == sum(len(ef or b"") for ef in efs) + card_face


def raw_my_number(raw) -> str:
    from drivers.mynumber.basic4 import parse_my_number_ef

    return parse_my_number_ef(raw.my_number_ef)
