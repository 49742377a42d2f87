"""The one bridge between engine threads and the GUI thread.

Engine callbacks run on the capture and engine threads; Qt widgets may only be touched on the GUI
thread. The bridge lives on the GUI thread, so its signals, emitted from other threads, arrive as
queued calls there. Frames are coalesced: only the newest waits, so a busy GUI never builds a queue
(and latency never grows), and the number of frames skipped by the display is counted.
"""

from __future__ import annotations

import threading
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal


class EngineBridge(QObject):
    """Signals for one pipeline session; `close()` silences it before the pipeline stops."""

    frame_ready = pyqtSignal()  # take the newest item with take_frame()
    result_ready = pyqtSignal(object)  # engine.results.Result
    status_changed = pyqtSignal(object)  # engine.capture.CaptureStatus

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._latest: Any = None
        self._pending = False
        self._closed = False
        self.coalesced = 0  # frames replaced before the GUI took them (display drops)

    # -- called from engine threads ----------------------------------------------------------
    def offer_frame(self, item: Any) -> None:
        """Hand over the newest displayable frame; one queued signal at a time, never a backlog."""
        with self._lock:
            if self._closed:
                return
            if self._latest is not None:
                self.coalesced += 1
            self._latest = item
            notify, self._pending = not self._pending, True
        if notify:
            self.frame_ready.emit()

    def offer_result(self, result: Any) -> None:
        if not self._closed:
            self.result_ready.emit(result)

    def offer_status(self, status: Any) -> None:
        if not self._closed:
            self.status_changed.emit(status)

    # -- called on the GUI thread ------------------------------------------------------------
    def take_frame(self) -> Any:
        """The newest frame offered since the last call, or None."""
        with self._lock:
            item, self._latest = self._latest, None
            self._pending = False
            return item

    def close(self) -> None:
        """Drop everything from now on: a replaced pipeline must not paint into the new one."""
        with self._lock:
            self._closed = True
            self._latest = None

    @property
    def closed(self) -> bool:
        return self._closed
