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
        self._times.append(time.monotonic() if now is None else now)
        return self.rate

    @property
    def rate(self) -> float:
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0


@contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    """Time a block into `timings[name]` in milliseconds."""
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = (time.perf_counter() - start) * 1000.0
