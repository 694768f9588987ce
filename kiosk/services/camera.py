"""The kiosk camera: preview frames, live photo guidance, the form's QR code, and the checked photo.

Why it is shaped like this (``kiosk.core.ports.Camera`` is the interface the flows use):

* **Two threads per use, nothing on the caller's.** ``start`` opens nothing itself: a capture thread opens
  the device, reads frames as fast as the camera delivers them and keeps only the latest (older frames are
  dropped, never queued); a checks thread runs the live checks and the QR decoder on the latest frame at a
  bounded rate (``guidance_hz``), and the final check of ``capture``. Results go out through ``post``
  (the UI's dispatcher: safe from any thread). ``stop`` joins both: no thread is left behind, and the
  device is released between uses (the camera's light goes off).
* **One rule set.** Live guidance is ``contract.photo.inspect_frame``; the photo is the crop it proposes,
  encoded as JPEG and judged by ``contract.photo.check_photo`` — the same function, on the same bytes, the
  server's rules come from. The resident gets the JPEG only when every check passed.
* **Personal data.** Frames and photos are faces: never logged, never written anywhere; the photo lives in
  the ``PhotoResult`` the flow wipes, and the service zeroes the pixel buffers it owns when it is done with
  them (the last frame at ``stop``, the crop after encoding). QR texts (a 申請書ID) are posted, never logged.
* **A camera that cannot be opened** is ``CameraUnavailable`` with a sentence for the operator: logged as one
  line (no traceback), kept in ``error``, and shown to the flow as a ``camera`` problem in the guidance and
  in any photo asked for. A camera that stops delivering is reopened every ``REOPEN_SECONDS`` while in use.
  ``probe_camera`` is the same opening for ``kiosk doctor``.

``FileCamera`` plays pictures instead of a device (demo mode and tests) with exactly the same checks; by
default it plays synthetic demo residents drawn at run time (``kiosk.defaults.camera``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import zxingcpp

from contract import photo as rules
from kiosk.core.events import CameraResult, CodeScanned, Event, PhotoGuidance
from kiosk.core.ports import Frame, LiveGuidance, PhotoProblem, PhotoResult, TicketCounter

LOG = logging.getLogger(__name__)

GUIDANCE_HZ = 5.0  # live checks per second at most (each ~20–30 ms at 1080p: see benchmarks/photo_bench.py)
CAPTURE_WAIT = 3.0  # a photo asked for before the first frame waits this long for one
MAX_READ_FAILURES = 15  # consecutive failed reads before the camera counts as lost (~0.5 s at 30 frames/s)
REOPEN_SECONDS = 2.0
CAMERA_PROBLEM = PhotoProblem("camera", "photo.fix.camera")

Picture = str | Path | np.ndarray


class CameraUnavailable(Exception):
    """The camera could not be opened or stopped delivering; ``message`` tells an operator what to do."""

    code = "camera_unavailable"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- the checks, as functions (also used by the benchmark) -----------------------------------------------


def _problems(found: tuple[rules.Problem, ...]) -> tuple[PhotoProblem, ...]:
    return tuple(PhotoProblem(p.check, p.fix_key) for p in found)


def live_guidance(rgb: np.ndarray, seq: int = 0) -> LiveGuidance:
    """What the preview says about one frame (``contract.photo.inspect_frame``)."""
    report = rules.inspect_frame(rgb)
    face = report.face.fractions(report.width, report.height) if report.face is not None else None
    return LiveGuidance(seq=seq, face=face, problems=_problems(report.problems))


def final_check(rgb: np.ndarray) -> PhotoResult:
    """The photo from one frame: the live checks, the 3.5:4.5 crop around the face, a JPEG inside 20 KB–7 MB,
    then every rule on those JPEG bytes. The JPEG is handed out only when all passed."""
    report = rules.inspect_frame(rgb)
    crop = rules.portrait_crop(rgb, report) if report.passed else None
    if crop is None:
        return PhotoResult(problems=_problems(report.problems) or (PhotoProblem("centred", "photo.fix.centred"),))
    try:
        jpeg = rules.encode_jpeg(crop)
    finally:
        crop.fill(0)
    verdict = rules.check_photo(jpeg)
    if not verdict.passed or verdict.info is None:
        return PhotoResult(problems=_problems(verdict.problems))
    return PhotoResult(problems=(), jpeg=jpeg, width=verdict.info.width, height=verdict.info.height)


def decode_qr(grey: np.ndarray) -> list[str]:
    """The texts of the QR codes in a greyscale picture (zxing-cpp; rotation and small codes are fine)."""
    return [r.text for r in zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormat.QRCode) if r.valid]


# --- the shared machinery -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Shot:
    ticket: int
    rgb: np.ndarray | None  # the latest frame when the photo was asked for (None: none yet)
    asked_at: float


class _Camera:
    """Threads, latest frame, guidance, QR and capture; subclasses say where frames come from."""

    name = "camera"

    def __init__(self, post: Callable[[Event], None], *, guidance_hz: float = GUIDANCE_HZ,
                 tickets: Callable[[], int] | None = None) -> None:
        if guidance_hz <= 0:
            raise ValueError("guidance_hz must be positive")
        self._post_event = post
        self._interval = 1.0 / guidance_hz
        self._tickets = tickets or TicketCounter()
        self._cond = threading.Condition()  # guards everything below; capture and checks threads wait on it
        self._running = False
        self._stopping = False
        self._guidance = False
        self._qr = False
        self._rgb: np.ndarray | None = None
        self._frame: Frame | None = None
        self._seq = 0
        self._shots: deque[_Shot] = deque()
        self._seen_codes: set[str] = set()
        self._error: CameraUnavailable | None = None
        self._threads: list[threading.Thread] = []

    # --- the Camera protocol --------------------------------------------------------------------------

    def start(self, *, guidance: bool, qr: bool) -> None:
        """Begin a use (or change what a running one does); returns at once, the device opens on its thread."""
        with self._cond:
            self._guidance, self._qr = guidance, qr
            if self._running:
                self._cond.notify_all()
                return
            self._check_source()
            self._running, self._stopping = True, False
            self._seen_codes.clear()
            self._error = None
            self._threads = [
                threading.Thread(target=self._capture_loop, name=f"{self.name}-capture", daemon=True),
                threading.Thread(target=self._checks_loop, name=f"{self.name}-checks", daemon=True),
            ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End the use: join both threads, release the device, forget (and zero) the last frame. A photo
        still being waited for is answered with the ``camera`` problem (no picture)."""
        with self._cond:
            if not self._running:
                return
            self._stopping = True
            self._cond.notify_all()
            threads = self._threads
        for thread in threads:
            thread.join(timeout)
            if thread.is_alive():
                raise RuntimeError(f"the {thread.name} thread did not stop")
        with self._cond:
            shots = list(self._shots)
            self._shots.clear()
            if self._rgb is not None:
                self._rgb.fill(0)
            self._rgb, self._frame = None, None
            self._running = False
            self._threads = []
        for shot in shots:
            self._post(CameraResult(shot.ticket, PhotoResult(problems=(CAMERA_PROBLEM,))))

    def latest(self) -> Frame | None:
        with self._cond:
            return self._frame

    def capture(self) -> int:
        """Take the photo from the latest frame; the answer comes later as ``CameraResult``."""
        ticket = self._tickets()
        with self._cond:
            if self._running and not self._stopping:
                self._shots.append(_Shot(ticket, self._rgb, time.monotonic()))
                self._cond.notify_all()
                return ticket
        self._post(CameraResult(ticket, PhotoResult(problems=(CAMERA_PROBLEM,))))
        return ticket

    # --- extras ---------------------------------------------------------------------------------------

    @property
    def error(self) -> CameraUnavailable | None:
        """Why the camera is not delivering, when it is not."""
        return self._error

    @property
    def running(self) -> bool:
        return self._running

    def wait_for_frame(self, timeout: float = 5.0) -> Frame | None:
        """Block until a frame is there (tests, CLI tools; never the UI thread)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._frame is None and self._error is None and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            return self._frame

    def __enter__(self) -> _Camera:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what subclasses provide (called on the capture thread only) ------------------------------------

    def _check_source(self) -> None:
        """Cheap checks before any thread starts (raise CameraUnavailable)."""

    def _open(self) -> None:
        raise NotImplementedError

    def _read(self) -> np.ndarray | None:
        """The next RGB frame, or None when none came (a failed read)."""
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    # --- the capture thread -------------------------------------------------------------------------------

    def _capture_loop(self) -> None:
        opened = False
        try:
            while not self._stopping:
                if not opened:
                    opened = self._try_open()
                    if not opened:
                        self._sleep(REOPEN_SECONDS)
                        continue
                failures = 0
                while not self._stopping and failures < MAX_READ_FAILURES:
                    rgb = self._read()
                    if rgb is None:
                        failures += 1
                        continue
                    failures = 0
                    self._publish(rgb)
                if not self._stopping:
                    self._lost(CameraUnavailable(
                        f"The {self.name} stopped delivering pictures. Check its cable; it is reopened "
                        f"every {REOPEN_SECONDS:.0f} s."))
                    self._close()
                    opened = False
        finally:
            if opened:
                self._close()

    def _try_open(self) -> bool:
        try:
            self._open()
        except CameraUnavailable as exc:
            self._lost(exc)
            return False
        with self._cond:
            self._error = None
        return True

    def _lost(self, exc: CameraUnavailable) -> None:
        with self._cond:
            first = self._error is None
            self._error = exc
            self._cond.notify_all()
        if first:
            LOG.error("%s", exc.message)  # one line for the operator, no traceback
            if self._guidance:
                self._post(PhotoGuidance(LiveGuidance(seq=self._seq, face=None, problems=(CAMERA_PROBLEM,))))

    def _publish(self, rgb: np.ndarray) -> None:
        height, width = rgb.shape[:2]
        with self._cond:
            self._seq += 1
            self._rgb = rgb
            self._frame = Frame(width=width, height=height, rgb=rgb.tobytes(), seq=self._seq,
                                captured_at=time.monotonic())
            self._cond.notify_all()

    def _sleep(self, seconds: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: self._stopping, seconds)

    # --- the checks thread --------------------------------------------------------------------------------

    def _checks_loop(self) -> None:
        analysed = 0
        due = 0.0
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    now = time.monotonic()
                    if self._shots and (self._shots[0].rgb is not None or self._rgb is not None
                                        or self._error is not None or now - self._shots[0].asked_at > CAPTURE_WAIT):
                        shot = self._shots.popleft()
                        rgb = shot.rgb if shot.rgb is not None else self._rgb
                        job: tuple[str, Any] = ("shot", (shot.ticket, rgb))
                        break
                    live = (self._guidance or self._qr) and self._rgb is not None and self._seq != analysed
                    if live and now >= due:
                        job = ("live", (self._seq, self._rgb, self._guidance, self._qr))
                        analysed, due = self._seq, now + self._interval
                        break
                    wait = due - now if live else (0.1 if self._shots else None)
                    self._cond.wait(wait)
            try:
                if job[0] == "shot":
                    self._take(*job[1])
                else:
                    self._look(*job[1])
            except Exception as exc:  # a bug in a check must not end the camera (nor leak the picture)
                LOG.error("camera check failed: %s", type(exc).__name__)
                if job[0] == "shot":
                    self._post(CameraResult(job[1][0], PhotoResult(problems=(CAMERA_PROBLEM,))))

    def _take(self, ticket: int, rgb: np.ndarray | None) -> None:
        result = PhotoResult(problems=(CAMERA_PROBLEM,)) if rgb is None else final_check(rgb)
        LOG.info("photo %d checked: %s", ticket, [p.check for p in result.problems] or "passed")
        self._post(CameraResult(ticket, result))

    def _look(self, seq: int, rgb: np.ndarray, guidance: bool, qr: bool) -> None:
        if guidance:
            self._post(PhotoGuidance(live_guidance(rgb, seq)))
        if qr:
            for text in decode_qr(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)):
                with self._cond:
                    new = text not in self._seen_codes
                    self._seen_codes.add(text)
                if new:
                    self._post(CodeScanned(text, "qr"))

    def _post(self, event: Event) -> None:
        try:
            self._post_event(event)
        except Exception:
            LOG.exception("posting %s failed", type(event).__name__)


# --- a real camera ------------------------------------------------------------------------------------------


class OpenCVCamera(_Camera):
    """A camera through ``cv2.VideoCapture``. ``device``: a number or "0", "1"… (``/dev/videoN``), a device
    path (``/dev/v4l/by-id/…``), a stream URL, or — for tests and recorded sessions — a video file, which is
    played at ``fps`` and from the start again at its end."""

    def __init__(self, post: Callable[[Event], None], *, device: int | str = 0, width: int = 1920,
                 height: int = 1080, fps: float = 30.0, fourcc: str | None = "MJPG", backend: int | None = None,
                 open_timeout: float = 5.0, guidance_hz: float = GUIDANCE_HZ,
                 tickets: Callable[[], int] | None = None) -> None:
        super().__init__(post, guidance_hz=guidance_hz, tickets=tickets)
        self.device = _device(device)
        self.width, self.height, self.fps = width, height, fps
        self.fourcc, self.backend, self.open_timeout = fourcc, backend, open_timeout
        self._capture: Any = None
        self._next_frame = 0.0

    @property
    def _is_file(self) -> bool:
        return _is_recording(self.device)

    def _check_source(self) -> None:
        if self._is_file and not Path(str(self.device)).is_file():
            raise CameraUnavailable(f"The camera recording {self.device} does not exist.")

    def _open(self) -> None:
        self._capture = open_capture(self.device, width=self.width, height=self.height, fps=self.fps,
                                     fourcc=self.fourcc, backend=self.backend, timeout=self.open_timeout)
        self._next_frame = time.monotonic()

    def _read(self) -> np.ndarray | None:
        if self._is_file:  # a file reads as fast as it decodes: play it at the camera's pace instead
            delay = self._next_frame - time.monotonic()
            if delay > 0:
                self._sleep(delay)
            self._next_frame = max(self._next_frame + 1.0 / self.fps, time.monotonic() - 1.0)
        ok, bgr = self._capture.read()
        if not ok and self._is_file:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, bgr = self._capture.read()
        if not ok or bgr is None:
            return None
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def _close(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()


def open_capture(device: int | str, *, width: int = 1920, height: int = 1080, fps: float = 30.0,
                 fourcc: str | None = "MJPG", backend: int | None = None, timeout: float = 5.0) -> Any:
    """An open ``cv2.VideoCapture`` that has delivered a first frame, or ``CameraUnavailable``.

    MJPG is asked for first because most USB cameras give 1080p at 30 frames/s only compressed (raw YUYV
    1080p is ~5 frames/s on USB 2); a one-frame buffer keeps the preview current instead of queued."""
    device = _device(device)
    is_file = _is_recording(device)
    if backend is None:
        local = isinstance(device, int) or str(device).startswith("/dev/")
        backend = cv2.CAP_V4L2 if local and hasattr(cv2, "CAP_V4L2") else cv2.CAP_ANY
    capture = cv2.VideoCapture(device, backend)
    if not capture.isOpened():
        capture.release()
        raise CameraUnavailable(_cannot_open(device))
    if not is_file:
        if fourcc:
            capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*fourcc))
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        capture.set(cv2.CAP_PROP_FPS, fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    deadline = time.monotonic() + timeout
    while True:
        ok, _frame = capture.read()
        if ok:
            if is_file:
                capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            return capture
        if time.monotonic() >= deadline:
            capture.release()
            raise CameraUnavailable(
                f"The camera {device!r} opened but sent no picture within {timeout:.0f} s. Is another program "
                "using it? Unplug it and plug it in again.")
        time.sleep(0.05)


def _device(device: int | str) -> int | str:
    """"0", "1"… are device numbers; anything else is a path or URL as given."""
    return int(device) if isinstance(device, str) and device.strip().isdigit() else device


def _is_recording(device: int | str) -> bool:
    """A video file (played at the camera's pace, looped), not a device or a stream."""
    return isinstance(device, str) and "://" not in device and not device.startswith("/dev/")


def _cannot_open(device: int | str) -> str:
    if isinstance(device, int) or device.startswith("/dev/"):
        node = f"/dev/video{device}" if isinstance(device, int) else device
        if not Path(node).exists():
            return (f"No camera at {node}. Plug the camera in (USB), or set camera.device in kiosk.toml "
                    "(ls /dev/video* lists the cameras).")
        return (f"The camera {node} could not be opened. Is another program using it? Is this user in the "
                "'video' group?")
    return f"The camera source {device} could not be opened."


@dataclass(frozen=True, slots=True)
class CameraProbe:
    """``probe_camera``'s answer for ``kiosk doctor``: ``ok`` and a sentence either way."""

    ok: bool
    message: str
    width: int = 0
    height: int = 0
    fps: float = 0.0


def probe_camera(device: int | str = 0, *, width: int = 1920, height: int = 1080, timeout: float = 5.0,
                 backend: int | None = None) -> CameraProbe:
    """Open the camera, read one frame, close it. Never raises; the picture is not kept."""
    try:
        capture = open_capture(device, width=width, height=height, backend=backend, timeout=timeout)
    except CameraUnavailable as exc:
        return CameraProbe(False, exc.message)
    try:
        got_w = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        got_h = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    finally:
        capture.release()
    # the tallest crop a frame allows (head at the top of FRAME_HEAD_RANGE) must be MIN_SIDE wide
    tallest_crop = rules.FRAME_HEAD_RANGE[1] * rules.PHOTO_HEIGHT_MM / rules.TARGET_HEAD_MM
    needed = rules.MIN_SIDE / float(rules.PORTRAIT_RATIO) / tallest_crop
    if got_h < needed:
        return CameraProbe(False, f"The camera gives {got_w} x {got_h}; photos need at least {needed:.0f} pixels "
                                  "of height (1920 x 1080 recommended).", got_w, got_h, fps)
    return CameraProbe(True, f"camera {device!r}: {got_w} x {got_h} at {fps:.0f} frames/s", got_w, got_h, fps)


# --- pictures instead of a camera ------------------------------------------------------------------------


class FileCamera(_Camera):
    """Plays pictures (files, folders of them, or RGB arrays) as a camera at ``fps``, each for ``hold``
    seconds, in a loop (or staying on the last one).

    No pictures given: the synthetic demo residents of ``kiosk.defaults.camera``. ``show(picture)`` puts one
    picture on screen until the next ``show`` (``show(None)`` resumes the list): how a test or a training
    session puts a specific face in front of the kiosk."""

    name = "file camera"

    def __init__(self, post: Callable[[Event], None], paths: Sequence[Picture] | None = None, *,
                 fps: float = 15.0, hold: float = 3.0, loop: bool | None = None, guidance_hz: float = GUIDANCE_HZ,
                 tickets: Callable[[], int] | None = None) -> None:
        super().__init__(post, guidance_hz=guidance_hz, tickets=tickets)
        if fps <= 0:
            raise ValueError("fps must be positive")
        self._sources = None if paths is None else _expand(paths)
        # given pictures loop; the demo residents end on the one in place (so a photo taken then passes)
        self._fps, self._hold = fps, hold
        self._loop = loop if loop is not None else paths is not None
        self._pictures: list[np.ndarray] = []
        self._shown: np.ndarray | None = None
        self._started_at = 0.0
        self._next_frame = 0.0

    def show(self, picture: Picture | None) -> None:
        """Show this picture (a path or an RGB array) from the next frame on; None: back to the list."""
        loaded = None if picture is None else _load(picture)
        with self._cond:
            self._shown = loaded

    def _check_source(self) -> None:
        if self._sources == []:
            raise CameraUnavailable("The demo camera has no pictures to play (camera.files is empty).")
        for source in self._sources or ():
            if not isinstance(source, np.ndarray) and not Path(source).is_file():
                raise CameraUnavailable(f"The demo camera picture {source} does not exist.")

    def _open(self) -> None:
        if self._sources is None:
            from kiosk.defaults.camera import demo_pictures

            self._pictures = list(demo_pictures())
        else:
            try:
                self._pictures = [_load(source) for source in self._sources]
            except ValueError as exc:
                raise CameraUnavailable(str(exc)) from exc
        self._started_at = self._next_frame = time.monotonic()

    def _read(self) -> np.ndarray | None:
        delay = self._next_frame - time.monotonic()
        if delay > 0:
            self._sleep(delay)
        self._next_frame = max(self._next_frame + 1.0 / self._fps, time.monotonic() - 1.0)
        with self._cond:
            shown = self._shown
        if shown is not None:
            return shown.copy()
        if not self._pictures:
            return None
        index = int((time.monotonic() - self._started_at) / self._hold) if self._hold > 0 else 0
        index = index % len(self._pictures) if self._loop else min(index, len(self._pictures) - 1)
        return self._pictures[index].copy()  # a copy per frame: the last one is zeroed at stop

    def _close(self) -> None:
        for picture in self._pictures:
            picture.fill(0)
        self._pictures = []


PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def _expand(paths: Sequence[Picture]) -> list[Picture]:
    """Folders become the pictures in them (sorted by name); files and arrays stay as they are."""
    expanded: list[Picture] = []
    for source in paths:
        if not isinstance(source, np.ndarray) and Path(source).is_dir():
            expanded += sorted(p for p in Path(source).iterdir() if p.suffix.lower() in PICTURE_SUFFIXES)
        else:
            expanded.append(source)
    return expanded


def _load(picture: Picture) -> np.ndarray:
    if isinstance(picture, np.ndarray):
        if picture.ndim != 3 or picture.shape[2] != 3 or picture.dtype != np.uint8:
            raise ValueError("a picture must be RGB uint8, height x width x 3")
        return picture.copy()
    bgr = cv2.imread(str(picture), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"The picture {picture} could not be read.")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


__all__ = ["CAMERA_PROBLEM", "CameraProbe", "CameraUnavailable", "FileCamera", "OpenCVCamera", "decode_qr",
           "final_check", "live_guidance", "open_capture", "probe_camera"]
