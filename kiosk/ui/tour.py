"""``render_tour``: a PNG of every screen in every language, rendered offscreen — for review and the README.

Nothing here needs a display: SDL's offscreen video driver renders real GL frames with Mesa. Each shot is
taken only after the layout has stopped moving (frame-counted, see ``kiosk.ui.frames``): the window is
drawn and read back in the same step, and the root widget paints an opaque background. PNG encoding runs
on two worker threads while the next screen is laid out (a 1080×1920 draw costs ~0.4 s on Mesa's
software renderer, so the tour is bound by drawing, not by Python). Screens are fed from hand-made
states (``kiosk.ui.samples``) through a logic-free flow, so the tour shows the UI, not a particular card.

Files: ``<language>__<screen>.png``; variants add a suffix: ``<language>__<screen>__large-text.png``,
``__high-contrast``; extras: ``__idle-warning``, ``__language-picker`` (on attract) and ``__details`` (on
result, with synthetic details).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from kiosk.core.view import Screen, ViewState
from kiosk.i18n import LANGUAGES

PORTRAIT = (1080, 1920)
VARIANTS: dict[str, dict[str, bool]] = {
    "normal": {},
    "large-text": {"large_text": True},
    "high-contrast": {"high_contrast": True},
}
EXTRAS = ("idle-warning", "language-picker", "details")


def prepare_offscreen(size: tuple[int, int] = PORTRAIT) -> None:
    """Before Kivy opens its window: offscreen video, the kiosk's panel size, the kiosk's Kivy defaults."""
    import kiosk.ui  # noqa: F401 - sets the Kivy environment defaults

    if "kivy.core.window" not in sys.modules:
        os.environ["SDL_VIDEODRIVER"] = "offscreen"
        from kivy.config import Config

        Config.set("graphics", "width", str(size[0]))
        Config.set("graphics", "height", str(size[1]))
        Config.set("graphics", "resizable", "0")
        Config.set("input", "mouse", "mouse,disable_multitouch")
    else:
        from kivy.core.window import Window

        if tuple(Window.size) != tuple(size):
            # SDL's offscreen driver keeps the GL surface it was created with: a resized window lays out
            # at the new size but draws into the old surface (half-black shots). One size per process.
            raise RuntimeError(f"this process's Kivy window is {tuple(Window.size)}; render the tour at "
                               f"{tuple(size)} in a new process")


def file_name(language: str, screen: str, variant: str = "normal") -> str:
    suffix = "" if variant == "normal" else f"__{variant}"
    return f"{language}__{screen}{suffix}.png"


def render_tour(
    directory: str | Path,
    languages: Sequence[str] | None = None,
    screens: Sequence[Screen | str] | None = None,
    *,
    variants: Iterable[str] = ("normal",),
    extras: bool = False,
    size: tuple[int, int] = PORTRAIT,
) -> list[Path]:
    """Render the tour into ``directory``; returns the written files. Takes ~0.1 s per image."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    languages = list(languages or LANGUAGES)
    screen_list = [Screen(s) for s in (screens or list(Screen))]
    variant_list = list(variants)
    unknown = [v for v in variant_list if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown tour variants {unknown}; use {sorted(VARIANTS)}")
    prepare_offscreen(size)

    from kiosk.ui.app import KioskApp
    from kiosk.ui.fit import clipped_texts
    from kiosk.ui.frames import FrameScript, capture_window, settle, write_png
    from kiosk.ui.samples import sample_result, sample_state
    from kiosk.ui.static_flow import StaticFlow

    flow = StaticFlow(sample_state(Screen.ATTRACT, languages[0]))
    app = KioskApp(flow, speaker=None, prebuild=False)
    written: list[Path] = []
    clipped: list[str] = []
    encoders = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tour-png")
    pending: list[Future[None]] = []

    def shoot(view: ViewState, name: str, before: Any = None) -> Iterator[Any]:
        app.render(view)  # straight to the widgets: the tour is on the UI thread already
        if before is not None:
            before()
        yield from settle(app.root)
        from kivy.core.window import Window

        for top in Window.children:
            clipped.extend(f"{name}: {problem}" for problem in clipped_texts(top))
        path = out / name
        size, pixels = capture_window()
        pending.append(encoders.submit(write_png, str(path), size, pixels))  # encode while the next renders
        written.append(path)
        app.close_language_picker()

    def script() -> Iterator[Any]:
        yield from settle(app.root)
        for language in languages:
            for screen in screen_list:
                for variant in variant_list:
                    view = sample_state(screen, language, **VARIANTS[variant])
                    yield from shoot(view, file_name(language, screen.value, variant))
            if extras:
                attract = sample_state(Screen.ATTRACT, language)
                yield from shoot(replace(attract, idle_warning=15), file_name(language, "attract", "idle-warning"))
                yield from shoot(attract, file_name(language, "attract", "language-picker"),
                                 before=app.open_language_picker)
                result = sample_state(Screen.RESULT, language, result=sample_result(details=True))
                yield from shoot(result, file_name(language, "result", "details"))

    started = time.monotonic()
    try:
        FrameScript(app, script).run()
    finally:
        encoders.shutdown(wait=True)
    for job in pending:
        job.result()  # re-raise an encoding error here
    render_tour.last_seconds = time.monotonic() - started  # type: ignore[attr-defined]
    render_tour.clipped = clipped  # type: ignore[attr-defined]  # texts that do not fit (kiosk.ui.fit)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m kiosk.ui.tour DIR [--variants] [--extras]`` (the CLI wires ``kiosk demo --tour DIR``)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kiosk.ui.tour", allow_abbrev=False)
    parser.add_argument("directory")
    parser.add_argument("--language", action="append", dest="languages", choices=LANGUAGES)
    parser.add_argument("--screen", action="append", dest="screens", choices=[s.value for s in Screen])
    parser.add_argument("--all-variants", action="store_true", help="also large-text and high-contrast")
    parser.add_argument("--extras", action="store_true", help="also idle warning, language picker, details")
    args = parser.parse_args(argv)
    variants = list(VARIANTS) if args.all_variants else ["normal"]
    files = render_tour(args.directory, args.languages, args.screens, variants=variants, extras=args.extras)
    print(f"{len(files)} images in {args.directory} ({render_tour.last_seconds:.1f} s)")  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
