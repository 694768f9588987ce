"""The face rules: each synthetic failure fails exactly its own check, with its own fix key; the good face
passes every check; the kiosk's crop passes the final check; the server refuses the same bad photos.

All pictures are drawn (tests/support/faces.py): no photo of a real person is used.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from contract import photo
from contract.photo import (
    CHECKS,
    FIX_KEYS,
    PhotoRejected,
    check_photo,
    encode_jpeg,
    inspect_frame,
    inspect_photo,
    is_portrait_shape,
    portrait_crop,
    problem,
    target_oval,
    validate_photo,
)
from kiosk.defaults.camera import Head, demo_pictures
from tests.conftest import REPO
from tests.support.faces import FRAME_VARIANTS, PHOTO_VARIANTS, frame, good_head

SKIN_TONES = [(255, 224, 196), (224, 182, 150), (198, 150, 110), (160, 110, 80), (120, 80, 60), (90, 58, 42)]
UPLOAD_CODES = {"jpeg": "photo_not_jpeg", "rgb": "photo_not_rgb", "dimensions": "photo_dimensions",
                "portrait": "photo_not_portrait"}


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    return {name: make() for name, (make, _check) in PHOTO_VARIANTS.items()}


def test_every_check_has_one_plain_words_key() -> None:
    assert len(set(CHECKS)) == len(CHECKS)
    assert tuple(f"photo.fix.{check}" for check in CHECKS) == FIX_KEYS
    assert problem("dark").fix_key == "photo.fix.dark"
    with pytest.raises(ValueError):
        problem("nonsense")


def test_every_failure_variant_has_a_check() -> None:
    wanted = {check for _make, check in (*FRAME_VARIANTS.values(), *PHOTO_VARIANTS.values()) if check}
    assert wanted <= set(CHECKS)
    assert set(CHECKS) - wanted == {"camera", "file_size"}  # no camera in a file; sizes: tests/contract/test_photo


@pytest.mark.parametrize("name", list(FRAME_VARIANTS))
def test_live_checks_on_1080p_frames(name: str) -> None:
    make, check = FRAME_VARIANTS[name]
    report = inspect_frame(make())
    assert report.problems == ((problem(check),) if check else ())
    assert report.passed is (check is None)
    if check is None:
        assert report.crop is not None and is_portrait_shape(report.crop.w, report.crop.h)


@pytest.mark.parametrize("name", list(PHOTO_VARIANTS))
def test_final_checks_on_portrait_photos(name: str, photos: dict[str, bytes]) -> None:
    _make, check = PHOTO_VARIANTS[name]
    verdict = check_photo(photos[name])
    assert verdict.problems == ((problem(check),) if check else ())
    assert verdict.passed is (check is None)


@pytest.mark.parametrize("name", [n for n, (_m, check) in PHOTO_VARIANTS.items() if check])
def test_the_server_refuses_the_same_bad_photos(name: str, photos: dict[str, bytes]) -> None:
    """validate_photo is the server's entry point: with content=True it refuses what the kiosk refuses."""
    check = PHOTO_VARIANTS[name][1]
    with pytest.raises(PhotoRejected) as caught:
        validate_photo(photos[name], content=True)
    assert caught.value.check == check
    assert caught.value.code == UPLOAD_CODES.get(check, f"photo_{check}")
    assert caught.value.message


def test_the_server_accepts_the_good_photo(photos: dict[str, bytes]) -> None:
    info = validate_photo(photos["good"], content=True)
    assert (info.width, info.height) == (700, 900)


@pytest.mark.parametrize("name", ["png", "greyscale", "too_few_pixels"])
def test_the_upload_rules_alone_refuse_the_format_failures(name: str, photos: dict[str, bytes]) -> None:
    """What the server enforces today (validate_photo without content): the official upload rules."""
    with pytest.raises(PhotoRejected) as caught:
        validate_photo(photos[name])
    assert caught.value.code == UPLOAD_CODES[PHOTO_VARIANTS[name][1] or ""]


def test_the_upload_rules_alone_say_nothing_about_faces(photos: dict[str, bytes]) -> None:
    for name in ("no_face", "eyes_closed", "busy_background", "landscape"):
        validate_photo(photos[name])


@pytest.mark.parametrize("tone", SKIN_TONES)
@pytest.mark.parametrize("head", [0.48, 0.56, 0.66])
def test_the_kiosk_crop_passes_the_final_check(tone: tuple[int, int, int], head: float) -> None:
    """Across skin tones and distances: a frame the live checks accept gives a photo the final check
    (and so the server) accepts, with the head where the rule wants it."""
    picture = frame(replace(good_head(), skin=tone, height=1080 * head))
    report = inspect_frame(picture)
    assert report.passed, report.checks
    crop = portrait_crop(picture, report)
    assert crop is not None
    data = encode_jpeg(crop)
    verdict = check_photo(data)
    assert verdict.passed, [p.check for p in verdict.problems]
    validate_photo(data, content=True)
    assert verdict.info is not None and verdict.info.width >= photo.MIN_SIDE
    assert verdict.report is not None and verdict.report.measures.head is not None
    head_mm = verdict.report.measures.head * photo.PHOTO_HEIGHT_MM
    assert abs(head_mm - photo.TARGET_HEAD_MM) <= photo.HEAD_SLACK_MM


@pytest.mark.parametrize("tone", SKIN_TONES)
def test_the_head_estimate_does_not_depend_on_skin_tone(tone: tuple[int, int, int]) -> None:
    head = good_head()
    report = inspect_frame(frame(replace(head, skin=tone)))
    assert report.measures.head == pytest.approx(head.height / 1080, rel=0.04)


def test_positions_inside_the_oval_pass() -> None:
    head = good_head()
    for dx, dy in ((-100, 0), (100, 0), (0, -40), (0, 40)):
        assert inspect_frame(frame(replace(head, x=head.x + dx, y=head.y + dy))).passed


def test_the_oval_is_where_a_passing_head_is() -> None:
    oval = target_oval(1920, 1080)
    head = Head(x=oval.x + oval.w / 2, y=oval.y + oval.h / 2, height=oval.h)
    assert inspect_frame(frame(head)).passed


def test_a_dark_picture_asks_for_light_even_without_a_face() -> None:
    dark = (frame().astype(np.float32) * 0.15).astype(np.uint8)
    assert inspect_frame(dark).problems == (problem("dark"),)


def test_a_small_second_face_in_the_distance_is_ignored_but_a_second_person_is_not() -> None:
    head = good_head()
    far = Head(x=200, y=300, height=head.height * 0.3, shoulders=False)
    assert inspect_frame(frame(head, far)).passed
    near = Head(x=250, y=500, height=head.height * 0.7)
    assert inspect_frame(frame(head, near)).checks == ("one_face",)


def test_a_photo_framed_like_a_camera_frame_breaks_the_print_rules() -> None:
    """Head 56 % of the height and centred: right for the oval, too small and too low for the 45 mm print."""
    picture = frame(good_head((700, 900)), size=(700, 900))
    assert inspect_photo(picture).checks == ("centred", "face_small")


def test_encode_jpeg_lands_inside_the_size_rule() -> None:
    flat = np.full((900, 700, 3), 200, np.uint8)  # compresses to almost nothing at any quality
    assert len(encode_jpeg(flat)) < photo.MIN_BYTES  # the ladder gives up: check_photo then says file_size
    assert check_photo(encode_jpeg(flat)).problems == (problem("file_size"),)
    picture = demo_pictures()[-1]
    assert photo.MIN_BYTES <= len(encode_jpeg(picture)) <= photo.MAX_BYTES


def test_encoded_photos_carry_no_metadata() -> None:
    data = encode_jpeg(demo_pictures()[-1])
    assert b"Exif" not in data[:2000] and b"http://ns.adobe.com" not in data


def test_the_pictures_are_deterministic() -> None:
    def digest() -> str:
        return hashlib.sha256(FRAME_VARIANTS["good"][0]().tobytes()).hexdigest()

    assert digest() == digest()


def test_inputs_must_be_rgb_pictures() -> None:
    with pytest.raises(ValueError, match="RGB"):
        inspect_frame(np.zeros((100, 100), np.uint8))
    with pytest.raises(ValueError, match="RGB"):
        inspect_frame(np.zeros((100, 100, 3), np.float32))


def test_the_upload_path_does_not_load_opencv() -> None:
    """The server and every importer of contract.payloads load OpenCV only when a face rule runs."""
    code = ("import sys, contract.photo, contract.payloads; from tests.contract.images import noise_jpeg; "
            "contract.photo.validate_photo(noise_jpeg(600, 800)); print('cv2' in sys.modules, 'numpy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_the_face_detector_ships_inside_the_wheel() -> None:
    import cv2

    assert cv2.__version__.split(".")[0] == "4"  # OpenCV 5 dropped the Haar cascades
    assert (cv2.data.haarcascades + "haarcascade_frontalface_default.xml").startswith(cv2.__file__.rsplit("/", 1)[0])
