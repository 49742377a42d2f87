"""Plain, immutable data passed between stages and threads.

Frames are BGR uint8 (OpenCV's order) everywhere in the engine; the segmenter converts to RGB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SourceInfo:
    """What is known about a source once it is open."""

    name: str
    kind: str  # "file" | "camera" | "stream" | "folder" | "demo"
    width: int
    height: int
    fps: float  # nominal frames per second (a guess of 30 for sources that do not say)
    frame_count: int | None  # None for live sources

    @property
    def is_live(self) -> bool:
        """Live sources cannot be paused into the past, seeked or looped."""
        return self.kind in ("camera", "stream")


@dataclass(frozen=True)
class Frame:
    """One captured frame, stamped by the capture thread."""

    index: int  # position in the source (file frame number; running count for live sources)
    capture_time: float  # time.monotonic() when the frame was read
    image: np.ndarray  # HxWx3 BGR uint8
    pts_s: float = 0.0  # presentation time in the source, seconds
    prepared: Any = field(default=None, repr=False, compare=False)  # model input made on the capture thread
    reanalysis: bool = False  # the same frame analysed again after a settings change (no new history)

    @property
    def size(self) -> tuple[int, int]:
        return self.image.shape[1], self.image.shape[0]


@dataclass(frozen=True)
class Polyp:
    """One detected polyp in frame coordinates."""

    id: int  # the track's id, stable while the polyp stays in view (0: not tracked yet)
    area: int  # pixels
    box: tuple[int, int, int, int]  # x, y, w, h
    mean_prob: float
    max_prob: float
    contour: np.ndarray = field(repr=False)  # Nx2 int32, frame coordinates: this frame's own outline
    alert: bool = True  # the track persisted long and surely enough to be shown as a finding
    track_confidence: float | None = None  # engine/tracking.py: mean peak probability over recent frames
    local_mask: np.ndarray | None = field(default=None, repr=False, compare=False)  # uint8 0/255 over `box`

    @property
    def confidence(self) -> float:
        """The confidence shown to the user: the track's (see engine/tracking.py), else the region's peak."""
        return self.max_prob if self.track_confidence is None else self.track_confidence

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "alert": self.alert,
            "confidence": round(self.confidence, 4),
            "area": self.area,
            "box": list(self.box),
            "mean_prob": round(self.mean_prob, 4),
            "max_prob": round(self.max_prob, 4),
        }


@dataclass(frozen=True)
class Result:
    """Everything the engine knows about one processed frame."""

    frame: Frame
    prob: np.ndarray = field(repr=False)  # the model grid's float32 polyp probability (after CRF/smoothing)
    mask: np.ndarray | None = field(repr=False)  # HxW uint8 0/255 when made; else see frame_mask()
    polyps: tuple[Polyp, ...]
    timings_ms: dict[str, float]  # per stage: segment, crf, postprocess, overlay, total
    result_time: float  # time.monotonic() when the result was published
    annotated: np.ndarray | None = field(default=None, repr=False)  # BGR frame with overlay drawn
    dropped_frames: int = 0  # frames the engine skipped so far (latest-frame slot)
    engine_fps: float = 0.0
    image_area: np.ndarray | None = field(default=None, repr=False)  # Nx2 outline of the scope's image area
    regions: tuple[Polyp, ...] = field(default=(), repr=False)  # every region found, before image area/tracking
    content: tuple[int, int, int, int] | None = None  # the frame's place in the grid of `prob` (letterbox)

    def frame_mask(self) -> np.ndarray:
        """The full-frame mask (uint8 0/255) of every region found: made only when asked for."""
        if self.mask is not None:
            return self.mask
        from engine.regions import paste_mask

        return paste_mask(self.regions, self.frame.image.shape)

    @property
    def latency_ms(self) -> float:
        """Capture-to-result latency of this frame."""
        return (self.result_time - self.frame.capture_time) * 1000.0
