"""Polyp regions at frame resolution for the cost of the model's grid.

Resizing the 256×256 probability map to a 1080p frame and labelling it there cost ~5 ms a frame
and 8 MB of floats, for a picture that is mostly background. Here regions are found on the model
grid first; only around each of them (one grid cell of margin) is the map resampled to frame
pixels, with exactly the mapping a full-frame bilinear resize would use (half-pixel centres,
edges clamped), and thresholded and outlined there. A frame pixel above the threshold is a
bilinear mix of the four grid cells around it, so at least one of them is above it too: no region
of the full-frame analysis is missed, and each outline is the one it would draw. The cost follows
the polyps' size, not the frame's. A full-frame mask is made only when asked for (``paste_mask``).
"""

from __future__ import annotations

import dataclasses
import math

import cv2
import numpy as np

from engine.postprocess import PolypExtractor
from engine.results import Polyp

_MARGIN = 1  # grid cells around a coarse region: the bilinear footprint of its edge pixels


def _merge(boxes: list[list[int]]) -> list[list[int]]:
    """Union overlapping (x0, y0, x1, y1) boxes until none overlap (a region never spans two crops)."""
    boxes = [b[:] for b in boxes]
    merged = True
    while merged:
        merged = False
        out: list[list[int]] = []
        for b in boxes:
            for o in out:
                if b[0] < o[2] and o[0] < b[2] and b[1] < o[3] and o[1] < b[3]:
                    o[:] = [min(b[0], o[0]), min(b[1], o[1]), max(b[2], o[2]), max(b[3], o[3])]
                    merged = True
                    break
            else:
                out.append(b)
        boxes = out
    return boxes


def find_regions(prob: np.ndarray, content: tuple[int, int, int, int] | None, frame_shape: tuple[int, ...],
                 threshold: float, min_area_frac: float) -> tuple[Polyp, ...]:
    """The regions a full-frame resize + threshold + labelling would find, in frame coordinates.

    `prob` is the model grid's map, `content` the frame's place in it (letterbox), `frame_shape`
    the frame's (H, W[, C]). Each Polyp carries its own mask (``local_mask``, over its box).
    """
    gx, gy, cw, ch = content or (0, 0, prob.shape[1], prob.shape[0])
    sub = np.ascontiguousarray(prob[gy:gy + ch, gx:gx + cw], dtype=np.float32)
    height, width = frame_shape[:2]
    sx, sy = width / cw, height / ch
    _, coarse = PolypExtractor().extract(sub, threshold, 0.0, min_area_px=1)
    if not coarse:
        return ()
    crops = []
    for r in coarse:
        x, y, w, h = r.box
        crops.append([max(0, math.floor((x - _MARGIN) * sx)), max(0, math.floor((y - _MARGIN) * sy)),
                      min(width, math.ceil((x + w + _MARGIN) * sx)), min(height, math.ceil((y + h + _MARGIN) * sy))])
    min_area = max(1, math.ceil(min_area_frac * height * width))
    regions: list[Polyp] = []
    extractor = PolypExtractor()
    for x0, y0, x1, y1 in _merge(crops):
        # frame pixel X samples grid coordinate (X + 0.5) * cw / W - 0.5, as cv2.resize does
        m = np.array([[cw / width, 0.0, (x0 + 0.5) * cw / width - 0.5],
                      [0.0, ch / height, (y0 + 0.5) * ch / height - 0.5]], np.float32)
        local = cv2.warpAffine(sub, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)
        _, found = extractor.extract(local, threshold, 0.0, min_area_px=min_area)
        for p in found:
            bx, by, bw, bh = p.box
            inside = np.zeros((bh, bw), np.uint8)  # this region only: its outline, minus its holes
            cv2.fillPoly(inside, [(p.contour - np.array([bx, by], np.int32)).reshape(-1, 1, 2)], 255)
            own = np.where(local[by:by + bh, bx:bx + bw] > threshold, inside, 0).astype(np.uint8)
            regions.append(dataclasses.replace(
                p, box=(bx + x0, by + y0, bw, bh), contour=p.contour + np.array([x0, y0], np.int32),
                local_mask=own))
    regions.sort(key=lambda r: (-r.area, r.box[1], r.box[0]))
    return tuple(regions)


def paste_mask(regions: tuple[Polyp, ...], frame_shape: tuple[int, ...]) -> np.ndarray:
    """The full-frame mask (uint8 0/255) of these regions, for mask export and snapshots."""
    mask = np.zeros(frame_shape[:2], np.uint8)
    for r in regions:
        if r.local_mask is None:
            cv2.fillPoly(mask, [r.contour.reshape(-1, 1, 2)], 255)
            continue
        x, y, w, h = r.box
        np.maximum(mask[y:y + h, x:x + w], r.local_mask, out=mask[y:y + h, x:x + w])
    return mask
