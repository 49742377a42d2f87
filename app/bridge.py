"""The one bridge between the live session's threads and the GUI thread.

`engine.live.LiveSession` calls its listeners on the capture, engine, opener and recorder threads;
Qt widgets may only be touched on the GUI thread. The bridge lives on the GUI thread, so its
signals, emitted from other threads, arrive there as queued calls. Frames and results are
coalesced alike: only the newest of each waits, with at most one queued signal per kind, so a
stalled GUI never piles up frames or results (a 1080p Result holds megabytes) and latency never
grows; what the display skipped is counted.
"""

from __future__ import annotations

import threading
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from engine.live import LiveSession


class _Latest:
    """One newest-item slot with a pending flag (the coalescing of one kind of item)."""

    def __init__(self) -> None:
        self.item: Any = None
        self.pending = False
        self.replaced = 0


class LiveBridge(QObject):
    frame_ready = pyqtSignal()  # take the newest frame with take_frame()
    result_ready = pyqtSignal()  # take the newest result with take_result()
    state_changed = pyqtSignal(object)  # engine.live.LiveState
    opened = pyqtSignal(object)  # engine.results.SourceInfo
    failed = pyqtSignal(object)  # engine.errors.LGPSError
    recording = pyqtSignal(str, str)  # event ("finished" | "failed"), text

    def __init__(self, live: LiveSession, parent: QObject | None = None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._frames, self._results = _Latest(), _Latest()
        self._closed = False
        live.on_frame = lambda shown: self._offer(self._frames, shown, self.frame_ready)
        live.on_result = lambda result: self._offer(self._results, result, self.result_ready)
        live.on_state = self._emit(self.state_changed)
        live.on_opened = self._emit(self.opened)
        live.on_failed = self._emit(self.failed)
        live.on_recording = lambda event, text: None if self._closed else self.recording.emit(event, text)

    def _emit(self, signal: Any):
        return lambda value: None if self._closed else signal.emit(value)

    @property
    def coalesced(self) -> int:
        """Frames replaced before the GUI took them (display drops)."""
        return self._frames.replaced

    def reset_counts(self) -> None:
        self._frames.replaced = self._results.replaced = 0

    # -- called from the session's threads ---------------------------------------------------------
    def _offer(self, slot: _Latest, item: Any, signal: Any) -> None:
        with self._lock:
            if self._closed:
                return
            if slot.item is not None:
                slot.replaced += 1
            slot.item = item
            notify, slot.pending = not slot.pending, True
        if notify:
            signal.emit()

    # -- called on the GUI thread -------------------------------------------------------------------
    def _take(self, slot: _Latest) -> Any:
        with self._lock:
            item, slot.item = slot.item, None
            slot.pending = False
            return item

    def take_frame(self) -> Any:
        """The newest frame (engine.presenter.Shown) offered since the last call, or None."""
        return self._take(self._frames)

    def take_result(self) -> Any:
        """The newest result offered since the last call, or None."""
        return self._take(self._results)

    def close(self) -> None:
        """Drop everything from now on (the window is closing)."""
        with self._lock:
            self._closed = True
            self._frames.item = self._results.item = None
