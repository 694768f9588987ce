"""Synthetic camera pictures for demo mode and tests: drawn at run time, so nothing binary is committed.

Why drawn, not photographed: a face photo is personal data, and no photo of a real person may enter the
repository. These are cartoon heads (skin-tone ellipse with shading, hair, brows, eyes, nose shadow,
mouth, shoulders) proportioned like a real head, which OpenCV's bundled frontal-face Haar cascade
detects reliably. Drawing is deterministic: the only noise (skin and wall texture) comes from a fixed
seed, so the same call gives the same pixels on every machine (one 1920 x 1080 picture takes ~30 ms).

Geometry: ``Head.height`` is crown to chin in pixels, ``Head.x``/``Head.y`` the centre of that span.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

RGB = tuple[int, int, int]
WALL: RGB = (236, 236, 232)  # an off-white wall: what the J-LIS rule asks for
SKIN: RGB = (224, 182, 150)
HAIR: RGB = (46, 34, 28)
CLOTHES: RGB = (52, 70, 110)


@dataclass(frozen=True, slots=True)
class Head:
    """One synthetic head. ``turn`` shifts the features sideways (a head turned away), -1..1 of the half
    face; ``tilt`` rotates the whole head in degrees (clockwise on screen)."""

    x: float
    y: float
    height: float
    skin: RGB = SKIN
    hair: RGB = HAIR
    eyes_open: bool = True
    turn: float = 0.0
    tilt: float = 0.0
    shoulders: bool = True


def wall(width: int, height: int, colour: RGB = WALL, *, seed: int = 7) -> np.ndarray:
    """A plain wall: a faint top-to-bottom light fall-off and a little sensor noise (fixed seed)."""
    shade = np.linspace(1.0, 0.95, height, dtype=np.float32)[:, None, None]
    canvas = np.empty((height, width, 3), np.float32)
    canvas[:] = np.asarray(colour, np.float32)
    canvas *= shade
    canvas += np.random.default_rng(seed).normal(0.0, 1.5, (height, width, 1)).astype(np.float32)
    return canvas


def busy_wall(width: int, height: int, *, seed: int = 11) -> np.ndarray:
    """A patterned background (a bookshelf-like grid of coloured blocks): refused as "not plain"."""
    rng = np.random.default_rng(seed)
    canvas = wall(width, height, seed=seed)
    block = max(8, width // 24)
    for top in range(0, height, block):
        for left in range(0, width, block):
            colour = rng.integers(20, 235, 3).astype(np.float32)
            canvas[top : top + block - 2, left : left + block - 2] = colour
    return canvas


def cast_shadow(canvas: np.ndarray, head: Head, *, strength: float = 0.55) -> np.ndarray:
    """A person's soft shadow on the wall, to the right of and behind the head (a lamp on the left)."""
    height, width = canvas.shape[:2]
    mask = np.zeros((height, width), np.float32)
    centre = (int(head.x + 0.45 * head.height), int(head.y + 0.1 * head.height))
    axes = (int(0.5 * head.height), int(0.75 * head.height))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, head.height * 0.08))
    canvas *= (1.0 - strength * mask)[:, :, None]
    return canvas


def draw_head(canvas: np.ndarray, head: Head) -> np.ndarray:
    """Draw ``head`` onto ``canvas`` (float32 RGB, changed in place and returned).

    Everything is drawn into a patch around the head (not the whole canvas), which keeps a 1080p picture
    at a few tens of milliseconds."""
    h = head.height
    full_h, full_w = canvas.shape[:2]
    left, right = int(max(0, head.x - 1.0 * h)), int(min(full_w, head.x + 1.0 * h))
    upper, lower = int(max(0, head.y - 0.65 * h)), int(min(full_h, head.y + 1.5 * h))
    if left >= right or upper >= lower:
        return canvas
    patch = canvas[upper:lower, left:right]
    layer = np.zeros_like(patch)
    alpha = np.zeros(patch.shape[:2], np.float32)
    cx, top = head.x - left, head.y - h / 2 - upper

    def point(dx: float, dy: float) -> tuple[int, int]:
        return round(cx + dx * h), round(top + dy * h)

    def axes(ax: float, ay: float) -> tuple[int, int]:
        return max(1, round(ax * h)), max(1, round(ay * h))

    def tint(factor: float, colour: RGB) -> tuple[float, float, float]:
        return (factor * colour[0], factor * colour[1], factor * colour[2])

    def fill(centre: tuple[int, int], size: tuple[int, int], colour: tuple[float, ...],
             start: float = 0, end: float = 360) -> None:
        cv2.ellipse(layer, centre, size, 0, start, end, colour, -1, cv2.LINE_AA)
        cv2.ellipse(alpha, centre, size, 0, start, end, 1.0, -1, cv2.LINE_AA)

    if head.shoulders:  # shoulders and neck first: the face is drawn over them
        fill(point(0, 1.42), axes(0.85, 0.42), CLOTHES)
        neck = np.array([point(-0.13, 0.80), point(0.13, 0.80), point(0.15, 1.10), point(-0.15, 1.10)])
        cv2.fillConvexPoly(layer, neck, tint(0.88, head.skin), cv2.LINE_AA)
        cv2.fillConvexPoly(alpha, neck, 1.0, cv2.LINE_AA)
    fill(point(0, 0.40), axes(0.37, 0.41), head.hair)  # the back of the hair
    for side in (-1, 1):
        fill(point(side * 0.31, 0.53), axes(0.045, 0.075), tint(0.92, head.skin))  # ears

    # The face: a skin ellipse, shaded darker towards its rim (a rounded surface under frontal light).
    face_mask = np.zeros(patch.shape[:2], np.float32)
    fc, fa = point(0, 0.58), axes(0.30, 0.42)
    cv2.ellipse(face_mask, fc, fa, 0, 0, 360, 1.0, -1, cv2.LINE_AA)
    ys, xs = np.ogrid[: patch.shape[0], : patch.shape[1]]
    radial = ((xs - fc[0]) / fa[0]) ** 2 + ((ys - fc[1]) / fa[1]) ** 2
    shading = (1.0 - 0.28 * np.clip(radial, 0.0, 1.0) ** 2).astype(np.float32)
    skin = np.asarray(head.skin, np.float32)
    layer = layer * (1 - face_mask[:, :, None]) + (skin * shading[:, :, None]) * face_mask[:, :, None]
    np.maximum(alpha, face_mask, out=alpha)
    fill(point(0, 0.18), axes(0.30, 0.13), head.hair, 180, 360)  # the fringe over the forehead

    shift = head.turn * 0.12  # features slide sideways when the head turns
    dark = (40.0, 30.0, 28.0)
    for side in (-1, 1):
        ex = side * 0.115 + shift
        cv2.ellipse(layer, point(ex, 0.445), axes(0.075, 0.022), 0, 190, 350, head.hair, max(2, int(0.02 * h)),
                    cv2.LINE_AA)  # brow
        fill(point(ex, 0.50), axes(0.075, 0.04), tint(0.78, head.skin))  # the eye socket's shadow
        if head.eyes_open:
            fill(point(ex, 0.50), axes(0.055, 0.024), (245, 243, 238))  # sclera
            fill(point(ex, 0.50), axes(0.024, 0.024), (70, 48, 34))  # iris
            fill(point(ex, 0.50), axes(0.011, 0.011), (12, 10, 10))  # pupil
            cv2.ellipse(layer, point(ex, 0.50), axes(0.057, 0.026), 0, 180, 360, dark, max(2, int(0.008 * h)),
                        cv2.LINE_AA)  # upper lid
        else:
            fill(point(ex, 0.50), axes(0.058, 0.03), tint(0.86, head.skin))  # the closed lid
            cv2.ellipse(layer, point(ex, 0.505), axes(0.055, 0.012), 0, 0, 180, dark, max(1, int(0.005 * h)),
                        cv2.LINE_AA)  # lash line
    # the nose: a shadow down one side and under the tip, nostrils; then the mouth
    cv2.line(layer, point(0.02 + shift, 0.53), point(0.035 + shift, 0.66), tint(0.72, head.skin),
             max(2, int(0.012 * h)), cv2.LINE_AA)
    fill(point(shift, 0.685), axes(0.045, 0.016), tint(0.72, head.skin))
    for side in (-1, 1):
        fill(point(side * 0.022 + shift, 0.69), axes(0.010, 0.006), dark)
    fill(point(shift, 0.80), axes(0.075, 0.02), (150, 70, 70))
    cv2.ellipse(layer, point(shift, 0.80), axes(0.075, 0.006), 0, 0, 360, (90, 40, 40), max(1, int(0.005 * h)),
                cv2.LINE_AA)

    if head.tilt:
        matrix = cv2.getRotationMatrix2D((cx, top + h / 2), -head.tilt, 1.0)
        size = (patch.shape[1], patch.shape[0])
        layer = cv2.warpAffine(layer, matrix, size, flags=cv2.INTER_LINEAR)
        alpha = cv2.warpAffine(alpha, matrix, size, flags=cv2.INTER_LINEAR)
    texture = np.random.default_rng(int(h) + 3).normal(0.0, 3.0, patch.shape[:2]).astype(np.float32)
    a = alpha[:, :, None]
    patch *= 1 - a
    patch += a * (layer + texture[:, :, None])
    return canvas


def to_rgb8(canvas: np.ndarray) -> np.ndarray:
    return np.clip(canvas, 0, 255).astype(np.uint8)


def picture(width: int = 1920, height: int = 1080, heads: tuple[Head, ...] | None = None, *,
            background: str = "plain") -> np.ndarray:
    """A uint8 RGB picture; by default one well-placed head for a 1920 x 1080 kiosk camera frame."""
    if heads is None:
        heads = (default_head(width, height),)
    canvas = busy_wall(width, height) if background == "busy" else wall(width, height)
    if background == "shadow":
        for head in heads:
            cast_shadow(canvas, head)
    for head in heads:
        draw_head(canvas, head)
    return to_rgb8(canvas)


def default_head(width: int, height: int) -> Head:
    """A head centred in the frame, crown to chin 56 % of the frame height (a resident at the right distance)."""
    return Head(x=width / 2, y=height * 0.47, height=height * 0.56)


def demo_pictures() -> tuple[np.ndarray, ...]:
    """What the demo camera plays: the resident a little far, then off to one side, then in place (the demo
    camera stays on the last one, so a photo taken after a few seconds passes)."""
    good = default_head(1920, 1080)
    return (
        picture(1920, 1080, (replace(good, height=good.height * 0.7),)),
        picture(1920, 1080, (replace(good, x=good.x - 380),)),
        picture(1920, 1080, (good,)),
    )


def held_code(modules: np.ndarray, *, width: int = 1920, height: int = 1080, size: float = 0.3,
              angle: float = 12.0, lean: float = 0.15, centre: tuple[float, float] = (0.5, 0.5),
              with_person: bool = True) -> np.ndarray:
    """A paper form held up to the camera with a code printed on it.

    ``modules``: the code's module matrix (non-zero = dark), quiet zone included. ``size``: the paper's side
    as a fraction of the frame height (small = far away); ``angle``: its rotation in degrees; ``lean``: how
    far its top is tipped away from the camera (perspective, 0 = facing it)."""
    canvas = wall(width, height)
    if with_person:
        draw_head(canvas, default_head(width, height))
    dark = np.asarray(modules) != 0
    tile_side = 600
    tile = cv2.resize(np.where(dark, 20, 250).astype(np.uint8), (tile_side, tile_side),
                      interpolation=cv2.INTER_NEAREST)
    paper = np.full((tile_side + 160, tile_side + 160), 245, np.uint8)  # a white margin around the code
    paper[80:-80, 80:-80] = tile
    side = size * height
    cx, cy = centre[0] * width, centre[1] * height
    half_top, half_bottom = side / 2 * (1 - lean), side / 2
    corners = np.array([(-half_top, -side / 2), (half_top, -side / 2), (half_bottom, side / 2),
                        (-half_bottom, side / 2)], np.float32)
    turn = np.deg2rad(angle)
    rotation = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]], np.float32)
    target = (corners @ rotation.T + np.array([cx, cy], np.float32)).astype(np.float32)
    source = np.array([(0, 0), (paper.shape[1], 0), (paper.shape[1], paper.shape[0]), (0, paper.shape[0])],
                      np.float32)
    matrix = cv2.getPerspectiveTransform(source, target)
    warped = cv2.warpPerspective(paper, matrix, (width, height), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.ones_like(paper, np.float32), matrix, (width, height), flags=cv2.INTER_LINEAR)
    canvas *= (1 - mask)[:, :, None]
    canvas += (mask * warped)[:, :, None]
    return to_rgb8(canvas)


def demo_code_picture(text: str) -> np.ndarray:
    """A demo resident holding up a form whose QR code holds ``text`` (drawn with zxing-cpp)."""
    import zxingcpp

    code = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode)
    modules = np.asarray(code.to_image(scale=1, add_quiet_zones=True)) < 128
    return held_code(modules, size=0.32, angle=10.0, centre=(0.72, 0.55))


__all__ = ["Head", "busy_wall", "cast_shadow", "default_head", "demo_code_picture", "demo_pictures", "draw_head",
           "held_code", "picture", "to_rgb8", "wall"]

