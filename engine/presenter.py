"""The presenter: the newest result drawn on the newest frame, scaled for display; stale marked.

The display runs at the source's rate while inference runs at its own rate, and display never
waits for inference (engine/live.py wires this on the capture thread). Each captured frame gets the newest result
available. That result normally belongs to the frame before (the one-frame lag inherent in not
waiting): it is drawn normally, and the corner readout states the overlay's latency in ms. A result
further behind (the engine is slow or stalled) is drawn marked stale, greyed with a "stale" tag,
never silently; one older than `MAX_STALE_S` or from a later frame (after a seek back) is not drawn.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from engine.config import OverlayConfig
from engine.image_area import blank_outside
from engine.overlay import draw_overlay
from engine.results import Frame, Polyp, Result

MAX_STALE_S = 1.0  # an overlay older than this would point at tissue that has moved on
CURRENT_LAG_FRAMES = 1  # the pipeline's own one-frame lag: not flagged on the image (the readout says it)


def fit_size(image_w: int, image_h: int, area_w: int, area_h: int) -> tuple[int, int]:
    """The largest (w, h) with the image's aspect ratio inside the area."""
    if min(image_w, image_h, area_w, area_h) <= 0:
        return 0, 0
    scale = min(area_w / image_w, area_h / image_h)
    return max(1, round(image_w * scale)), max(1, round(image_h * scale))


def _fit_bgr(image_bgr: np.ndarray, area: tuple[int, int]) -> np.ndarray:
    height, width = image_bgr.shape[:2]
    size = fit_size(width, height, *area)
    if size[0] and size != (width, height):
        return cv2.resize(image_bgr, size, interpolation=cv2.INTER_LINEAR)
    return image_bgr


def scale_for_display(image_bgr: np.ndarray, area: tuple[int, int]) -> np.ndarray:
    """BGR frame → BGRA (the 32-bit layout a screen blits) fitted into `area` device pixels; any thread.

    Why here: scaling a 1080p frame costs milliseconds; done on the capture thread, painting on the
    GUI thread is a plain blit whatever the source resolution.
    """
    return cv2.cvtColor(_fit_bgr(image_bgr, area), cv2.COLOR_BGR2BGRA)


def _scale_points(points: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Frame pixel centres to display pixel centres (the mapping cv2.resize uses)."""
    scaled = (points.reshape(-1, 2).astype(np.float32) + 0.5) * np.float32([sx, sy]) - 0.5
    return np.round(scaled).astype(np.int32).reshape(points.shape)


def scale_polyp(polyp: Polyp, sx: float, sy: float) -> Polyp:
    """The polyp in display coordinates (outline and box; its frame-size mask is not carried)."""
    x, y, w, h = polyp.box
    x0, y0 = int(x * sx), int(y * sy)
    box = (x0, y0, max(1, math.ceil((x + w) * sx) - x0), max(1, math.ceil((y + h) * sy) - y0))
    return dataclasses.replace(polyp, contour=_scale_points(polyp.contour, sx, sy), box=box, local_mask=None)


@dataclass(frozen=True)
class Shown:
    """A frame as the display gets it: composed and scaled for the screen (BGRA), with its overlay's result."""

    frame: Frame
    display: np.ndarray
    result: Result | None = None  # whose overlay is drawn (None: no overlay)
    drawn: bool = False  # something was drawn on the frame (outlines, readout or privacy blanking)


class Compositor:
    """Thread-safe: the engine thread sets results, the capture and GUI threads compose frames."""

    def __init__(self, overlay_config: Callable[[], OverlayConfig]):
        self._overlay_config = overlay_config
        self._lock = threading.Lock()
        self._result: Result | None = None
        self.show_overlay = True  # the user's H toggle: raw video when False
        self.readout: str | None = None  # fps/latency text for the corner, set by the GUI

    @property
    def result(self) -> Result | None:
        return self._result

    def set_result(self, result: Result | None) -> None:
        with self._lock:
            self._result = result

    def overlay_for(self, frame: Frame) -> tuple[Result | None, bool]:
        """The result to draw on `frame` (None: nothing fits) and whether it is stale."""
        result = self._result
        if result is None:
            return None, False
        lag_s = frame.pts_s - result.frame.pts_s
        lag_frames = frame.index - result.frame.index
        if lag_frames < 0 or lag_s > MAX_STALE_S:
            return None, False
        return result, lag_frames > CURRENT_LAG_FRAMES

    def compose(self, frame: Frame) -> tuple[np.ndarray, Result | None]:
        """The image to show for `frame` at frame size (the frame itself when nothing is drawn), and
        the result whose overlay it carries (None when none was drawn)."""
        return self._compose(frame, frame.image, 1.0, 1.0)

    def compose_for_display(self, frame: Frame, area: tuple[int, int]) -> Shown:
        """`frame` scaled into `area` first, its overlay drawn there: drawn once, at the size shown.

        Why: drawing at frame size and then scaling cost a 4K frame a 25 MB copy and a blend at 4K
        for a picture shown at a laptop's 1280x720 (and thin outlines faded in the downscale).
        """
        small = _fit_bgr(frame.image, area)
        sx, sy = small.shape[1] / frame.image.shape[1], small.shape[0] / frame.image.shape[0]
        image, result = self._compose(frame, small, sx, sy)
        return Shown(frame, cv2.cvtColor(image, cv2.COLOR_BGR2BGRA), result, drawn=image is not small)

    def _compose(self, frame: Frame, image: np.ndarray, sx: float, sy: float) -> tuple[np.ndarray, Result | None]:
        style = self._overlay_config()
        readout = self.readout if style.readout else None
        scaled = (sx, sy) != (1.0, 1.0)
        if not self.show_overlay:
            latest = self._result
            if style.blank_outside and latest is not None and latest.image_area is not None:
                outline = _scale_points(latest.image_area, sx, sy) if scaled else latest.image_area
                return blank_outside(image, outline), None  # privacy holds with the overlay hidden
            return image, None
        result, stale = self.overlay_for(frame)
        polyps = result.polyps if result is not None else ()
        area = result.image_area if result is not None else None
        if not polyps and readout is None and not (style.blank_outside and area is not None):
            return image, result
        if scaled:
            polyps = tuple(scale_polyp(p, sx, sy) for p in polyps)
            area = _scale_points(area, sx, sy) if area is not None else None
        drawn = draw_overlay(image, polyps, style, readout=readout, stale=stale and bool(polyps), image_area=area)
        return drawn, result

    def compose_exact(self, result: Result) -> np.ndarray:
        """The result's own frame with its overlay, never stale (snapshots)."""
        return draw_overlay(result.frame.image, result.polyps, self._overlay_config(), image_area=result.image_area)
