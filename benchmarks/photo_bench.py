"""Camera photo checks benchmark: time per 1080p frame of the live guidance, the QR decoder and the final
check, and the preview frame rate while the checks run (target: at least 15 frames/s).

    .venv/bin/python -m benchmarks.photo_bench [--runs N] [--seconds S]

Pictures are the synthetic residents of tests/support/faces.py (no real person). The preview rate is
measured through the real capture path: ``OpenCVCamera`` plays a synthetic 1080p MJPG video (written to a
temp folder and removed) through ``cv2.VideoCapture`` at 30 frames/s while guidance (and, separately, QR
reading) runs at the camera's bounded rate, and at every frame (no bound) to show the headroom. Prints a
Markdown table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from kiosk.core.events import Event, PhotoGuidance
from kiosk.services.camera import GUIDANCE_HZ, OpenCVCamera, decode_qr, final_check, live_guidance
from tests.support.faces import FRAME_VARIANTS


def per_call(function: Callable[[], object], runs: int) -> dict[str, float]:
    function()  # warm-up: cascades load, buffers allocate
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    times.sort()
    return {"median_ms": statistics.median(times) * 1000, "p95_ms": times[int(0.95 * (len(times) - 1))] * 1000}


def write_video(path: Path, picture: np.ndarray, frames: int = 60, fps: float = 30.0) -> Path:
    height, width = picture.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    bgr = cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)
    for _ in range(frames):
        writer.write(bgr)
    writer.release()
    return path


def preview_rate(video: Path, seconds: float, *, guidance: bool, qr: bool, hz: float) -> dict[str, float]:
    """Frames per second the preview gets (new ``latest()`` frames) and checks per second, while running."""
    checks: list[float] = []

    def post(event: Event) -> None:
        if isinstance(event, PhotoGuidance):
            checks.append(time.monotonic())

    camera = OpenCVCamera(post, device=str(video), fps=30.0, guidance_hz=hz)
    camera.start(guidance=guidance, qr=qr)
    try:
        if camera.wait_for_frame(10.0) is None:
            raise SystemExit(f"no frame from the video: {camera.error.message if camera.error else 'unknown'}")
        time.sleep(0.5)  # settle
        start = camera.latest()
        started = time.monotonic()
        seen = 0
        last = start.seq if start else 0
        while time.monotonic() - started < seconds:  # poll like the UI does, a little faster than it
            frame = camera.latest()
            if frame is not None and frame.seq != last:
                seen += frame.seq - last
                last = frame.seq
            time.sleep(1 / 60)
        elapsed = time.monotonic() - started
    finally:
        camera.stop()
    done = [t for t in checks if t >= started]
    return {"preview_fps": seen / elapsed, "checks_per_s": len(done) / elapsed if guidance else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    good = FRAME_VARIANTS["good"][0]()
    grey = cv2.cvtColor(good, cv2.COLOR_RGB2GRAY)
    results: dict[str, Any] = {
        "cpu": os.cpu_count(),
        "opencv": cv2.__version__,
        "opencv_threads": cv2.getNumThreads(),
        "live_guidance_1080p": per_call(lambda: live_guidance(good), args.runs),
        "live_guidance_no_face_1080p": per_call(lambda: live_guidance(FRAME_VARIANTS["no_face"][0]()), 5),
        "qr_decode_1080p": per_call(lambda: decode_qr(grey), args.runs),
        "final_check_1080p": per_call(lambda: final_check(good), max(5, args.runs // 3)),
    }
    with tempfile.TemporaryDirectory(prefix="photo-bench-") as folder:
        video = write_video(Path(folder) / "good.avi", good)
        results["preview_idle"] = preview_rate(video, args.seconds, guidance=False, qr=False, hz=GUIDANCE_HZ)
        results["preview_guidance"] = preview_rate(video, args.seconds, guidance=True, qr=False, hz=GUIDANCE_HZ)
        results["preview_qr"] = preview_rate(video, args.seconds, guidance=False, qr=True, hz=GUIDANCE_HZ)
        results["preview_guidance_unbounded"] = preview_rate(video, args.seconds, guidance=True, qr=False, hz=1000)

    def ms(key: str) -> str:
        value = results[key]
        return f"{value['median_ms']:.1f} ms (p95 {value['p95_ms']:.1f})"

    def rate(key: str) -> str:
        value = results[key]
        checks = f", {value['checks_per_s']:.1f} checks/s" if value["checks_per_s"] else ""
        return f"{value['preview_fps']:.1f} frames/s{checks}"

    print(f"| measure ({results['cpu']} cores, OpenCV {results['opencv']}) | result |")
    print("|---|---:|")
    print(f"| live guidance, one 1080p frame (face found) | {ms('live_guidance_1080p')} |")
    print(f"| live guidance, one 1080p frame (no face: all three detector passes) | "
          f"{ms('live_guidance_no_face_1080p')} |")
    print(f"| QR decode, one 1080p frame (no code) | {ms('qr_decode_1080p')} |")
    print(f"| final check: crop, JPEG, every rule on the JPEG | {ms('final_check_1080p')} |")
    print(f"| preview, camera only (30 frames/s source) | {rate('preview_idle')} |")
    print(f"| preview while guidance runs ({GUIDANCE_HZ:.0f}/s) | {rate('preview_guidance')} |")
    print(f"| preview while QR reading runs ({GUIDANCE_HZ:.0f}/s) | {rate('preview_qr')} |")
    print(f"| preview while guidance runs on every frame | {rate('preview_guidance_unbounded')} |")
    print(json.dumps(results, sort_keys=True))


if __name__ == "__main__":
    main()
