"""The process's thread budget on a small CPU: OpenCV's pool here; decoder, LiteRT and encoder
threads are passed to the object that owns them (config.yaml `threads:`, docs/benchmarks.md).

Why a budget: on two cores every pool (FFmpeg, OpenCV, XNNPACK, x264) sized "one per core" by
default puts more runnable threads than cores beside the engine thread, and the engine waits.
"""

from __future__ import annotations

import cv2

from engine.config import ThreadsConfig


def apply_opencv_threads(threads: ThreadsConfig) -> None:
    """Size OpenCV's process-wide pool (0 in config: OpenCV's own default, one per core)."""
    # OpenCV reads 0 as "no pool at all" and a negative number as "its default"
    cv2.setNumThreads(threads.opencv if threads.opencv > 0 else -1)
