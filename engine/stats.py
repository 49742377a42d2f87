"""Rolling timing statistics: median and p95 over a recent window, plus a rate meter."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np


class RollingStats:
    """Per-name rolling windows of millisecond values, safe to read from another thread."""

    def __init__(self, window: int = 300):
        self._window = window
        self._values: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def add(self, name: str, value_ms: float) -> None:
        with self._lock:
            self._values.setdefault(name, deque(maxlen=self._window)).append(value_ms)

    def summary(self) -> dict[str, dict[str, float]]:
        """{name: {"median": ms, "p95": ms, "n": count}} over the current window."""
        with self._lock:
            snapshot = {name: np.fromiter(v, float) for name, v in self._values.items() if v}
        return {
            name: {"median": float(np.median(v)), "p95": float(np.percentile(v, 95)), "n": len(v)}
            for name, v in snapshot.items()
        }

    def reset(self) -> None:
        with self._lock:
            self._values.clear()


class RateMeter:
    """Events per second over the last `window` events (engine FPS, display FPS)."""

    def __init__(self, window: int = 30):
        self._times: deque[float] = deque(maxlen=window)

    def tick(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self._times.append(now)
        return self.rate_at(now)

    @property
    def rate(self) -> float:
        return self.rate_at(time.monotonic())

    def rate_at(self, now: float) -> float:
        """The rate as of ``now``: 0 once events have stopped (paused, ended) for over 1 s or 3 intervals.

        Why: a rate over the last events alone would keep saying "25 FPS" on a paused picture.
        """
        times = list(self._times)
        if len(times) < 2:
            return 0.0
        span = times[-1] - times[0]
        if span <= 0:
            return 0.0
        interval = span / (len(times) - 1)
        if now - times[-1] > max(1.0, 3 * interval):
            return 0.0
        return 1.0 / interval


@contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    """Time a block into `timings[name]` in milliseconds."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = (time.perf_counter() - start) * 1000.0
