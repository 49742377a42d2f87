"""Keep native libraries' chatter off the user's terminal without hiding anybody's errors.

OpenCV (V4L2, its FFmpeg backend) is told through its own log-level settings (``quiet_opencv``):
nothing is redirected, so an error printed by another thread still reaches stderr. LiteRT prints
one "Created TensorFlow Lite XNNPACK delegate" line when a model loads and has no such setting;
``quiet_native_stderr`` hides file descriptor 2 around that one call only, serialised by a lock so
that overlapping uses can never leave stderr pointing at /dev/null.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator

_LOCK = threading.RLock()
_depth = 0
_saved_fd: int | None = None


def quiet_opencv() -> None:
    """OpenCV logs errors only, its FFmpeg backend nothing (a failing stream is our one-line error)."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read when the backend starts
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    import cv2

    with contextlib.suppress(AttributeError):  # older builds lack the logging module
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Hide fd 2 for the duration (re-entrant; one holder at a time; always restored)."""
    global _depth, _saved_fd
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced (pytest capture, GUI)
        yield
        return
    with _LOCK:
        if _depth == 0:
            sys.stderr.flush()
            _saved_fd = os.dup(fd)
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), fd)
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
            if _depth == 0 and _saved_fd is not None:
                os.dup2(_saved_fd, fd)
                os.close(_saved_fd)
                _saved_fd = None
