"""Does every text on screen fit its box? The tour's check for clipped text, in every language.

Kivy draws a label's texture centred on its box and lets it spill, or the box's parent cuts it: either
way a resident reads half a sentence. A text is *clipped* when its rendered texture is larger than its
box (more than a rounding pixel), or when its box lies partly outside the window without a scroll view
around it that could bring it into sight. Checked on the real widget tree after layout, so it sees the
fonts, the large-text mode and the line breaks that the resident would.
"""

from __future__ import annotations

from collections.abc import Iterator

from kivy.core.window import Window
from kivy.uix.label import Label
from kivy.uix.scrollview import ScrollView
from kivy.uix.widget import Widget

TOLERANCE = 2.0  # pixels: rounding between the texture and the box


def _shown(widget: Widget) -> bool:
    """Not hidden by an opacity of 0 on itself or a parent (how screens hide what does not apply)."""
    node: Widget | None = widget
    while node is not None and node is not node.parent:
        if getattr(node, "opacity", 1) <= 0:
            return False
        node = node.parent
    return True


def _scrolled(widget: Widget) -> bool:
    node = widget.parent
    while node is not None and node is not node.parent:
        if isinstance(node, ScrollView):
            return True
        node = node.parent
    return False


def _labels(root: Widget) -> Iterator[Label]:
    for widget in root.walk(restrict=True):
        if isinstance(widget, Label) and str(widget.text).strip():
            yield widget


def clipped_texts(root: Widget) -> list[str]:
    """One line per text that does not fit: its beginning, how much is cut, and why."""
    problems: list[str] = []
    win_w, win_h = Window.size
    for label in _labels(root):
        if not _shown(label) or label.width <= 1 or label.height <= 1:
            continue
        tex_w, tex_h = label.texture_size
        what = repr(str(label.text)[:40])
        if tex_w > label.width + TOLERANCE or tex_h > label.height + TOLERANCE:
            problems.append(f"{what}: text {tex_w:.0f}x{tex_h:.0f} in a {label.width:.0f}x{label.height:.0f} box")
            continue
        if _scrolled(label):
            continue
        x, y = label.to_window(label.x, label.y)
        outside = (x < -TOLERANCE or y < -TOLERANCE or x + label.width > win_w + TOLERANCE
                   or y + label.height > win_h + TOLERANCE)
        if outside:
            problems.append(f"{what}: box at ({x:.0f}, {y:.0f}) {label.width:.0f}x{label.height:.0f} is outside the "
                            f"{win_w}x{win_h} window")
    return problems


__all__ = ["TOLERANCE", "clipped_texts"]
