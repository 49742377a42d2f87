"""The video area: the newest composed frame, scaled to the widget with its aspect ratio kept.

Why frames arrive pre-scaled: the capture thread resizes each composed frame to the view's current
device-pixel size and converts it to Qt's native 32-bit layout (engine/presenter.py), so painting on the GUI
thread is a plain blit whatever the source resolution. A frame prepared for an older size (the
window was just resized) is rescaled here once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import cv2
import numpy as np
from PyQt6.QtCore import QRect, QSize, Qt, QTimer
from PyQt6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPen, QResizeEvent
from PyQt6.QtWidgets import QSizePolicy, QWidget

from engine.presenter import fit_size


def fit_rect(image_w: int, image_h: int, area: QRect) -> QRect:
    """The largest rectangle of the image's aspect ratio centred in `area`."""
    w, h = fit_size(image_w, image_h, area.width(), area.height())
    return QRect(area.x() + (area.width() - w) // 2, area.y() + (area.height() - h) // 2, w, h)


class VideoView(QWidget):
    """Shows prepared BGRA images; black bars fill the rest; a hint when there is no video."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._image: np.ndarray | None = None
        self._hint = "No video. Open a file (Ctrl+O), drop one here, or choose a camera."
        self.device_size = (960, 540)  # read by the capture thread (a tuple: replaced atomically)
        self.on_painted: Callable[[float], None] | None = None  # ms spent painting a frame
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(320, 180)
        self._flash_until = 0.0
        self.flashes = 0

    def flash(self, seconds: float = 0.25) -> None:
        """A brief white frame around the picture: the camera-shutter cue of a snapshot."""
        self._flash_until = time.monotonic() + seconds
        self.flashes += 1
        self.update()
        QTimer.singleShot(int(seconds * 1000) + 20, self.update)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return QSize(960, 540)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        ratio = self.devicePixelRatioF()
        self.device_size = (round(self.width() * ratio), round(self.height() * ratio))
        super().resizeEvent(event)

    def set_image(self, image_bgra: np.ndarray | None) -> None:
        self._image = image_bgra
        self.update()

    def set_hint(self, text: str) -> None:
        self._hint = text
        if self._image is None:
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        start = time.perf_counter()
        self._paint()
        if self._image is not None and self.on_painted is not None:
            self.on_painted((time.perf_counter() - start) * 1000.0)

    def _paint(self) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(0, 0, 0))
        image = self._image
        if image is None:
            painter.setPen(QColor(190, 190, 190))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._hint)
            return
        target = fit_rect(image.shape[1], image.shape[0], self.rect())
        if target.isEmpty():
            return
        ratio = self.devicePixelRatioF()
        size = (max(1, round(target.width() * ratio)), max(1, round(target.height() * ratio)))
        if abs(size[0] - image.shape[1]) > 1 or abs(size[1] - image.shape[0]) > 1:
            image = cv2.resize(image, size, interpolation=cv2.INTER_LINEAR)  # prepared for an older size
        qimage = QImage(image.data, image.shape[1], image.shape[0], image.strides[0], QImage.Format.Format_RGB32)
        qimage.setDevicePixelRatio(ratio)
        painter.drawImage(target.topLeft(), qimage)
        if time.monotonic() < self._flash_until:
            painter.setPen(QPen(QColor(255, 255, 255), 8))
            painter.drawRect(target.adjusted(4, 4, -4, -4))
