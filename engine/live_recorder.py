"""Live recording and snapshots (Qt-free): a writer thread behind a bounded queue, never blocking its feeder.

Frames arrive from the engine thread as exact (frame, its own result) pairs, stamped with the time
the frame was read; the file's clock is that capture clock, so frames the engine skipped leave a
gap of the right length and a camera's real rate is kept. `stop()` never blocks (a full queue or a
dead writer cannot freeze the caller) and `wait()` is bounded.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np

from engine.config import RecorderConfig
from engine.errors import RecorderError
from engine.recorder import Recorder
from engine.thread_budget import lower_this_thread

log = logging.getLogger(__name__)

QUEUE_FRAMES = 48  # ~2 s at 25 fps; beyond that frames are dropped and counted, never blocking
QUEUE_BYTES = 256_000_000  # and never more than this: 48 4K frames were 1.2 GB (a laptop's memory)


def queue_frames(width: int, height: int) -> int:
    """How many frames of this size the writer's queue may hold (at least 4)."""
    return max(4, min(QUEUE_FRAMES, QUEUE_BYTES // max(1, width * height * 3)))


def timestamped(folder: str | Path, prefix: str, suffix: str) -> Path:
    """<folder>/<prefix>_<date>_<time><suffix>, numbered when that second is already taken."""
    stem = Path(folder).expanduser() / f"{prefix}_{datetime.now().strftime('%Y%m%d_%H%M%S')}"
    path, number = stem.with_name(stem.name + suffix), 2
    while path.exists() or list(path.parent.glob(path.name + "_*")):
        path, number = stem.with_name(f"{stem.name}_{number}{suffix}"), number + 1
    return path


class LiveRecorder:
    """One recording: `feed` from any thread, `stop` from any thread; outcomes through the callbacks.

    ``on_finished(path, frames)`` and ``on_failed(message)`` run on the writer thread.
    """

    def __init__(self, path: Path, width: int, height: int, fps: float, config: RecorderConfig,
                 on_finished: Callable[[str, int], None] | None = None,
                 on_failed: Callable[[str], None] | None = None, encoder_threads: int = 1,
                 encoder_niceness: int = 0):
        self.path = Path(path)
        self._recorder = Recorder(self.path, width, height, fps, config, threads=encoder_threads)  # RecorderError
        self._queue: queue.Queue[tuple[np.ndarray, float] | None] = queue.Queue(queue_frames(width, height))
        self.on_finished, self.on_failed = on_finished, on_failed
        self._accepting = True
        self._stopping = False
        self._feed_lock = threading.Lock()  # a frame is queued before the end marker or not at all
        self.started = time.monotonic()
        self.dropped = 0
        self.frames_fed = 0  # frames accepted into the queue: what the file will hold
        self.error: str | None = None
        self.niceness = encoder_niceness
        self._thread = threading.Thread(target=self._run, name="lgps-recorder", daemon=True)
        self._thread.start()

    @property
    def frames_written(self) -> int:
        return self._recorder.frames_written

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def feed(self, image: np.ndarray, capture_time: float | None = None) -> None:
        """Queue one frame read at `capture_time` (monotonic seconds); any thread, never blocks."""
        with self._feed_lock:
            if not self._accepting:
                return
            try:
                self._queue.put_nowait((image, time.monotonic() if capture_time is None else capture_time))
                self.frames_fed += 1
            except queue.Full:
                self.dropped += 1

    def stop(self) -> None:
        """Finish asynchronously: `on_finished` (or `on_failed`) follows once the queue is written."""
        with self._feed_lock:
            if self._stopping:
                return
            self._stopping = True
            self._accepting = False
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)  # a full queue: the writer sees `_stopping` when it drains

    def wait(self, timeout: float = 10.0) -> bool:
        """Wait at most `timeout` for the file to be finished (a dead writer cannot hang the caller)."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _next(self) -> tuple[np.ndarray, float] | None:
        while True:
            try:
                return self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._stopping:
                    return None

    def _run(self) -> None:
        lower_this_thread(self.niceness)  # x264 runs on this thread (threads: encoder 1)
        first: float | None = None
        while (item := self._next()) is not None:
            image, stamp = item
            first = stamp if first is None else first
            if self.error is None:
                try:
                    self._recorder.write(image, stamp - first)
                except RecorderError as exc:
                    self._fail(str(exc))
                except Exception as exc:  # never a silent writer death: report it like a write error
                    log.exception("recording %s failed", self.path)
                    self._fail(f"recording stopped: {type(exc).__name__}: {exc}")
        if self.error is None:
            try:
                self._recorder.close()
            except Exception as exc:
                self._fail(str(exc))
                return
            self._call(self.on_finished, str(self.path), self.frames_written)

    def _fail(self, message: str) -> None:
        self.error = message
        self._accepting = False
        self._call(self.on_failed, message)

    @staticmethod
    def _call(callback: Callable[..., None] | None, *args: object) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # a broken listener must not kill the writer (the file still gets finished)
            log.exception("recording listener failed")


def save_snapshot(folder: str | Path, index: int, annotated: np.ndarray, raw: np.ndarray, mask: np.ndarray) -> Path:
    """Write <stem>_annotated.png, _raw.png and _mask.png of one frame; returns the annotated path."""
    stem = timestamped(folder, f"snapshot_f{index:06d}", "")
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, image in (("annotated", annotated), ("raw", raw), ("mask", mask)):
        path = stem.with_name(f"{stem.name}_{name}.png")
        if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 3]):
            raise RecorderError(f"cannot write snapshot {path} (folder not writable or disk full)")
        paths.append(path)
    return paths[0]
