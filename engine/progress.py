"""A one-line terminal progress bar (frames, fps, ETA) that stays quiet when not on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(
        self, total: int | None, label: str = "", stream: TextIO | None = None, every_s: float = 0.2
    ):
        self.total, self.label = total, label
        self.stream = stream or sys.stderr
        self._start = time.monotonic()
        self._last = 0.0
        self._every = every_s
        self._live = self.stream.isatty()

    def update(self, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self._every:
            return
        self._last = now
        line = self.render(done, now - self._start)
        if self._live:
            self.stream.write("\r" + line)
            self.stream.flush()

    def render(self, done: int, elapsed: float) -> str:
        fps = done / elapsed if elapsed > 0 else 0.0
        if self.total:
            frac = min(1.0, done / self.total)
            bar = "#" * int(frac * 30)
            eta = (self.total - done) / fps if fps > 0 else 0.0
            return f"{self.label} [{bar:<30}] {done}/{self.total} frames {fps:5.1f} fps ETA {eta:4.0f} s"
        return f"{self.label} {done} frames {fps:5.1f} fps"

    def close(self, done: int) -> None:
        """Finish the bar's line on a terminal; logs and pipes get only the caller's summary."""
        if self._live:
            self.stream.write("\r" + self.render(done, time.monotonic() - self._start) + "\n")
            self.stream.flush()
