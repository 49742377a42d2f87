"""The findings list: every polyp alerted in this session; a click on one seeks a replayed file to it.

Fed from the session's procedure record (engine/procedure.py), refreshed by the window's status
timer; a new finding can sound a short cue (``app.alert_sound``, off by default), through Qt's
own sound API.
"""

from __future__ import annotations

import math
import struct
import tempfile
import wave
from collections.abc import Callable
from pathlib import Path

from PyQt6.QtCore import Qt, QUrl
from PyQt6.QtWidgets import QApplication, QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from engine.procedure import Finding, clock


class FindingsPanel(QWidget):
    """One row per finding: 'polyp 3 · 00:12.4 · 92%'; activating a row calls ``on_seek(frame)``."""

    def __init__(self, on_seek: Callable[[int], None]):
        super().__init__()
        self.list = QListWidget()
        self.hint = QLabel("Polyps alerted in this session. Click one to go to it (recorded files).")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color:#666;")
        column = QVBoxLayout(self)
        column.setContentsMargins(4, 4, 4, 4)
        column.addWidget(self.hint)
        column.addWidget(self.list, 1)
        self._on_seek = on_seek
        self._shown: list[tuple[int, int, int]] = []
        self.seekable = False
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)

    def show_findings(self, findings: list[Finding]) -> int:
        """Refresh the rows; returns how many findings are new since the last call."""
        rows = [(f.id, f.first_frame, round(100 * f.peak_confidence)) for f in findings]
        if rows == self._shown:
            return 0
        new = len({r[0] for r in rows} - {r[0] for r in self._shown})
        self.list.clear()
        for f in findings:
            item = QListWidgetItem(f"polyp {f.id} · {clock(f.first_s)} · {round(100 * f.peak_confidence)}%")
            item.setData(Qt.ItemDataRole.UserRole, f.first_frame)
            item.setToolTip(f"first seen at frame {f.first_frame}, last at {f.last_frame}; best view at "
                            f"{clock(f.peak_s)}" + ("" if self.seekable else " (live source: no seeking)"))
            self.list.addItem(item)
        self._shown = rows
        return new

    def clear(self) -> None:
        self.list.clear()
        self._shown = []

    def _activated(self, item: QListWidgetItem) -> None:
        if self.seekable:
            self._on_seek(int(item.data(Qt.ItemDataRole.UserRole)))


def _cue_file() -> Path:
    """A short two-tone chime (WAV), written once."""
    path = Path(tempfile.gettempdir()) / "lgps_alert_cue.wav"
    if not path.is_file():
        rate, samples = 22050, []
        for freq, length in ((880.0, 0.09), (1320.0, 0.12)):
            n = int(rate * length)
            for i in range(n):
                fade = min(1.0, i / 200, (n - i) / 400)
                samples.append(int(12000 * fade * math.sin(2 * math.pi * freq * i / rate)))
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return path


class AlertCue:
    """Plays the chime when a new alert starts, if switched on; ``played`` counts the cues given.

    Qt's sound module needs the system's audio libraries (PulseAudio's on Linux); where they are
    missing, the cue falls back to the desktop's beep and says so once through ``on_unavailable``
    instead of raising inside the event loop on every new alert.
    """

    def __init__(self, enabled: bool, on_unavailable: Callable[[str], None] | None = None):
        self.enabled = enabled
        self.played = 0
        self._effect = None
        self._beep_only = False
        self._on_unavailable = on_unavailable

    def _load(self) -> None:
        try:
            from PyQt6.QtMultimedia import QSoundEffect  # loaded only when the cue is wanted
        except ImportError as exc:  # e.g. "libpulse.so.0: cannot open shared object file"
            self._beep_only = True
            if self._on_unavailable is not None:
                self._on_unavailable(f"Alert sound: Qt's sound module is unavailable ({exc}); using the system beep")
            return
        self._effect = QSoundEffect()
        self._effect.setSource(QUrl.fromLocalFile(str(_cue_file())))
        self._effect.setVolume(0.6)

    def new_alerts(self, count: int) -> None:
        if not self.enabled or count <= 0:
            return
        if self._effect is None and not self._beep_only:
            self._load()
        if self._beep_only:
            QApplication.beep()
        else:
            self._effect.play()  # silently nothing where the machine has no audio output
        self.played += 1
