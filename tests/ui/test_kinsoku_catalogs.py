"""Kinsoku on the real kiosk: Kivy's own layout, the real Noto Sans CJK font, the widths the screens use.

Two checks. (1) Every screen (plus the idle warning and the result details) in ja, ja-easy and zh-Hans, at
normal and large text: the lines Kivy actually laid out obey kinsoku, fit, and are exactly the lines the
break step chose (Kivy added no wrap of its own), while ``text`` stays what the screen set. (2) Every
catalog string of those languages, with its placeholders filled as the screens fill them, at every wrapping
geometry (width, padding, font size, weight) found in (1). Kivy's naive wrap of the same strings is laid
out too, and must show violations — so the check is known to catch what it is looking for.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from kivy.core.text import Label as CoreLabel
from kivy.uix.label import Label

from kiosk.core.view import Screen
from kiosk.i18n import catalog
from kiosk.typeset.linebreak import has_cjk
from kiosk.ui.app import KioskApp
from kiosk.ui.fonts import register_default_font
from kiosk.ui.frames import settle
from kiosk.ui.keys import PIN_NAME_KEYS
from kiosk.ui.samples import sample_result, sample_state
from kiosk.ui.static_flow import StaticFlow
from kiosk.ui.text import UiTranslator, format_date
from kiosk.ui.widgets.base import KioskButton, KioskLabel, LineBreaking
from tests.typeset.test_linebreak import rule_violations
from tests.ui.helpers import run_with, visible

pytestmark = pytest.mark.ui

CJK_LANGUAGES = ("ja", "ja-easy", "zh-Hans")
VARIANTS = ({}, {"large_text": True})


@dataclass(frozen=True)
class Geometry:
    """Everything that decides where a wrapping label's lines end."""

    width: float  # text_size[0]
    padding_x: tuple[float, float]
    font_size: float
    bold: bool

    @property
    def available(self) -> float:
        return self.width - sum(self.padding_x)


@dataclass
class Drawn:
    where: str
    text: str
    shown: str
    lines: list[str]  # as Kivy laid them out
    widths: list[float]
    geometry: Geometry


def laid_out(core: Any) -> list[str]:
    return ["".join(word.text for word in line.words) for line in core._cached_lines]


def drawn(widget: Label, where: str) -> Drawn:
    lines = laid_out(widget._label)
    geometry = Geometry(widget.text_size[0], (widget.padding[0], widget.padding[2]), widget.font_size, widget.bold)
    return Drawn(where, widget.text, widget.shown_text, lines,
                 [widget._label.get_extents(line)[0] for line in lines], geometry)


def wrapping_labels(app: KioskApp) -> Iterator[Label]:
    for widget in app.root.walk():
        if (isinstance(widget, KioskLabel | KioskButton) and widget.text and widget.text_size[0] is not None
                and visible(widget)):
            yield widget


@pytest.fixture(scope="module")
def screens() -> list[Drawn]:
    """Walk every screen in the three languages at both text sizes; what each wrapping label drew."""
    from kivy.core.window import Window

    from kiosk.ui.tour import PORTRAIT

    if tuple(Window.size) != PORTRAIT:
        Window.size = PORTRAIT
    found: list[Drawn] = []

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        for language in CJK_LANGUAGES:
            views = [(screen.value, sample_state(screen, language, **variant)) for screen in Screen
                     for variant in VARIANTS]
            views.append(("idle-warning", replace(sample_state(Screen.ATTRACT, language), idle_warning=15)))
            for variant in VARIANTS:
                views.append(("details", sample_state(Screen.RESULT, language, result=sample_result(details=True),
                                                      **variant)))
            for name, view in views:
                app.render(view)
                yield from settle(app.root)
                size = "large" if view.large_text else "normal"
                found.extend(drawn(w, f"{language}/{name}/{size}/{type(w).__name__}") for w in wrapping_labels(app))

    run_with(sample_state(Screen.ATTRACT, "ja"), script)
    return found


def test_every_screen_draws_cjk_lines_that_obey_kinsoku_and_fit(screens: list[Drawn]) -> None:
    failures = []
    for item in screens:
        if has_cjk(item.text) and item.lines != item.shown.split("\n"):
            failures.append(f"{item.where}: Kivy re-wrapped {item.shown!r} into {item.lines}")
        failures += [f"{item.where}: {p}" for p in rule_violations("\n".join(item.lines))]
        failures += [f"{item.where}: {line!r} is {w} px > {item.geometry.available}"
                     for line, w in zip(item.lines, item.widths, strict=True) if w > item.geometry.available]
        if "\n" in item.text:
            failures.append(f"{item.where}: the widget's text changed: {item.text!r}")
    assert failures == []
    multi_line = [item for item in screens if len(item.lines) > 1 and item.where.startswith("ja/")]
    assert len(multi_line) >= 10  # the walk did reach wrapped Japanese text


def test_a_label_re_breaks_when_its_width_font_text_or_language_change() -> None:
    sentence = "このカードはマイナンバーカードではありません。マイナンバーカードを置いてください。"

    def check(label: KioskLabel) -> list[str]:
        lines = laid_out(label._label)
        assert lines == label.shown_text.split("\n") and rule_violations(label.shown_text) == []
        available = label.text_size[0] - label.padding[0] - label.padding[2]
        assert all(label._label.get_extents(line)[0] <= available for line in lines)
        return lines

    def script(app: KioskApp, flow: StaticFlow) -> Iterator[Any]:
        label = KioskLabel(text=sentence, size_hint=(None, None), width=700)
        yield 2
        wide = check(label)
        assert label.text == sentence and len(wide) == 2  # what callers set, not what is drawn
        label.width = 420
        yield 2
        narrow = check(label)
        assert len(narrow) > len(wide)
        label.scale = 1.4  # large text
        yield 2
        assert len(check(label)) > len(narrow)
        label.text = "カードに記録された氏名・住所・生年月日・性別が正しくない可能性があります。"
        yield 2
        assert len(check(label)) > 1
        label.language = "zh-Hans"
        label.text = "卡中记录的姓名、住址、出生日期或性别可能不正确。"
        yield 2
        assert len(check(label)) > 1
        latin = "This card is not a My Number card. Place your My Number card on the reader."
        label.text = latin
        yield 2
        assert label.shown_text == latin and len(laid_out(label._label)) > 1  # Kivy's own word wrap

    run_with(sample_state(Screen.ATTRACT, "ja"), script)


# --- every catalog string at every screen geometry --------------------------------------------------------


class ProbeLabel(LineBreaking, Label):
    """The break step of KioskLabel/KioskButton without their kv rule, so the geometry can be set freely."""


SAMPLE_ARGS: dict[str, object] = {"remaining": 2, "maximum": 3, "days": 62, "seconds": 15,
                                  "year": 2030, "month": 12, "day": 31}


def shown_strings(language: str) -> list[tuple[str, str]]:
    """Every catalog string as a screen shows it: placeholders filled, once per PIN name for ``{pin}``."""
    t = UiTranslator(language)
    args = {**SAMPLE_ARGS, "date": format_date(t, "2030-12-31")}
    out = []
    for key, raw in sorted(catalog(language).items()):
        pins = list(PIN_NAME_KEYS) if "{pin}" in raw else [None]
        out += [(key, t(key, **args, pin=pin)) for pin in pins]
    return out


def test_every_catalog_string_breaks_cleanly_at_every_screen_geometry(screens: list[Drawn]) -> None:
    register_default_font()  # the app does this at start; the probes below use Kivy's default font
    geometries = sorted({item.geometry for item in screens}, key=lambda g: (g.font_size, g.width, g.bold))
    assert len(geometries) >= 10
    failures: list[str] = []
    naive_violations = 0
    for geometry in geometries:
        probe = ProbeLabel(font_size=geometry.font_size, bold=geometry.bold, text_size=(geometry.width, None),
                           padding=(geometry.padding_x[0], 0, geometry.padding_x[1], 0))
        naive = CoreLabel(font_size=geometry.font_size, bold=geometry.bold, text_size=(geometry.width, None),
                          padding=[geometry.padding_x[0], 0, geometry.padding_x[1], 0])
        for language in CJK_LANGUAGES:
            probe.language = language
            for key, text in shown_strings(language):
                probe.text = text
                shown = probe.shown_text
                core = probe._label
                core.text = shown
                core.render()  # Kivy's layout pass (no drawing)
                lines = laid_out(core)
                where = f"{language} {key} {geometry}"
                if lines != shown.split("\n"):
                    failures.append(f"{where}: Kivy re-wrapped {shown!r} into {lines}")
                failures += [f"{where}: {p}" for p in rule_violations(shown)]
                failures += [f"{where}: {line!r} too wide" for line in lines
                             if core.get_extents(line)[0] > geometry.available]
                if re.sub("[\n ]", "", shown) != text.replace(" ", ""):
                    failures.append(f"{where}: text lost in {shown!r}")
                naive.text = text
                naive.render()
                naive_violations += bool(rule_violations("\n".join(laid_out(naive))))
    assert failures == []
    assert naive_violations > 0  # Kivy's own wrap breaks the rules on these strings: the check above can fail
