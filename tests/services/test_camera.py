"""The kiosk camera: guidance and QR codes posted from its own threads, the checked photo, clean stops.

``FileCamera`` plays synthetic pictures; ``OpenCVCamera`` runs its real capture code through
``cv2.VideoCapture`` on short synthetic videos written into tmp_path (no webcam needed). No photo of a real
person is used, and nothing is written outside tmp_path.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest
import segno

from contract.photo import validate_photo
from kiosk.core.events import CameraResult, CodeScanned, Event, PhotoGuidance
from kiosk.core.ports import Camera, LiveGuidance, PhotoProblem, PhotoResult
from kiosk.defaults.camera import held_code
from kiosk.services.camera import (
    CAMERA_PROBLEM,
    CameraUnavailable,
    FileCamera,
    OpenCVCamera,
    decode_qr,
    final_check,
    probe_camera,
)
from tests.support.faces import FRAME_VARIANTS

APPLICATION_ID = "12345678901234567890123"  # 23 digits, synthetic
OTHER_ID = "98765432109876543210987"
MISSING_DEVICE = 97  # /dev/video97: no machine has that many cameras


@dataclass
class Posted:
    """What the camera posted, with the thread each event was posted from."""

    events: queue.Queue[tuple[Event, str]] = field(default_factory=queue.Queue)
    seen: list[tuple[Event, str]] = field(default_factory=list)

    def __call__(self, event: Event) -> None:
        self.events.put((event, threading.current_thread().name))

    def drain(self) -> list[Event]:
        while True:
            try:
                self.seen.append(self.events.get_nowait())
            except queue.Empty:
                return [event for event, _thread in self.seen]

    def wait_for(self, kind: type, where: Callable[[Event], bool] = lambda _e: True, timeout: float = 10.0) -> Event:
        deadline = time.monotonic() + timeout
        for event, _thread in self.seen:
            if isinstance(event, kind) and where(event):
                return event
        while time.monotonic() < deadline:
            try:
                item = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(item)
            if isinstance(item[0], kind) and where(item[0]):
                return item[0]
        raise AssertionError(f"no {kind.__name__} within {timeout} s; got {[type(e).__name__ for e, _ in self.seen]}")

    def of(self, kind: type) -> list[Event]:
        return [event for event in self.drain() if isinstance(event, kind)]

    def threads(self) -> set[str]:
        self.drain()
        return {thread for _event, thread in self.seen}


@pytest.fixture
def posted() -> Posted:
    return Posted()


@pytest.fixture(scope="module")
def good() -> np.ndarray:
    return FRAME_VARIANTS["good"][0]()


@pytest.fixture
def camera(posted: Posted, good: np.ndarray) -> Iterator[FileCamera]:
    cam = FileCamera(posted, [good], fps=20, guidance_hz=10)
    yield cam
    cam.stop()


def qr_modules(text: str) -> np.ndarray:
    return np.array(list(segno.make_qr(text, error="m").matrix_iter(scale=1, border=4)), np.uint8)


def qr_frame(text: str, *, size: float = 0.12, angle: float = 30.0, lean: float = 0.2) -> np.ndarray:
    """The form held up at an angle and at a distance (the code is ~130 px across in a 1080p frame)."""
    return held_code(qr_modules(text), size=size, angle=angle, lean=lean, centre=(0.78, 0.55))


def camera_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if "camera" in t.name]


def ready(event: Event) -> bool:
    return isinstance(event, PhotoGuidance) and isinstance(event.guidance, LiveGuidance) and event.guidance.ready


# --- FileCamera ---------------------------------------------------------------------------------------------


def test_it_is_a_camera(camera: FileCamera) -> None:
    def use(cam: Camera) -> None:
        assert cam.latest() is None

    use(camera)


def test_guidance_and_the_checked_photo(camera: FileCamera, posted: Posted) -> None:
    camera.start(guidance=True, qr=False)
    guidance = posted.wait_for(PhotoGuidance, ready)
    assert isinstance(guidance, PhotoGuidance) and isinstance(guidance.guidance, LiveGuidance)
    x, y, w, h = guidance.guidance.face or (0, 0, 0, 0)
    assert 0.3 < x < 0.5 and 0.2 < y < 0.4 and 0.15 < w < 0.3 and 0.3 < h < 0.5
    ticket = camera.capture()
    result = posted.wait_for(CameraResult, lambda e: isinstance(e, CameraResult) and e.ticket == ticket)
    assert isinstance(result, CameraResult) and isinstance(result.result, PhotoResult)
    photo = result.result
    assert photo.passed and photo.jpeg is not None
    assert validate_photo(photo.jpeg, content=True).width == photo.width
    assert abs(photo.width / photo.height - 35 / 45) < 0.01 and min(photo.width, photo.height) >= 480
    assert "held" in repr(photo) and str(len(photo.jpeg)) not in repr(photo)
    photo.wipe()
    assert photo.jpeg is None and not photo.passed
    camera.stop()
    assert camera_threads() == []
    assert posted.threads() == {"file camera-checks"}  # never the caller's thread


def test_guidance_names_the_problem_and_the_photo_is_refused(camera: FileCamera, posted: Posted) -> None:
    camera.start(guidance=True, qr=False)
    camera.show(FRAME_VARIANTS["eyes_closed"][0]())
    closed = PhotoProblem("eyes_open", "photo.fix.eyes_open")
    posted.wait_for(PhotoGuidance, lambda e: isinstance(e, PhotoGuidance) and e.guidance.problems == (closed,))
    time.sleep(0.15)  # the shown picture is the latest frame now
    ticket = camera.capture()
    result = posted.wait_for(CameraResult, lambda e: isinstance(e, CameraResult) and e.ticket == ticket)
    assert isinstance(result, CameraResult)
    assert result.result.problems == (closed,) and result.result.jpeg is None and not result.result.passed


def test_no_face_means_no_face_box(camera: FileCamera, posted: Posted) -> None:
    camera.start(guidance=True, qr=False)
    camera.show(FRAME_VARIANTS["no_face"][0]())
    event = posted.wait_for(PhotoGuidance, lambda e: isinstance(e, PhotoGuidance) and e.guidance.face is None)
    assert isinstance(event, PhotoGuidance)
    assert event.guidance.problems == (PhotoProblem("face_found", "photo.fix.face_found"),)
    assert not event.guidance.ready


def test_guidance_runs_at_a_bounded_rate(posted: Posted, good: np.ndarray) -> None:
    cam = FileCamera(posted, [good], fps=30, guidance_hz=4)
    cam.start(guidance=True, qr=False)
    try:
        posted.wait_for(PhotoGuidance)
        time.sleep(1.5)
    finally:
        cam.stop()
    seqs = [e.guidance.seq for e in posted.of(PhotoGuidance)]
    assert 2 <= len(seqs) <= 4 * 1.6 + 2
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # each on a newer frame


def test_latest_is_the_picture_as_rgb(camera: FileCamera) -> None:
    picture = np.full((600, 800, 3), 255, np.uint8)
    picture[10:20, 10:20] = (255, 0, 0)  # red, so RGB and BGR cannot be confused
    camera.show(picture)
    camera.start(guidance=False, qr=False)
    frame = camera.wait_for_frame()
    while frame is not None and frame.width != 800:
        time.sleep(0.05)
        frame = camera.latest()
    assert frame is not None and (frame.width, frame.height) == (800, 600)
    assert len(frame.rgb) == 800 * 600 * 3
    pixels = np.frombuffer(frame.rgb, np.uint8).reshape(600, 800, 3)
    assert tuple(pixels[15, 15]) == (255, 0, 0)
    first = frame.seq
    time.sleep(0.2)
    latest = camera.latest()
    assert latest is not None and latest.seq > first and latest.captured_at > frame.captured_at


def test_stop_joins_the_threads_and_forgets_the_frame(camera: FileCamera) -> None:
    camera.start(guidance=True, qr=True)
    assert camera.wait_for_frame() is not None
    assert sorted(camera_threads()) == ["file camera-capture", "file camera-checks"]
    camera.stop()
    assert camera_threads() == [] and camera.latest() is None and not camera.running
    camera.stop()  # twice is fine
    camera.start(guidance=False, qr=False)  # and it starts again
    assert camera.wait_for_frame() is not None
    camera.stop()
    assert camera_threads() == []


def test_a_photo_asked_for_at_stop_is_answered_without_a_picture(posted: Posted, good: np.ndarray) -> None:
    cam = FileCamera(posted, [good], fps=1, guidance_hz=1)
    cam.start(guidance=False, qr=False)
    ticket = cam.capture()  # most likely before the first frame
    cam.stop()
    results = [e for e in posted.of(CameraResult) if isinstance(e, CameraResult) and e.ticket == ticket]
    assert len(results) == 1


def test_a_photo_asked_for_while_stopped(camera: FileCamera, posted: Posted) -> None:
    ticket = camera.capture()
    result = posted.wait_for(CameraResult)
    assert isinstance(result, CameraResult) and result.ticket == ticket
    assert result.result.problems == (CAMERA_PROBLEM,) and result.result.jpeg is None


def test_start_again_changes_what_a_running_camera_does(camera: FileCamera, posted: Posted) -> None:
    camera.start(guidance=False, qr=True)
    camera.wait_for_frame()
    time.sleep(0.3)
    assert posted.of(PhotoGuidance) == []
    camera.start(guidance=True, qr=False)
    posted.wait_for(PhotoGuidance)
    assert sorted(camera_threads()) == ["file camera-capture", "file camera-checks"]


def test_the_demo_camera_plays_synthetic_residents(posted: Posted) -> None:
    cam = FileCamera(posted, fps=10, hold=0.5, loop=False, guidance_hz=5)
    cam.start(guidance=True, qr=False)
    try:
        frame = cam.wait_for_frame()
        assert frame is not None and (frame.width, frame.height) == (1920, 1080)
        posted.wait_for(PhotoGuidance, lambda e: isinstance(e, PhotoGuidance) and bool(e.guidance.problems))
        posted.wait_for(PhotoGuidance, ready)  # it ends on the resident in place
    finally:
        cam.stop()


def test_folders_of_pictures_play_in_name_order(posted: Posted, tmp_path: Path) -> None:
    for name, shade in (("b.png", 90), ("a.png", 30), ("notes.txt", 0)):
        path = tmp_path / name
        if name.endswith(".png"):
            cv2.imwrite(str(path), np.full((480, 640, 3), shade, np.uint8))
        else:
            path.write_text("not a picture")
    cam = FileCamera(posted, [tmp_path], fps=20, hold=0.3, loop=False)
    cam.start(guidance=False, qr=False)
    try:
        first = cam.wait_for_frame()
        assert first is not None and first.rgb[0] == 30
        time.sleep(0.6)
        last = cam.latest()
        assert last is not None and last.rgb[0] == 90
    finally:
        cam.stop()
    with pytest.raises(CameraUnavailable, match="no pictures"):
        FileCamera(posted, []).start(guidance=False, qr=False)


def test_a_missing_picture_is_refused_at_start(posted: Posted, tmp_path: Path) -> None:
    cam = FileCamera(posted, [tmp_path / "nothing.png"])
    with pytest.raises(CameraUnavailable, match="does not exist"):
        cam.start(guidance=True, qr=False)
    assert camera_threads() == []


# --- QR codes -------------------------------------------------------------------------------------------


def test_the_test_code_is_readable() -> None:
    assert decode_qr(cv2.cvtColor(qr_frame(APPLICATION_ID), cv2.COLOR_RGB2GRAY)) == [APPLICATION_ID]


def test_a_code_is_posted_once(camera: FileCamera, posted: Posted) -> None:
    camera.show(qr_frame(APPLICATION_ID))
    camera.start(guidance=False, qr=True)
    event = posted.wait_for(CodeScanned)
    time.sleep(1.0)  # ~20 more frames of the same code, ~10 more decodes
    assert isinstance(event, CodeScanned) and (event.text, event.source) == (APPLICATION_ID, "qr")
    camera.show(qr_frame(OTHER_ID, size=0.25, angle=-15, lean=0.0))
    posted.wait_for(CodeScanned, lambda e: isinstance(e, CodeScanned) and e.text == OTHER_ID)
    time.sleep(0.5)
    assert [e.text for e in posted.of(CodeScanned) if isinstance(e, CodeScanned)] == [APPLICATION_ID, OTHER_ID]
    assert APPLICATION_ID not in repr(event)


def test_frames_without_a_code_post_nothing(camera: FileCamera, posted: Posted) -> None:
    camera.start(guidance=False, qr=True)
    camera.wait_for_frame()
    time.sleep(1.0)
    assert posted.drain() == []


def test_codes_are_not_read_unless_asked(camera: FileCamera, posted: Posted) -> None:
    camera.show(qr_frame(APPLICATION_ID))
    camera.start(guidance=True, qr=False)
    posted.wait_for(PhotoGuidance)
    time.sleep(0.5)
    assert posted.of(CodeScanned) == []


def test_a_new_use_reads_the_same_code_again(camera: FileCamera, posted: Posted) -> None:
    camera.show(qr_frame(APPLICATION_ID))
    camera.start(guidance=False, qr=True)
    posted.wait_for(CodeScanned)
    camera.stop()
    camera.start(guidance=False, qr=True)
    deadline = time.monotonic() + 10
    while len(posted.of(CodeScanned)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(posted.of(CodeScanned)) == 2


def test_codes_never_reach_the_log(camera: FileCamera, posted: Posted, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    camera.show(qr_frame(APPLICATION_ID))
    camera.start(guidance=True, qr=True)
    posted.wait_for(CodeScanned)
    ticket = camera.capture()
    posted.wait_for(CameraResult, lambda e: isinstance(e, CameraResult) and e.ticket == ticket)
    camera.stop()
    assert APPLICATION_ID not in caplog.text


# --- OpenCVCamera through cv2.VideoCapture ------------------------------------------------------------------


def write_video(path: Path, frames: list[np.ndarray], *, fps: float = 15.0, repeat: int = 5) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), "OpenCV could not write an MJPG .avi"
    for picture in frames:
        bgr = cv2.cvtColor(picture, cv2.COLOR_RGB2BGR)
        for _ in range(repeat):
            writer.write(bgr)
    writer.release()
    return path


@pytest.fixture(scope="module")
def face_video(tmp_path_factory: pytest.TempPathFactory, good: np.ndarray) -> Path:
    return write_video(tmp_path_factory.mktemp("camera") / "face.avi", [good])


@pytest.fixture(scope="module")
def qr_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_video(tmp_path_factory.mktemp("camera") / "qr.avi",
                       [FRAME_VARIANTS["no_face"][0](), qr_frame(APPLICATION_ID)], repeat=8)


def test_opencv_camera_on_a_video_file(posted: Posted, face_video: Path) -> None:
    cam = OpenCVCamera(posted, device=str(face_video), fps=20, guidance_hz=10)
    cam.start(guidance=True, qr=True)
    try:
        frame = cam.wait_for_frame()
        assert frame is not None and (frame.width, frame.height) == (1920, 1080)
        posted.wait_for(PhotoGuidance, ready)
        ticket = cam.capture()
        result = posted.wait_for(CameraResult, lambda e: isinstance(e, CameraResult) and e.ticket == ticket)
        assert isinstance(result, CameraResult) and result.result.passed
        validate_photo(result.result.jpeg, content=True)
        result.result.wipe()
        time.sleep(0.5)  # 5 frames at 20 frames/s: the file has ended and plays again
        latest = cam.latest()
        assert latest is not None and latest.seq > 10
    finally:
        cam.stop()
    assert camera_threads() == []
    assert posted.of(CodeScanned) == []


def test_opencv_camera_reads_a_code_once(posted: Posted, qr_video: Path) -> None:
    cam = OpenCVCamera(posted, device=str(qr_video), fps=30, guidance_hz=15)
    cam.start(guidance=False, qr=True)
    try:
        event = posted.wait_for(CodeScanned)
        time.sleep(1.5)  # the video loops: the code comes back several times
    finally:
        cam.stop()
    assert isinstance(event, CodeScanned) and event.text == APPLICATION_ID
    assert len(posted.of(CodeScanned)) == 1


def test_a_camera_that_is_not_there(posted: Posted, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    cam = OpenCVCamera(posted, device=MISSING_DEVICE, open_timeout=0.5)
    cam.start(guidance=True, qr=False)  # returns at once: the device is opened on the camera's thread
    try:
        event = posted.wait_for(PhotoGuidance)
        assert isinstance(event, PhotoGuidance) and event.guidance.problems == (CAMERA_PROBLEM,)
        assert isinstance(cam.error, CameraUnavailable)
        assert f"/dev/video{MISSING_DEVICE}" in cam.error.message
        ticket = cam.capture()
        result = posted.wait_for(CameraResult)
        assert isinstance(result, CameraResult) and result.ticket == ticket
        assert result.result.problems == (CAMERA_PROBLEM,)
    finally:
        cam.stop()
    assert camera_threads() == []
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None  # one line for the operator, no traceback


def test_devices_as_configured(posted: Posted) -> None:
    """kiosk.toml gives camera.device as text: "0" is /dev/video0, a /dev path is a device (not a file)."""
    assert OpenCVCamera(posted, device="3").device == 3
    by_id = OpenCVCamera(posted, device="/dev/v4l/by-id/no-such-camera", open_timeout=0.2)
    by_id.start(guidance=False, qr=False)
    try:
        deadline = time.monotonic() + 5
        while by_id.error is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert by_id.error is not None and "/dev/v4l/by-id/no-such-camera" in by_id.error.message
    finally:
        by_id.stop()


def test_a_missing_recording_is_refused_at_start(posted: Posted, tmp_path: Path) -> None:
    with pytest.raises(CameraUnavailable, match="does not exist"):
        OpenCVCamera(posted, device=str(tmp_path / "none.avi")).start(guidance=False, qr=False)


def test_probe_camera(face_video: Path) -> None:
    missing = probe_camera(MISSING_DEVICE, timeout=0.5)
    assert not missing.ok and "No camera" in missing.message
    found = probe_camera(str(face_video))
    assert found.ok and (found.width, found.height) == (1920, 1080)


def test_probe_camera_refuses_a_camera_too_small_for_photos(tmp_path: Path) -> None:
    small = write_video(tmp_path / "small.avi", [np.full((480, 640, 3), 200, np.uint8)], repeat=2)
    probe = probe_camera(str(small))
    assert not probe.ok and "640 x 480" in probe.message


# --- the final check as a function ------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in FRAME_VARIANTS if n != "good"])
def test_final_check_refuses_each_failure(name: str) -> None:
    make, check = FRAME_VARIANTS[name]
    result = final_check(make())
    assert [p.check for p in result.problems] == [check] and result.jpeg is None
    assert result.problems[0].fix_key == f"photo.fix.{check}"
