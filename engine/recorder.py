"""Write annotated clips as H.264 MP4 with PyAV, safe against a crash mid-recording.

The MP4 is fragmented (`frag_keyframe+empty_moov+default_base_moof`) with a keyframe every second,
so a recording cut off by a kill or power loss still plays up to its last complete second.
`atomic=True` writes under a temporary name and renames on success (whole-file export: no
half-written file under the final name); a live recording writes straight to its final name.
"""

from __future__ import annotations

import contextlib
import errno
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from engine.config import RecorderConfig
from engine.errors import RecorderError


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
        config: RecorderConfig | None = None, *, atomic: bool = False,
    ):
        config = config or RecorderConfig()
        check_codec(config.codec)
        self.path = Path(path)
        self.frames_written = 0
        self._atomic = atomic
        partial = self.path.with_name(self.path.stem + ".part" + self.path.suffix)
        self._target = partial if atomic else self.path
        self._size = (width, height)
        # yuv420p needs even dimensions; an odd frame is padded by one black row/column.
        self._even = (width + width % 2, height + height % 2)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._container = av.open(
                str(self._target), "w", format="mp4",
                options={"movflags": "frag_keyframe+empty_moov+default_base_moof"},
            )
        except (OSError, av.error.FFmpegError) as exc:
            raise RecorderError(f"cannot write {self.path}: {_why(exc)}") from None
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream(config.codec, rate=rate)
        self._stream.width, self._stream.height = self._even
        self._stream.pix_fmt = "yuv420p"
        gop = max(1, round(fps))
        self._stream.options = {"crf": str(config.crf), "preset": config.preset, "g": str(gop)}
        self._closed = False

    def write(self, image_bgr: np.ndarray) -> None:
        """Append one frame; raises RecorderError (e.g. disk full) after closing what was written."""
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
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image_bgr), format="bgr24")
        frame.pts = self.frames_written
        try:
            self._container.mux(self._stream.encode(frame))
        except (OSError, av.error.FFmpegError) as exc:
            self._abandon()
            raise RecorderError(
                f"recording stopped: {_why(exc)} while writing {self._target} "
                f"({self.frames_written} frames kept)"
            ) from None
        self.frames_written += 1

    def close(self) -> Path:
        """Flush the encoder and finish the file; returns the final path."""
        if self._closed:
            return self.path
        self._closed = True
        try:
            self._container.mux(self._stream.encode(None))
            self._container.close()
        except (OSError, av.error.FFmpegError) as exc:
            raise RecorderError(f"cannot finish {self._target}: {_why(exc)}") from None
        if self._atomic:
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

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort() if self._atomic else self._abandon()


def _why(exc: Exception) -> str:
    code = getattr(exc, "errno", None)
    if code == errno.ENOSPC:
        return "disk full"
    return getattr(exc, "strerror", None) or str(exc)
