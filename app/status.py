"""Status bar numbers and the GUI-thread stall meter.

The heartbeat is a 10 ms timer on the GUI thread: any gap longer than that is time the GUI thread
could not run (blocked or starved). Its maximum is the number the quality bar asks for.
"""

from __future__ import annotations

import time
from collections import deque

from PyQt6.QtCore import QObject, Qt, QTimer
from PyQt6.QtWidgets import QLabel, QStatusBar

from engine.results import Frame, Result
from engine.stats import RollingStats


class Heartbeat(QObject):
    """Measures the GUI thread's longest stall (ms beyond the tick interval)."""

    def __init__(self, interval_ms: int = 10, parent: QObject | None = None):
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.max_stall_ms = 0.0
        self.stalls_over_50ms = 0
        self._last: float | None = None
        self._timer = QTimer(self, interval=interval_ms, timerType=Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._last = None
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def reset(self) -> None:
        self.max_stall_ms, self.stalls_over_50ms, self._last = 0.0, 0, None

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            stall = (now - self._last) * 1000.0 - self.interval_ms
            self.max_stall_ms = max(self.max_stall_ms, stall)
            if stall > 50.0:
                self.stalls_over_50ms += 1
        self._last = now


class WindowRate:
    """Events per second over the last `span_s` seconds (steady under bursts, unlike a tick window)."""

    def __init__(self, span_s: float = 2.0):
        self.span_s = span_s
        self._times: deque[float] = deque()

    def tick(self, now: float) -> None:
        self._times.append(now)
        while self._times and self._times[0] < now - self.span_s:
            self._times.popleft()

    @property
    def rate(self) -> float:
        if len(self._times) < 2:
            return 0.0
        span = min(self.span_s, time.monotonic() - self._times[0])
        return len(self._times) / span if span > 0 else 0.0


class DisplayMeter:
    """What the viewer actually gets: displayed fps and read→shown latency (measured at paint).

    "read→shown" runs from the moment the capture thread read the frame to the end of the paint
    that put it on screen (the video), and to the first paint of a frame's overlay (the outline);
    the engine's own "read→result" stops when the analysis is done, before any drawing.
    """

    def __init__(self) -> None:
        self.fps = WindowRate()
        self.latency = RollingStats(window=300)
        self.frames_shown = 0
        self.first_shown: float | None = None
        self._last_result: Result | None = None
        self._last_painted: Frame | None = None

    def frame_shown(self, frame: Frame) -> None:
        """A frame handed to the view (counts the display rate)."""
        now = time.monotonic()
        self.frames_shown += 1
        if self.first_shown is None:
            self.first_shown = now
        self.fps.tick(now)

    def painted(self, frame: Frame | None, result: Result | None) -> None:
        """A paint finished with `frame` (and `result`'s overlay) on screen: read→shown, once per frame."""
        now = time.monotonic()
        if frame is not None and frame is not self._last_painted:
            self._last_painted = frame
            self.latency.add("video", (now - frame.capture_time) * 1000.0)
        if result is not None and result is not self._last_result:
            self._last_result = result
            self.latency.add("overlay", (now - result.frame.capture_time) * 1000.0)

    @property
    def average_fps(self) -> float:
        """Frames shown per second since the first one (the long-run display rate)."""
        span = time.monotonic() - self.first_shown if self.first_shown is not None else 0.0
        return (self.frames_shown - 1) / span if span > 0 and self.frames_shown > 1 else 0.0

    def gui_work(self, name: str, ms: float) -> None:
        """GUI-thread time per frame ("slot": taking the frame, "paint": the blit)."""
        self.latency.add(name, ms)

    def reset(self) -> None:
        """A new source: count from zero."""
        self.fps = WindowRate()
        self.latency.reset()
        self.frames_shown, self.first_shown, self._last_result, self._last_painted = 0, None, None, None


class StatusPanel:
    """Permanent status bar fields, refreshed by the window's slow timer."""

    def __init__(self, bar: QStatusBar):
        self.fields = {name: QLabel() for name in ("source", "engine", "latency", "dropped", "model", "crf")}
        for name, label in self.fields.items():
            label.setObjectName(f"status_{name}")
            bar.addPermanentWidget(label)

    def set_text(self, name: str, text: str, tooltip: str = "") -> None:
        label = self.fields[name]
        label.setText(text)
        if tooltip:
            label.setToolTip(tooltip)

    def text(self) -> str:
        return "  ".join(label.text() for label in self.fields.values())
