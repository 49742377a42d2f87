"""The settings panel: threshold, overlay look, ConvCRF and smoothing, all applied live.

Each control emits `changed(section, key, value)` with config.yaml's own names, so the window
applies it with `LiveSettings.update` and the same validation as the file. `set_config` shows a
config without echoing changes back.
"""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.config import Config


def _slider(maximum: int) -> QSlider:
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setRange(0, maximum)
    slider.setPageStep(5)
    return slider


class ControlsPanel(QWidget):
    changed = pyqtSignal(str, str, object)  # section, key, value
    overlay_toggled = pyqtSignal(bool)  # show the overlay at all (H)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._quiet = False
        self.threshold_slider = _slider(100)
        self.threshold_spin = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.01)
        self.threshold_slider.setToolTip("Polyp probability above which a region is outlined")
        self.opacity_slider = _slider(100)
        self.opacity_slider.setToolTip("Fill opacity")
        self.show_overlay = QCheckBox("Show overlay (H)")
        self.contour = QCheckBox("Contour")
        self.fill = QCheckBox("Fill")
        self.color_button = QPushButton("Colour…")
        self.crf = QCheckBox("ConvCRF")
        self.crf_iterations = QSpinBox(minimum=1, maximum=50)
        self.crf_iterations.setToolTip("Mean-field iterations")
        self.persistent = QCheckBox("Alert only on persistent polyps")
        self.persistent.setToolTip("A region becomes an alert when found in several recent frames with enough "
                                   "confidence (config.yaml: tracking). Off: every region at once.")
        self.smoothing = QCheckBox("Pixel averaging over frames")
        self.smoothing.setToolTip("Averages the probability map over frames. Off by default: on real motion it "
                                  "erodes the outline (docs/video.md).")
        self._color = "#00ff66"
        self._layout()
        self._connect()

    def _layout(self) -> None:
        threshold = QHBoxLayout()
        threshold.addWidget(self.threshold_slider, 1)
        threshold.addWidget(self.threshold_spin)
        detection = QGroupBox("Detection")
        form = QFormLayout(detection)
        form.addRow("Confidence", threshold)
        crf = QHBoxLayout()
        crf.addWidget(self.crf)
        crf.addWidget(self.crf_iterations)
        crf.addWidget(QWidget(), 1)
        form.addRow("Refine", crf)
        form.addRow("", self.persistent)
        form.addRow("", self.smoothing)
        overlay = QGroupBox("Overlay")
        form2 = QFormLayout(overlay)
        form2.addRow("", self.show_overlay)
        form2.addRow("Opacity", self.opacity_slider)
        look = QHBoxLayout()
        look.addWidget(self.contour)
        look.addWidget(self.fill)
        look.addWidget(self.color_button)
        form2.addRow("Draw", look)
        legend = QLabel(
            "Solid outline: the analysis of the frame on screen or the one just before it (the corner "
            "readout gives the overlay's delay in ms). Grey dashed outline and 'stale': the analysis "
            "of an older frame (the model is behind the video)."
        )
        legend.setWordWrap(True)
        legend.setStyleSheet("color:#666;")
        form2.addRow(legend)
        self.origin = QLabel()
        self.origin.setWordWrap(True)
        self.origin.setStyleSheet("color:#666;")
        column = QVBoxLayout(self)
        column.addWidget(detection)
        column.addWidget(overlay)
        column.addWidget(self.origin)
        column.addStretch(1)

    def _connect(self) -> None:
        self.threshold_slider.valueChanged.connect(lambda v: self._threshold(v / 100.0, self.threshold_spin))
        self.threshold_spin.valueChanged.connect(lambda v: self._threshold(v, self.threshold_slider))
        self.opacity_slider.valueChanged.connect(lambda v: self._emit("overlay", "opacity", v / 100.0))
        self.contour.toggled.connect(lambda on: self._emit("overlay", "contour", on))
        self.fill.toggled.connect(lambda on: self._emit("overlay", "fill", on))
        self.crf.toggled.connect(self._crf_toggled)
        self.crf_iterations.valueChanged.connect(lambda v: self._emit("crf", "iterations", v))
        self.smoothing.toggled.connect(lambda on: self._emit("postprocess", "smoothing", on))
        self.persistent.toggled.connect(lambda on: self._emit("tracking", "enabled", on))
        self.color_button.clicked.connect(self._pick_color)
        self.show_overlay.toggled.connect(self._overlay_toggled)

    def _emit(self, section: str, key: str, value: object) -> None:
        if not self._quiet:
            self.changed.emit(section, key, value)

    def _threshold(self, value: float, other: QSlider | QDoubleSpinBox) -> None:
        """Keep slider and number in step, emit once."""
        value = round(value, 2)
        other.blockSignals(True)
        other.setValue(int(round(value * 100)) if isinstance(other, QSlider) else value)
        other.blockSignals(False)
        self._emit("postprocess", "threshold", value)

    def _crf_toggled(self, on: bool) -> None:
        self.crf_iterations.setEnabled(on)
        self._emit("crf", "enabled", on)

    def _overlay_toggled(self, on: bool) -> None:
        for widget in (self.opacity_slider, self.contour, self.fill, self.color_button):
            widget.setEnabled(on)
        if not self._quiet:
            self.overlay_toggled.emit(on)

    def _pick_color(self) -> None:
        color = QColorDialog.getColor(QColor(self._color), self, "Overlay colour")
        if color.isValid():
            self.set_color(color.name())
            self._emit("overlay", "color", color.name())

    def set_color(self, color: str) -> None:
        self._color = color
        c = QColor(color)  # perceived brightness, not HSL lightness (pure green has lightness 50 %)
        text = "#000" if 0.299 * c.red() + 0.587 * c.green() + 0.114 * c.blue() > 140 else "#fff"
        self.color_button.setStyleSheet(  # a swatch that still reads as a button, its label always legible
            f"QPushButton {{ background:{color}; color:{text}; border:1px solid #555; border-radius:3px;"
            f" padding:3px 10px; font-weight:bold; }}")

    def set_origin(self, path: str, changed: list[str], *, remembered: bool = True) -> None:
        """Say where the values come from: the config file, and which ones differ from it (and why)."""
        text = f"Values from {path or 'the built-in defaults'}."
        if changed:
            how = "remembered from the last session" if remembered else "changed here"
            text += f" {how.capitalize()}: {', '.join(changed)} (View ▸ Reset settings to config.yaml)."
        self.origin.setText(text)

    def set_threshold(self, value: float) -> None:
        """Move the threshold as a user would (emits `changed`)."""
        self.threshold_spin.setValue(value)

    def set_config(self, config: Config, show_overlay: bool) -> None:
        """Show these values without emitting changes."""
        self._quiet = True
        try:
            post, crf, overlay = config.postprocess, config.crf, config.overlay
            self.threshold_spin.setValue(post.threshold)
            self.threshold_slider.setValue(int(round(post.threshold * 100)))
            self.opacity_slider.setValue(int(round(overlay.opacity * 100)))
            self.contour.setChecked(overlay.contour)
            self.fill.setChecked(overlay.fill)
            self.set_color(overlay.color)
            self.crf.setChecked(crf.enabled)
            self.crf_iterations.setValue(max(1, crf.iterations))
            self.crf_iterations.setEnabled(crf.enabled)
            self.smoothing.setChecked(post.smoothing)
            self.persistent.setChecked(config.tracking.enabled)
            self.show_overlay.setChecked(show_overlay)
            self._overlay_toggled(show_overlay)
        finally:
            self._quiet = False
