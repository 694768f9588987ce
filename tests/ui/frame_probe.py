"""Run one card check on the real app and print frame timing as JSON (a child process of the UI tests).

    KIVY_GL_BACKEND=mock SDL_VIDEODRIVER=offscreen python -m tests.ui.frame_probe --delay real-card

Not a test module (no ``test_`` prefix): pytest must not collect it; it needs a fresh process because
the GL backend is chosen once per process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("SDL_VIDEODRIVER", "offscreen")
os.environ.setdefault("KIVY_HOME", tempfile.mkdtemp(prefix="kiosk-kivy-probe-"))
for _name in ("KIVY_NO_ARGS", "KIVY_NO_CONSOLELOG", "KIVY_NO_FILELOG", "KIVY_USE_DEFAULTCONFIG"):
    os.environ.setdefault(_name, "1")


def main() -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--delay", default="real-card", choices=["off", "real-card", "slow-card"])
    args = parser.parse_args()
    started = time.perf_counter()
    from kiosk.ui.tour import PORTRAIT, prepare_offscreen

    prepare_offscreen(PORTRAIT)
    from kiosk.app.wiring import build_runtime
    from kiosk.config import load_config
    from kiosk.ui.frames import FrameScript
    from tests.ui.card_check_script import FrameLog, GoodRevocation, card_check

    runtime = build_runtime(load_config(), demo=True, delay=args.delay, speaker=None, staff_hash="",
                            revocation=GoodRevocation())
    log = FrameLog()
    first_frame: list[float] = []

    def script():
        first_frame.append(time.perf_counter() - started)
        yield from card_check(runtime, log)

    runtime.start()
    try:
        FrameScript(runtime.app, script).run()
    finally:
        runtime.stop()
    view = runtime.app.view
    marks = log.marks
    report = {
        "delay": args.delay,
        "verified": bool(view and view.result and view.result.verified),
        "frames": len(log.stamps),
        "longest_frame_interval": round(log.longest(), 4),
        "longest_while_reading": round(max(
            (b - a for a, b in zip(log.stamps[marks["insert"]:marks["submit"]],
                                   log.stamps[marks["insert"] + 1:marks["submit"]], strict=False)), default=0), 4),
        "insert_to_pin_pad_frames": marks["submit"] - marks["insert"],
        "insert_to_result_seconds": round(log.stamps[marks["result"] - 1] - log.stamps[marks["insert"]], 3),
        "seconds_to_first_frame": round(first_frame[0], 3) if first_frame else None,
        "flow_errors": len(runtime.dispatcher.errors),
    }
    print(json.dumps(report))
    return 0 if report["verified"] else 1


if __name__ == "__main__":
    sys.exit(main())
