"""Write annotated clips as H.264 MP4 with PyAV, safe against a crash mid-recording.

The MP4 is fragmented (`frag_keyframe+empty_moov+default_base_moof`) with a keyframe every second,
so a recording cut off by a kill or power loss still plays up to its last complete second.
`atomic=True` writes under a temporary name (``name.part.mp4``) and gives the file its final name
when it is closed, also after an interruption or a write error (what was encoded is kept and
plays); only ``abort()`` (a cancelled export) deletes it. A live recording writes straight to its
final name. Frames carry their own time stamps (``write(image, time_s)``), so dropped frames and
a variable frame rate do not warp the recording's clock.
"""

from __future__ import annotations

import contextlib
import errno
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from engine.config import RecorderConfig
from engine.errors import RecorderError, UsageError

TIME_BASE = Fraction(1, 90000)  # the MPEG clock: exact for 24, 25, 30, 50, 60 and 29.97 fps
VIDEO_SUFFIXES = (".mp4", ".m4v")


def check_output_path(path: str | Path, source: str | Path | None = None) -> Path:
    """Refuse an output that cannot be right before any work is done (UsageError, exit code 2)."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise UsageError(f"output {path} is a folder; name the .mp4 file to write")
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise UsageError(f"output {path} must end in .mp4 (the recorder writes fragmented MP4)")
    if source is not None and Path(source).exists() and path.exists() and path.samefile(source):
        raise UsageError(f"output {path} is the input clip; choose another name")
    return path


def check_codec(codec: str = "libx264") -> None:
    """Fail early and clearly when the encoder is missing from this PyAV build."""
    try:
        av.Codec(codec, "w")
    except (av.error.FFmpegError, ValueError):
        raise RecorderError(f"video encoder '{codec}' is not available in this PyAV build") from None


class Recorder:
    """Encode BGR frames to an MP4 file at the source's fps and size."""

    def __init__(
        self, path: str | Path, width: int, height: int, fps: float,
        config: RecorderConfig | None = None, *, atomic: bool = False, threads: int = 1,
    ):
        config = config or RecorderConfig()
        check_codec(config.codec)
        self.path = Path(path)
        if self.path.is_dir():
            raise UsageError(f"cannot record to {self.path}: it is a folder")
        self.frames_written = 0
        self._last_pts = -1
        self._frame_ticks = 1 / (fps * TIME_BASE) if fps > 0 else 3600
        self._atomic = atomic
        partial = self.path.with_name(self.path.stem + ".part" + self.path.suffix)
        self._target = partial if atomic else self.path
        self._size = (width, height)
        # yuv420p needs even dimensions; an odd frame is padded by one black row/column.
        self._even = (width + width % 2, height + height % 2)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Our own unbuffered file, not a path: FFmpeg's file protocol drops some write errors (a
            # full disk mid-file went unnoticed), a Python file raises them through PyAV into write().
            # Opened now, so a bad folder fails before the first frame.
            self._file = open(self._target, "wb", buffering=0)  # noqa: SIM115 - closed in close/_abandon
            self._container = av.open(
                self._file, "w", format="mp4",
                options={"movflags": "frag_keyframe+empty_moov+default_base_moof"},
            )
        except (OSError, av.error.FFmpegError) as exc:
            raise RecorderError(f"cannot write {self.path}: {describe_os_error(exc)}") from None
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream(config.codec, rate=rate)
        self._stream.width, self._stream.height = self._even
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.time_base = TIME_BASE
        gop = max(1, round(fps))
        # threads: config.yaml threads.encoder (0: x264's own choice, about 1.5 per core)
        self._stream.options = {"crf": str(config.crf), "preset": config.preset, "g": str(gop),
                                "threads": str(threads)}
        self._closed = False

    def write(self, image_bgr: np.ndarray, time_s: float | None = None) -> None:
        """Append one frame shown at ``time_s`` seconds from the start (default: the next nominal slot).

        Raises RecorderError (e.g. disk full) after finishing what was written: the file keeps it.
        """
        if self._closed:
            raise RecorderError(f"recording {self.path} is already closed")
        if (image_bgr.shape[1], image_bgr.shape[0]) != self._size:
            raise RecorderError(
                f"frame size {image_bgr.shape[1]}x{image_bgr.shape[0]} differs from the recording's "
                f"{self._size[0]}x{self._size[1]}"
            )
        if self._even != self._size:
            padded = np.zeros((self._even[1], self._even[0], 3), np.uint8)
            padded[: image_bgr.shape[0], : image_bgr.shape[1]] = image_bgr
            image_bgr = padded
        # OpenCV's BT.601 conversion (the formula's colours within rounding; swscale's default is half a
        # level darker) costs 1.2 ms per 1080p frame against swscale's 7.5 ms: keeping up at 60 fps or not
        yuv = cv2.cvtColor(np.ascontiguousarray(image_bgr), cv2.COLOR_BGR2YUV_I420)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        ticks = self.frames_written * self._frame_ticks if time_s is None else time_s / TIME_BASE
        frame.pts = max(int(round(ticks)), self._last_pts + 1)  # strictly increasing, whatever the clock did
        frame.time_base = TIME_BASE
        try:
            self._container.mux(self._stream.encode(frame))
        except (OSError, av.error.FFmpegError) as exc:
            self._abandon()
            kept = self._keep()
            raise RecorderError(
                f"recording stopped: {describe_os_error(exc)} while writing {kept}; "
                f"about {playable_frames(kept)} of {self.frames_written} frames are kept there and play"
            ) from None
        self._last_pts = frame.pts
        self.frames_written += 1

    def close(self) -> Path:
        """Flush the encoder and finish the file; returns the final path."""
        if self._closed:
            return self.path
        self._closed = True
        try:
            self._container.mux(self._stream.encode(None))
            self._container.close()
            self._file.close()
        except (OSError, av.error.FFmpegError) as exc:
            with contextlib.suppress(OSError):
                self._file.close()
            self._keep()
            raise RecorderError(
                f"cannot finish {self.path}: {describe_os_error(exc)} (what was written is kept)") from None
        return self._keep()

    def _keep(self) -> Path:
        """Give the file its final name (an atomic recording's .part); returns where it is."""
        if self._atomic and self._target.exists():
            self._target.replace(self.path)
        return self.path

    def abort(self) -> None:
        """Stop and delete the file (a cancelled export leaves nothing behind)."""
        self._abandon()
        self._target.unlink(missing_ok=True)

    def _abandon(self) -> None:
        if not self._closed:
            self._closed = True
            with contextlib.suppress(OSError, av.error.FFmpegError):
                self._container.close()
            with contextlib.suppress(OSError):
                self._file.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Finish the file on success, an interruption (Ctrl-C, SIGTERM) or any error; see ``abort``."""
        if self._closed:
            return
        try:
            self.close()
        except RecorderError:
            if exc_type is None:
                raise
            self._keep()


def playable_frames(path: Path) -> int:
    """Video frames a player can read from a (possibly cut-off) fragmented MP4: its complete fragments."""
    count = 0
    with contextlib.suppress(OSError, av.error.FFmpegError), av.open(str(path)) as container:
        for packet in container.demux(video=0):
            count += packet.size > 0
    return count


def describe_os_error(exc: Exception) -> str:
    """A write error in words a user acts on: "disk full", "file size limit reached", else its own text."""
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC:
        return "disk full"
    if code == errno.EFBIG:
        return "file size limit reached"
    return getattr(exc, "strerror", None) or str(exc)
