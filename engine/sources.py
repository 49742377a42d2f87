"""Open a video source from one string: a file, a camera, a stream URL, an image folder or the demo.

Every source reads its first frame before `open_source` returns, so a bad source fails at once with
a clear one-line error instead of an empty window later.
"""

from __future__ import annotations

import logging
import re
import sys
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from engine.errors import SourceError, SourceInvalidError
from engine.native import quiet_opencv
from engine.results import SourceInfo

log = logging.getLogger(__name__)
quiet_opencv()  # FFmpeg/V4L2 failure chatter off through their log levels; our error is one line

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff"}
FOLDER_FPS = 25.0
LIVE_DEFAULT_FPS = 30.0
OFF_GRID = 0.3  # a time stamp this far (in frames) from the nominal grid marks a variable-rate file
_URL = re.compile(r"^(rtsp|rtsps|rtmp|http|https|udp|tcp|srt)://", re.IGNORECASE)


class FrameSource(ABC):
    """A source of BGR frames with stable indices."""

    info: SourceInfo
    corrupt_frames: int = 0  # frames that could not be decoded and were skipped

    @abstractmethod
    def read(self) -> tuple[int, float, np.ndarray] | None:
        """The next (index, pts seconds, BGR image), or None at the end of the source."""

    def seek(self, index: int) -> None:
        """Position so that the next read returns frame `index` (files and folders only)."""
        raise SourceError(f"{self.info.name}: seeking is not possible on a live source")

    def reopen(self) -> None:
        """Reconnect a live source after a drop-out; raises SourceError while it is unavailable."""
        raise SourceError(f"{self.info.name}: cannot be reopened")

    @property
    def ended_early(self) -> bool:
        """True when a file stopped before its declared frame count (truncated)."""
        return False

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the underlying file or device."""


class VideoFileSource(FrameSource):
    """A video file decoded by FFmpeg through PyAV: frame-exact seeking, corrupt packets skipped."""

    def __init__(self, path: str | Path, decoder_threads: int = 1):
        self.path = Path(path)
        if not self.path.exists():
            raise SourceError(f"video file not found: {self.path}")
        if self.path.is_dir():
            raise SourceError(f"not a video file (a folder): {self.path}")
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
            raise SourceInvalidError(f"not a readable video: {self.path} ({_reason(exc)})") from None
        if not self._container.streams.video:
            self._container.close()
            raise SourceInvalidError(f"not a video: {self.path} has no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._stream.codec_context.thread_count = decoder_threads  # 0: FFmpeg's choice (one per core + 1)
        rate = self._stream.average_rate or self._stream.guessed_rate
        fps = self._fps = float(rate) if rate else LIVE_DEFAULT_FPS
        self._time_base = float(self._stream.time_base or 1 / 90000)
        self._start_pts = self._stream.start_time or 0
        self._declared = self._stream.frames or None
        self._last_index = -1
        self._skipped_since_good = 0
        self._variable_rate = False
        self._frames = self._decode()
        self._pending: tuple[int, float, np.ndarray] | None = None
        self._pending = self.read()
        if self._pending is None:
            raise SourceInvalidError(f"not a readable video: {self.path} has no decodable frame")
        height, width = self._pending[2].shape[:2]
        count = self._declared or _estimate_count(self._container, self._stream, fps)
        self.info = SourceInfo(self.path.name, "file", width, height, fps, count)

    def _seconds_of(self, frame: av.VideoFrame) -> float | None:
        return None if frame.pts is None else (frame.pts - self._start_pts) * self._time_base

    def _index_of(self, seconds: float | None) -> int:
        """Frame index: from the time stamp on a constant-rate file (a lost frame leaves a gap, so
        indices keep matching the file's frames), else the next number.

        Why the switch: a variable-rate file (phone or screen recording) has time stamps off the
        nominal grid; read as a grid they made false "corrupt" frames and re-timed the video.
        """
        if seconds is None:
            return self._last_index + 1
        exact = seconds * self._fps
        if self._variable_rate:  # after a seek (no last index) the time stamp is the best guess
            return self._last_index + 1 if self._last_index >= 0 else max(0, int(round(exact)))
        if abs(exact - round(exact)) > OFF_GRID:
            self._variable_rate = True
            return self._last_index + 1
        return max(0, int(round(exact)))

    def _decode(self) -> Iterator[av.VideoFrame]:
        try:
            for packet in self._container.demux(self._stream):
                try:
                    yield from packet.decode()
                except av.error.InvalidDataError:
                    self._skip()
        except av.error.FFmpegError:
            self._skip()  # unreadable tail: treated as the end

    def _skip(self) -> None:
        """Count a frame the decoder rejected (and remember it, so the index gap is not counted again)."""
        self.corrupt_frames += 1
        self._skipped_since_good += 1

    def read(self) -> tuple[int, float, np.ndarray] | None:
        if self._pending is not None:
            item, self._pending = self._pending, None
            return item
        for frame in self._frames:
            if frame.is_corrupt:
                self._skip()
                continue
            seconds = self._seconds_of(frame)
            index = self._index_of(seconds)
            if index <= self._last_index:
                index = self._last_index + 1  # keep indices increasing, whatever the time stamps do
            elif self._last_index >= 0:  # frames lost to damaged data without a decoder error
                lost = index - self._last_index - 1 - self._skipped_since_good
                self.corrupt_frames += max(0, lost)
            self._skipped_since_good = 0
            self._last_index = index
            pts = seconds if seconds is not None and self._variable_rate else index / self._fps
            # FFmpeg's own conversion, deliberately: OpenCV's is 0.7 ms cheaper at 1080p and nearer the
            # BT.601 formula, but the model's masks flipped on borderline frames with that 1-level shift
            # (docs/benchmarks.md); what is analysed stays what it was
            return index, pts, frame.to_ndarray(format="bgr24")
        return None

    def seek(self, index: int) -> None:
        """Frame-exact: land on a keyframe at or before `index`, then decode forward to it.

        FFmpeg's backward seek can land *after* the wanted frame (B-frame delays and edit lists
        shift presentation against decode times, and an encoder's scene-cut keyframes sit in
        between): when the first frame decoded is already past `index`, seek again from further back.
        """
        index = max(0, index)
        back_s = 0.0
        while True:
            seconds = max(0.0, index / self._fps - back_s)
            self._container.seek(self._start_pts + int(seconds / self._time_base), stream=self._stream,
                                 backward=True, any_frame=False)
            self._frames = self._decode()
            self._pending = None
            self._last_index = -1
            self._skipped_since_good = 0
            first = self.read()
            if first is None or first[0] <= index or seconds == 0.0:
                break
            back_s = 2.0 * back_s if back_s else 1.0
        item = first
        while item is not None:
            if item[0] >= index:
                self._pending = item
                self._last_index = item[0] - 1
                return
            item = self.read()

    @property
    def ended_early(self) -> bool:
        """Fewer frames than the container declares (or its duration implies, within 2%)."""
        expected = self.info.frame_count
        if not expected:
            return False
        slack = 0 if self._declared else max(2, round(expected * 0.02))
        return self._last_index + 1 < expected - slack

    def close(self) -> None:
        self._container.close()


@dataclass(frozen=True)
class CameraFormat:
    """What to ask a camera for (0 / "" = leave the driver's default); see config.yaml capture.camera_*."""

    width: int = 0
    height: int = 0
    fps: float = 0.0
    fourcc: str = ""
    buffer: int = 0

    @classmethod
    def of(cls, capture_config: Any) -> CameraFormat:
        c = capture_config
        return cls(c.camera_width, c.camera_height, c.camera_fps, c.camera_fourcc, c.camera_buffer)


class CaptureDeviceSource(FrameSource):
    """A camera (index or device path) or a network stream, read through OpenCV."""

    def __init__(self, spec: str, kind: str, camera: CameraFormat = CameraFormat()):
        self.spec, self.kind, self.camera = spec, kind, camera
        self.delivered: dict[str, float | str] = {}
        self._capture = self._open()
        first = self._read_first()
        self._pending: np.ndarray | None = first
        self._count = 0
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        fps = fps if 1.0 <= fps <= 240.0 else LIVE_DEFAULT_FPS
        self.info = SourceInfo(spec, kind, first.shape[1], first.shape[0], fps, None)

    def _open(self) -> cv2.VideoCapture:
        if self.kind == "camera":
            target: int | str = int(self.spec) if self.spec.isdigit() else self.spec
            capture = cv2.VideoCapture(target)
            what = f"camera {self.spec}"
            if capture.isOpened():
                self._apply_format(capture)
        else:
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 5000, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 5000]
            capture = cv2.VideoCapture(self.spec, cv2.CAP_FFMPEG, params)
            what = f"stream {self.spec}"
        if not capture.isOpened():
            capture.release()
            raise SourceError(f"{what} is not available (not connected, or no permission)")
        return capture

    def _apply_format(self, capture: cv2.VideoCapture) -> None:
        """Ask for the configured format (the fourcc first: drivers pick sizes per format), read it back."""
        cam = self.camera
        if cam.fourcc:
            capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*cam.fourcc))
        if cam.width and cam.height:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, cam.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, cam.height)
        if cam.fps:
            capture.set(cv2.CAP_PROP_FPS, cam.fps)
        if cam.buffer:
            capture.set(cv2.CAP_PROP_BUFFERSIZE, cam.buffer)
        code = int(capture.get(cv2.CAP_PROP_FOURCC))
        self.delivered = {
            "width": capture.get(cv2.CAP_PROP_FRAME_WIDTH), "height": capture.get(cv2.CAP_PROP_FRAME_HEIGHT),
            "fps": capture.get(cv2.CAP_PROP_FPS),
            "fourcc": "".join(chr((code >> 8 * i) & 0xFF) for i in range(4)) if code > 0 else "",
        }
        asked = (cam.width, cam.height) if cam.width and cam.height else None
        got = (int(self.delivered["width"]), int(self.delivered["height"]))
        if asked and asked != got:
            log.warning("camera %s delivers %dx%d, not the %dx%d asked for", self.spec, *got, *asked)

    def _read_first(self) -> np.ndarray:
        ok, image = self._capture.read()
        if not ok or image is None:
            self._capture.release()
            raise SourceError(f"{self.kind} {self.spec} opened but delivers no frames")
        return image

    def read(self) -> tuple[int, float, np.ndarray] | None:
        if self._pending is not None:
            image, self._pending = self._pending, None
        else:
            ok, image = self._capture.read()
            if not ok or image is None:
                return None
        index = self._count
        self._count += 1
        return index, index / self.info.fps, image

    def reopen(self) -> None:
        self._capture.release()
        self._capture = self._open()
        self._pending = self._read_first()

    def close(self) -> None:
        self._capture.release()


class ImageFolderSource(FrameSource):
    """A folder of still images replayed in name order (natural sort: 2.jpg before 10.jpg)."""

    def __init__(self, folder: str | Path, fps: float = FOLDER_FPS):
        self.folder = Path(folder)
        self._fps = fps
        self._files = sorted(
            (p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key
        )
        if not self._files:
            kinds = ", ".join(sorted(IMAGE_SUFFIXES))
            raise SourceInvalidError(f"no images ({kinds}) in folder {self.folder}")
        self._next = 0
        first = self._load_at_or_after(0)
        if first is None:
            raise SourceInvalidError(f"no readable image in folder {self.folder}")
        self._size = (first[2].shape[1], first[2].shape[0])
        self._next = first[0]
        self.info = SourceInfo(self.folder.name, "folder", *self._size, fps, len(self._files))

    def _load_at_or_after(self, start: int) -> tuple[int, float, np.ndarray] | None:
        for index in range(start, len(self._files)):
            image = read_image(self._files[index])
            if image is not None:
                return index, index / self._fps, image
            self.corrupt_frames += 1
        return None

    def read(self) -> tuple[int, float, np.ndarray] | None:
        item = self._load_at_or_after(self._next)
        if item is None:
            self._next = len(self._files)
            return None
        index, pts, image = item
        self._next = index + 1
        if (image.shape[1], image.shape[0]) != self._size:
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        return index, pts, image

    def seek(self, index: int) -> None:
        self._next = min(max(0, index), len(self._files))


def read_image(path: Path) -> np.ndarray | None:
    """A BGR image, or None when unreadable or cut short.

    Why the JPEG check: libjpeg decodes a truncated file "successfully", filling the missing part
    with grey; analysed, that is a frame that never was. A complete JPEG ends with the EOI marker
    (FF D9), at most followed by a little padding.
    """
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if path.suffix.lower() in (".jpg", ".jpeg") and b"\xff\xd9" not in data[-1024:]:
        return None
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def open_source(spec: str | int, camera: CameraFormat = CameraFormat(), decoder_threads: int = 1) -> FrameSource:
    """Open a source from its description, reading the first frame so failures surface now.

    ``camera``: the format to ask a camera for (config.yaml capture.camera_*); ``decoder_threads``:
    FFmpeg's threads for a video file (config.yaml threads.decoder).
    """
    spec = str(spec).strip()
    if not spec:
        raise SourceError("no source given")
    if spec == "demo":
        from engine.demo import demo_clip_path

        return VideoFileSource(demo_clip_path(), decoder_threads)
    if _URL.match(spec):
        return CaptureDeviceSource(spec, "stream")
    if spec.isdigit() or spec.startswith("/dev/video"):
        return CaptureDeviceSource(spec, "camera", camera)
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageFolderSource(path)
    return VideoFileSource(path, decoder_threads)


def list_cameras(probe: int = 6) -> list[tuple[str, str]]:
    """(source spec, human name) of the video capture devices present.

    Linux names them through V4L2's sysfs entries; elsewhere (Windows, macOS) OpenCV is asked to
    open indices 0..probe-1 and those that open are listed by number.
    """
    nodes = sorted(Path("/sys/class/video4linux").glob("video*"), key=_natural_key)
    if nodes or sys.platform.startswith("linux"):
        cameras = []
        for node in nodes:
            name_file = node / "name"
            name = name_file.read_text().strip() if name_file.exists() else node.name
            cameras.append((f"/dev/{node.name}", name))
        return cameras
    found = []
    for index in range(probe):
        capture = cv2.VideoCapture(index)
        if capture.isOpened():
            found.append((str(index), f"Camera {index}"))
        capture.release()
    return found


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _estimate_count(container: av.container.InputContainer, stream: av.video.VideoStream, fps: float):
    duration = float(stream.duration * stream.time_base) if stream.duration else None
    if duration is None and container.duration:
        duration = container.duration / av.time_base
    return int(round(duration * fps)) if duration else None


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc).split(":")[0] or type(exc).__name__
