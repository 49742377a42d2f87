"""Draw the segmentation onto a frame: translucent fill, contours, labels and a speed readout.

A pure function of (frame, polyps, style), so the window, the clip recorder and the benchmark all
draw the same picture. Sizes scale with the frame width (reference: 1280 px), so a label is as
readable on a 1920-wide endoscope feed as on a 384-wide test clip.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from engine.config import OverlayConfig
from engine.image_area import blank_outside
from engine.results import Polyp

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_REFERENCE_WIDTH = 1280.0
_STALE_BGR = (170, 170, 170)
_CANDIDATE_BGR = (200, 200, 200)
_READOUT_BG = (32, 32, 32)


def hex_to_bgr(color: str) -> tuple[int, int, int]:
    """'#rrggbb' (the config's notation) to OpenCV's (b, g, r)."""
    text = color.strip().removeprefix("#")
    if len(text) != 6:
        raise ValueError(f"colour must look like '#00ff66', got {color!r}")
    try:
        r, g, b = (int(text[i : i + 2], 16) for i in (0, 2, 4))
    except ValueError:
        raise ValueError(f"colour must look like '#00ff66', got {color!r}") from None
    return b, g, r


def format_readout(fps: float, latency_ms: float, crf_on: bool) -> str:
    """The corner readout, e.g. '23.9 FPS | 41 ms | CRF on'."""
    return f"{fps:.1f} FPS | {latency_ms:.0f} ms | CRF {'on' if crf_on else 'off'}"


def format_file_readout(time_s: float, index: int, crf_on: bool) -> str:
    """The corner readout of an exported file: where in the source this frame is, e.g. '01:02.40 | frame 1560'.

    A file export runs as fast as it can: an FPS or latency burned into it would describe the
    export machine, not the procedure.
    """
    minutes, seconds = divmod(max(0.0, time_s), 60.0)
    return f"{int(minutes):02d}:{seconds:05.2f} | frame {index} | CRF {'on' if crf_on else 'off'}"


def _sizes(width: int, thickness: int) -> tuple[float, int, int]:
    """Font scale, text stroke and contour thickness for a frame of this width."""
    s = width / _REFERENCE_WIDTH
    return max(0.35, 0.6 * s), max(1, round(1.5 * s)), max(1, round(thickness * s))


def _box_in(image: np.ndarray, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """A polyp box clipped to the image, as (x0, y0, x1, y1)."""
    x, y, w, h = box
    height, width = image.shape[:2]
    return max(0, x), max(0, y), min(width, x + w), min(height, y + h)


def _tint(bgr: tuple[int, int, int], opacity: float) -> np.ndarray:
    """3x4 colour transform: out = (1 - opacity) * in + opacity * colour, per channel."""
    matrix = np.zeros((3, 4), np.float32)
    matrix[:, :3] = np.eye(3) * (1.0 - opacity)
    matrix[:, 3] = np.float32(bgr) * opacity
    return matrix


def _fill(out: np.ndarray, polyp: Polyp, tint: np.ndarray) -> None:
    """Blend the colour into the polyp's pixels, working inside its box only."""
    x0, y0, x1, y1 = _box_in(out, polyp.box)
    if x1 <= x0 or y1 <= y0 or len(polyp.contour) == 0:
        return
    roi = out[y0:y1, x0:x1]
    inside = np.zeros(roi.shape[:2], np.uint8)
    cv2.fillPoly(inside, [polyp.contour.reshape(-1, 1, 2) - np.int32([x0, y0])], 255)
    cv2.copyTo(cv2.transform(roi, tint), inside, roi)  # writes through the view into `out`


def _dashes(contour: np.ndarray, dash: int) -> list[np.ndarray]:
    """Split a closed contour into dash-long pieces, every other one kept (a dashed outline)."""
    contour = contour.reshape(-1, 2)
    closed = np.vstack([contour, contour[:1]]).astype(np.float32)
    steps = np.hypot(*np.diff(closed, axis=0).T)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    samples = np.arange(0.0, along[-1], max(1.0, dash / 4.0))
    points = np.stack([np.interp(samples, along, closed[:, 0]), np.interp(samples, along, closed[:, 1])], 1)
    pieces = np.array_split(np.round(points).astype(np.int32), max(1, len(points) // 4))
    return [p for p in pieces[::2] if len(p) > 1]


def polyp_label(polyp: Polyp) -> str:
    """One label per polyp: its id and the track's confidence (engine/tracking.py), e.g. 'polyp 2 · 87%'."""
    name = f"polyp {polyp.id}" if polyp.id else "polyp"
    return f"{name} {round(100 * polyp.confidence)}%"


def _label(out: np.ndarray, text: str, contour: np.ndarray, bgr: tuple[int, int, int],
           scale: float, stroke: int) -> None:
    """A filled tag whose lower edge touches the outline's topmost point (below it if no room), in the image.

    At the outline, not over the box corner: a box corner of a round polyp lies on mucosa.
    """
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, stroke)
    pad = max(2, th // 4)
    height, width = out.shape[:2]
    points = contour.reshape(-1, 2)
    top_point = points[int(np.argmin(points[:, 1]))]
    tag_w, tag_h = tw + 2 * pad, th + base + 2 * pad
    x = int(min(max(0, top_point[0] - tag_w // 2), max(0, width - tag_w)))
    top = int(top_point[1]) - tag_h
    if top < 0:
        top = int(top_point[1])
    top = min(top, max(0, height - tag_h))
    cv2.rectangle(out, (x, top), (x + tag_w, top + tag_h), bgr, cv2.FILLED)
    ink = (0, 0, 0) if 0.114 * bgr[0] + 0.587 * bgr[1] + 0.299 * bgr[2] > 140 else (255, 255, 255)
    cv2.putText(out, text, (x + pad, top + pad + th), _FONT, scale, ink, stroke, cv2.LINE_AA)


def _corner_text(out: np.ndarray, text: str, scale: float, stroke: int, *, right: bool = False) -> None:
    """White text on a dark box in the top-left (or top-right) corner."""
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, stroke)
    pad = max(3, th // 3)
    x0 = max(0, out.shape[1] - tw - 3 * pad) if right else pad
    cv2.rectangle(out, (x0, pad), (x0 + tw + 2 * pad, th + base + 3 * pad), _READOUT_BG, cv2.FILLED)
    cv2.putText(out, text, (x0 + pad, 2 * pad + th), _FONT, scale, (255, 255, 255), stroke, cv2.LINE_AA)


def draw_overlay(
    image: np.ndarray,
    polyps: Sequence[Polyp],
    style: OverlayConfig,
    *,
    opacity: float | None = None,
    readout: str | None = None,
    stale: bool = False,
    image_area: np.ndarray | None = None,
) -> np.ndarray:
    """A new BGR frame with the polyps drawn on it; `image` is left untouched.

    `stale` marks a result drawn on a later frame than the one it was computed for: the outline is
    dashed and grey, the fill fainter, and a 'stale' tag says so.
    """
    out = blank_outside(image, image_area) if style.blank_outside and image_area is not None else image.copy()
    alpha = style.opacity if opacity is None else min(1.0, max(0.0, opacity))
    colour = hex_to_bgr(style.color)
    line = _STALE_BGR if stale else colour
    scale, stroke, thickness = _sizes(out.shape[1], style.thickness)
    tint = _tint(colour, alpha / 2 if stale else alpha)
    alerts = [p for p in polyps if p.alert]
    if style.candidates == "faint":  # not (yet) a finding: a thin dashed outline, nothing else
        for polyp in (p for p in polyps if not p.alert and len(p.contour) > 1):
            dashes = _dashes(polyp.contour, 4 * thickness + 4)
            cv2.polylines(out, dashes, False, _CANDIDATE_BGR, max(1, thickness // 2), cv2.LINE_AA)
    for polyp in alerts:
        if style.fill and alpha > 0.0:
            _fill(out, polyp, tint)
        if style.contour and len(polyp.contour) > 1:
            if stale:
                dashes = _dashes(polyp.contour, 6 * thickness + 6)
                cv2.polylines(out, dashes, False, line, thickness, cv2.LINE_AA)
            else:
                cv2.polylines(out, [polyp.contour.reshape(-1, 1, 2)], True, line, thickness, cv2.LINE_AA)
    if style.labels:
        for polyp in alerts:
            _label(out, polyp_label(polyp), polyp.contour, line, scale, stroke)
    if readout and style.readout:
        _corner_text(out, readout, scale, stroke)
    if stale:
        _corner_text(out, "stale", scale, stroke, right=True)
    return out
