"""From a probability map to polyps: threshold, clean-up, regions; and the optional pixel EMA.

The pixel EMA (``TemporalSmoother``, ``postprocess.smoothing``) is off by default: on real
sequences it blends the outline with older masks and costs accuracy (docs/video.md has the
numbers). Persistence across frames is the tracker's job (engine/tracking.py).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from engine.results import Polyp

_MANY_REGIONS = 64  # above this many regions, small ones are removed frame-wide before the loop


class TemporalSmoother:
    """Exponential moving average of probability maps over consecutive frames.

    `alpha` is the weight of the previous smoothed map (0 = pass-through). The engine may skip
    frames under load, so a forward gap of up to `max_gap` frames still counts as continuous (the
    old map then weighs alpha**gap); a longer or backward jump (seek, loop) or a new frame size
    starts afresh, so a map from another scene never bleeds in.
    """

    def __init__(self, alpha: float, max_gap: int = 4) -> None:
        if not 0.0 <= alpha < 1.0:
            raise ValueError(f"smoothing alpha must be in [0, 1), got {alpha}")
        if max_gap < 1:
            raise ValueError(f"max_gap must be at least 1, got {max_gap}")
        self.alpha = alpha
        self.max_gap = max_gap
        self._state: np.ndarray | None = None
        self._last_index: int | None = None

    def reset(self) -> None:
        """Forget the history; the next frame passes through unchanged."""
        self._state = None
        self._last_index = None

    def apply(self, prob: np.ndarray, frame_index: int) -> np.ndarray:
        """The smoothed HxW float32 map for this frame (a new array: callers may keep it)."""
        prob = np.asarray(prob, dtype=np.float32)
        gap = None if self._last_index is None else frame_index - self._last_index
        self._last_index = frame_index
        if self.alpha == 0.0:  # switched off: forget, so switching on again starts afresh
            self._state = None
            return prob
        state = self._state
        if state is None or state.shape != prob.shape or gap is None or not 1 <= gap <= self.max_gap:
            self._state = prob.copy()
            return self._state
        keep = self.alpha**gap
        self._state = cv2.addWeighted(state, keep, prob, 1.0 - keep, 0.0)
        return self._state


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    iw = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    ih = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


class PolypExtractor:
    """Thresholds a probability map into regions: one Polyp (id 0, untracked) per region.

    Stateless: ids, persistence and alerts are the tracker's (engine/tracking.py).
    """

    def extract(
        self, prob: np.ndarray, threshold: float, min_area_frac: float, min_area_px: int | None = None
    ) -> tuple[np.ndarray, tuple[Polyp, ...]]:
        """Mask (HxW uint8 0/255) and one Polyp per region of at least min_area_frac of the map
        (or ``min_area_px`` pixels, when the map is a crop of a larger frame).

        Polyps come largest first. Pixels strictly above `threshold` are polyp.
        """
        prob = np.asarray(prob, dtype=np.float32)
        if prob.ndim != 2:
            raise ValueError(f"probability map must be HxW, got shape {prob.shape}")
        binary = np.greater(prob, threshold).view(np.uint8)  # 0/1: all that labelling needs
        # Labels alone are ~10x cheaper than labels with stats; each region's box comes from its
        # outer contour (the top level of RETR_CCOMP: one per 8-connected region, holes below).
        count, labels = cv2.connectedComponents(binary, connectivity=8, ltype=cv2.CV_32S)
        min_area = max(1, min_area_px if min_area_px is not None else math.ceil(min_area_frac * prob.size))
        if count > _MANY_REGIONS:  # speckle: drop the small regions in one vectorised pass first
            big = np.bincount(labels.ravel(), minlength=count) >= min_area
            big[0] = False
            binary = np.take(big.view(np.uint8), labels)
        contours, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        mask = np.zeros_like(binary)
        regions = []
        for contour, links in zip(contours, hierarchy[0] if contours else (), strict=True):
            if links[3] < 0:  # an outer boundary, not a hole
                region = self._region(prob, labels, contour, min_area, mask)
                if region is not None:
                    regions.append(region)
        regions.sort(key=lambda r: (-r[1], r[0][1], r[0][0]))  # largest first, then top-left
        polyps = tuple(
            Polyp(id=0, area=area, box=box, mean_prob=mean, max_prob=peak, contour=contour)
            for box, area, mean, peak, contour in regions
        )
        return mask, polyps

    @staticmethod
    def _region(
        prob: np.ndarray, labels: np.ndarray, contour: np.ndarray, min_area: int, mask: np.ndarray
    ) -> tuple[tuple[int, int, int, int], int, float, float, np.ndarray] | None:
        """Box, area, mean/max probability and contour of a region big enough, drawn into `mask`.

        Works inside the region's box only, so the cost follows the polyps' size, not the frame's.
        """
        x, y, w, h = cv2.boundingRect(contour)
        if w * h < min_area:
            return None
        label = labels[contour[0, 0, 1], contour[0, 0, 0]]
        box = (slice(y, y + h), slice(x, x + w))
        inside = labels[box] == label
        area = int(np.count_nonzero(inside))
        if area < min_area:
            return None
        mask[box][inside] = 255
        values = prob[box][inside]
        outline = contour.reshape(-1, 2).astype(np.int32)
        return (x, y, w, h), area, float(values.mean()), float(values.max()), outline
