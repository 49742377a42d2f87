"""The endoscope's image area: the bright circle or octagon of the feed, without borders or on-screen text.

A video processor's output is the scope's image inside a black frame, with patient name, date and
settings written on the black part. A detection there is never a polyp; and a recording may need
that text blanked. Found on a shrunk copy: pixels brighter than the border, opened so that thin
text strokes fall away, the largest region, its convex hull. Re-checked every ``recheck_frames``
(the scope's zoom or the processor's layout can change), and whenever the frame size changes.
"""

from __future__ import annotations

import cv2
import numpy as np

from engine.results import Polyp

WORK_WIDTH = 160  # the search runs at about this width
BORDER_LEVEL = 24  # grey level (max of B, G, R) above which a pixel is image, not border
MIN_AREA = 0.25  # a region under this share of the frame is not trusted: the whole frame is used
MIN_INSIDE = 0.5  # a region with less than this share of its outline inside the area is ignored


def find_image_area(image: np.ndarray) -> np.ndarray:
    """The image area's outline (Nx2 int32, frame coordinates): the whole frame when none is found."""
    h, w = image.shape[:2]
    scale = min(1.0, WORK_WIDTH / w)
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    bright = (small.max(axis=2) > BORDER_LEVEL).astype(np.uint8)
    side = max(3, int(round(0.04 * small.shape[1])) | 1)  # wider than a text stroke, far smaller than the image
    bright = cv2.morphologyEx(bright, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(bright, connectivity=8)
    whole = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.int32)
    if count < 2:
        return whole
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    if stats[largest, cv2.CC_STAT_AREA] < MIN_AREA * bright.size:
        return whole  # a dark scene, not a border: keep everything
    points = np.column_stack(np.nonzero(labels == largest)[::-1]).astype(np.float32)
    hull = cv2.convexHull(points).reshape(-1, 2)
    sh, sw = bright.shape
    # pixel centres of the small grid to those of the frame: the last small pixel is the frame's last
    hull = hull * [(w - 1) / max(1, sw - 1), (h - 1) / max(1, sh - 1)]
    return np.clip(np.round(hull), 0, [w - 1, h - 1]).astype(np.int32)


def inside_share(outline: np.ndarray, polyp: Polyp) -> float:
    """Share of a region's outline points that lie inside the image area (0..1)."""
    points = polyp.contour.reshape(-1, 2)
    if len(points) == 0:
        return 0.0
    step = max(1, len(points) // 32)
    inside = [cv2.pointPolygonTest(outline.reshape(-1, 1, 2), (float(x), float(y)), False) >= 0
              for x, y in points[::step]]
    return float(np.mean(inside))


def blank_outside(image: np.ndarray, outline: np.ndarray) -> np.ndarray:
    """A copy with everything outside the image area black (on-screen text: patient name, date)."""
    keep = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(keep, [outline.reshape(-1, 1, 2)], 255)
    return cv2.bitwise_and(image, image, mask=keep)


class ImageAreaTracker:
    """The current image area of a feed, re-found every ``recheck_frames`` processed frames."""

    def __init__(self, recheck_frames: int = 50):
        self.recheck_frames = recheck_frames
        self.outline: np.ndarray | None = None
        self._size: tuple[int, int] | None = None
        self._age = 0

    def reset(self) -> None:
        self.outline, self._size, self._age = None, None, 0

    def update(self, image: np.ndarray) -> np.ndarray:
        size = (image.shape[1], image.shape[0])
        if self.outline is None or size != self._size or self._age >= self.recheck_frames:
            self.outline, self._size, self._age = find_image_area(image), size, 0
        self._age += 1
        return self.outline

    def keep(self, regions: tuple[Polyp, ...]) -> tuple[Polyp, ...]:
        """The regions that lie (mostly) inside the image area."""
        if self.outline is None:
            return regions
        return tuple(r for r in regions if inside_share(self.outline, r) >= MIN_INSIDE)
