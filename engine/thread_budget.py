"""The process's thread budget on a small CPU: OpenCV's pool here; decoder, LiteRT and encoder
threads are passed to the object that owns them (config.yaml `threads:`, docs/benchmarks.md).

Why a budget: on two cores every pool (FFmpeg, OpenCV, XNNPACK, x264) sized "one per core" by
default puts more runnable threads than cores beside the engine thread, and the engine waits.
"""

from __future__ import annotations

import os
import sys
import threading

import cv2

from engine.config import ThreadsConfig


def apply_opencv_threads(threads: ThreadsConfig) -> None:
    """Size OpenCV's process-wide pool (0 in config: OpenCV's own default, one per core)."""
    # OpenCV reads 0 as "no pool at all" and a negative number as "its default"
    cv2.setNumThreads(threads.opencv if threads.opencv > 0 else -1)


def lower_this_thread(niceness: int) -> bool:
    """Raise the calling thread's nice value by ``niceness`` (Linux: per thread); True if it took.

    Why: a recorder behind a queue can fall behind for a moment and catch up, a capture thread
    cannot (a frame it reads late is a frame dropped): on two cores, the scheduler should serve the
    encoder last. Elsewhere, or when refused, nothing changes.
    """
    if niceness <= 0 or not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + niceness))
    except OSError:
        return False
    return True
