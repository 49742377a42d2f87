"""The replay bar: play/pause, frame step, seek with time, speed, loop, record and snapshot.

It only emits intentions; the window decides what they mean for the current source (a live camera
has no seek: those controls are disabled, not broken).
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QWidget

SPEEDS = (0.25, 0.5, 1.0, 1.5, 2.0, 4.0)


def format_time(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


class TransportBar(QWidget):
    play_toggled = pyqtSignal()
    step = pyqtSignal(int)
    seek = pyqtSignal(int)
    speed_changed = pyqtSignal(float)
    loop_changed = pyqtSignal(bool)
    record_toggled = pyqtSignal()
    snapshot = pyqtSignal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.play = QPushButton("Pause")
        self.play.setToolTip("Play / pause (Space)")
        self.back = QPushButton("◀|")
        self.back.setToolTip("Previous frame (←)")
        self.forward = QPushButton("|▶")
        self.forward.setToolTip("Next frame (→)")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Seek")
        self.time = QLabel("--:-- / --:--")
        self.speed = QComboBox()
        for value in SPEEDS:
            self.speed.addItem(f"{value:g}×", value)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.speed.setToolTip("Replay speed")
        self.loop = QCheckBox("Loop")
        self.record = QPushButton("● Record")
        self.record.setToolTip("Record the annotated video (R)")
        self.rec_label = QLabel()
        self.rec_label.setStyleSheet("color:#ff3030; font-weight:bold;")
        self.snap = QPushButton("Snapshot")
        self.snap.setToolTip("Save annotated frame, raw frame and mask as PNG (S)")
        self._fps = 25.0
        self._count = 0
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 2)
        for widget in (self.back, self.play, self.forward):
            layout.addWidget(widget)
        layout.addWidget(self.slider, 1)
        for widget in (self.time, self.speed, self.loop, self.record, self.rec_label, self.snap):
            layout.addWidget(widget)
        self.play.clicked.connect(self.play_toggled)
        self.back.clicked.connect(lambda: self.step.emit(-1))
        self.forward.clicked.connect(lambda: self.step.emit(1))
        self.speed.currentIndexChanged.connect(lambda i: self.speed_changed.emit(float(self.speed.itemData(i))))
        self.loop.toggled.connect(self.loop_changed)
        self.record.clicked.connect(self.record_toggled)
        self.snap.clicked.connect(self.snapshot)
        # Dragging seeks at most every 80 ms (each seek decodes from a keyframe).
        self._seek_timer = QTimer(self, singleShot=True, interval=80)
        self._seek_timer.timeout.connect(lambda: self.seek.emit(self.slider.value()))
        self.slider.sliderMoved.connect(lambda _v: self._seek_timer.start())
        self.slider.sliderReleased.connect(lambda: self.seek.emit(self.slider.value()))
        self.slider.actionTriggered.connect(self._page_step)
        self._set_media_enabled(False)  # nothing to play, record or snapshot until a source opens

    def _set_media_enabled(self, enabled: bool) -> None:
        for widget in (self.play, self.slider, self.back, self.forward, self.speed, self.loop, self.record, self.snap):
            widget.setEnabled(enabled)

    def _page_step(self, action: int) -> None:
        """Clicks on the groove (page steps) seek too; drags are handled by sliderMoved."""
        if action in (QSlider.SliderAction.SliderPageStepAdd.value, QSlider.SliderAction.SliderPageStepSub.value):
            QTimer.singleShot(0, lambda: self.seek.emit(self.slider.value()))

    def set_replay_settings(self, speed: float, loop: bool) -> None:
        """Show speed and loop (emits their signals only when they change)."""
        speeds = [self.speed.itemData(i) for i in range(self.speed.count())]
        if speed in speeds:
            self.speed.setCurrentIndex(speeds.index(speed))
        self.loop.setChecked(loop)

    def set_source(self, fps: float, frame_count: int | None, seekable: bool) -> None:
        """Adapt to a new source: a live one gets no seek, step, speed or loop."""
        self._fps, self._count = fps or 25.0, frame_count or 0
        self.slider.setRange(0, max(0, self._count - 1))
        self.slider.setPageStep(max(1, int(self._fps * 5)))
        self._set_media_enabled(True)
        for widget in (self.slider, self.back, self.forward, self.speed, self.loop):
            widget.setEnabled(seekable)
        self.set_position(0)

    def set_position(self, index: int) -> None:
        if not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        total = format_time(self._count / self._fps) if self._count else "live"
        self.time.setText(f"{format_time(index / self._fps)} / {total}")

    def set_playing(self, playing: bool) -> None:
        self.play.setText("Pause" if playing else "Play")

    def set_recording(self, elapsed_s: float | None, dropped: int = 0) -> None:
        """Show the REC indicator with elapsed time (None: not recording)."""
        if elapsed_s is None:
            self.rec_label.setText("")
            self.record.setText("● Record")
            return
        extra = f" ({dropped} dropped)" if dropped else ""
        self.rec_label.setText(f"● REC {format_time(elapsed_s)}{extra}")
        self.record.setText("■ Stop")
