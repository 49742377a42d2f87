"""Polyps as tracks with memory, and alerts that must persist: the temporal layer of the engine.

Why not a pixel average over frames: it blends the outline with older masks (on real motion it
erodes towards their intersection) and barely removes false alarms, which are mostly brief (a
frame-by-frame study of a commercial system found most last <= 3 frames). Here each frame's
regions are matched to tracks; what is drawn is always the current frame's outline; and a track
becomes an *alert* only when it persists:

- **matching** (``match``): each track predicts its box from its last motion (constant velocity);
  detections are assigned to tracks by the Hungarian method (scipy's ``linear_sum_assignment``) on
  a similarity that is the box IoU, or, for a fast move that leaves no overlap, the closeness of
  the centres relative to the polyp's size. A track missed for up to ``max_misses`` frames keeps
  its id.
- **confidence** (``Track.confidence``): the mean, over the last ``window`` frames, of the polyp's
  peak probability in each frame (0 in a frame where it was not found). A clinician reads it as
  "how sure, lately": a one-frame blip at 0.95 over a window of 5 scores 0.19.
- **alert** (hysteresis): a candidate becomes an alert when it was found in at least ``hits`` of
  the last ``window`` frames and its confidence reaches ``on``; an alert stays one while its
  confidence stays at or above the lower ``keep`` level.

scipy's solver rather than a tracking package (norfair, ByteTrack): a colonoscopy frame holds a
handful of polyps, so the assignment is tiny; the alert rules above are the clinical part and
would have to be written on top of any tracker anyway.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from engine.postprocess import box_iou
from engine.results import Polyp

MIN_SIMILARITY = 0.1  # below this a detection starts a new track
_VELOCITY_MEMORY = 0.5  # weight of the previous velocity in its running estimate


@dataclass(frozen=True)
class TrackerSettings:
    """The alert rule: ``hits`` of the last ``window`` frames, confidence hysteresis ``on`` / ``keep``."""

    hits: int = 4
    window: int = 4
    on: float = 0.3
    keep: float = 0.2
    max_misses: int = 5

    def __post_init__(self) -> None:
        if not 1 <= self.hits <= self.window:
            raise ValueError(f"hits ({self.hits}) must be between 1 and window ({self.window})")
        if not 0.0 <= self.keep <= self.on <= 1.0:
            raise ValueError(f"need 0 <= keep ({self.keep}) <= on ({self.on}) <= 1")
        if self.max_misses < 0:
            raise ValueError("max_misses must be >= 0")


def _centre(box: tuple[float, float, float, float]) -> np.ndarray:
    return np.array([box[0] + box[2] / 2.0, box[1] + box[3] / 2.0])


@dataclass
class Track:
    """One polyp followed across frames."""

    id: int
    box: tuple[float, float, float, float]
    window: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    peaks: deque = field(default_factory=deque)  # peak probability per recent frame, 0 when missed
    misses: int = 0
    alert: bool = False
    first_index: int = 0
    last_index: int = 0

    def predicted_box(self, frames_ahead: int) -> tuple[float, float, float, float]:
        dx, dy = self.velocity * frames_ahead
        return self.box[0] + dx, self.box[1] + dy, self.box[2], self.box[3]

    def record(self, peak: float) -> None:
        self.peaks.append(peak)
        while len(self.peaks) > self.window:
            self.peaks.popleft()

    @property
    def confidence(self) -> float:
        """Mean peak probability over the last ``window`` frames (0 where missed; short tracks padded with 0)."""
        return float(sum(self.peaks) / self.window)

    @property
    def hits(self) -> int:
        return sum(1 for p in self.peaks if p > 0.0)


def similarity(track_box: tuple[float, ...], box: tuple[float, ...]) -> float:
    """Box IoU, or, without overlap, how close the centres are relative to the polyp's size (0..0.5).

    The closeness term reaches 0 at a centre distance of twice the polyp's larger side: a fast
    pan moves a polyp by more than its size between frames, before its velocity is known.
    """
    iou = box_iou(tuple(int(round(v)) for v in track_box), box)  # type: ignore[arg-type]
    size = max(track_box[2], track_box[3], box[2], box[3], 1.0)
    distance = float(np.linalg.norm(_centre(track_box) - _centre(box))) / (2.0 * size)
    return max(iou, 0.5 * (1.0 - distance))


def match(predicted: Sequence[tuple[float, ...]], boxes: Sequence[tuple[int, ...]]) -> list[tuple[int, int]]:
    """(track, detection) pairs maximising total similarity; pairs under MIN_SIMILARITY are left out."""
    if not predicted or not boxes:
        return []
    score = np.array([[similarity(t, b) for b in boxes] for t in predicted])
    rows, cols = linear_sum_assignment(-score)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if score[r, c] >= MIN_SIMILARITY]


class PolypTracker:
    """Frame after frame: regions in, the current frame's polyps out, each with id, confidence, alert."""

    def __init__(self, settings: TrackerSettings = TrackerSettings()):
        self.settings = settings
        self.tracks: list[Track] = []
        self._ids = itertools.count(1)
        self._last_index: int | None = None

    def reset(self) -> None:
        """Forget every track (new source, seek back). Ids go on counting: a polyp seen after a seek
        is a new finding, and a procedure record must never merge it with an earlier one."""
        self.tracks = []
        self._last_index = None

    def configure(self, settings: TrackerSettings) -> None:
        """Change the rule live; tracks and their history stay."""
        self.settings = settings
        for track in self.tracks:
            track.window = settings.window
            while len(track.peaks) > settings.window:
                track.peaks.popleft()

    def update(self, regions: Sequence[Polyp], frame_index: int) -> tuple[Polyp, ...]:
        """The polyps of this frame (its own outlines), matched to tracks; largest first."""
        gap = 1 if self._last_index is None else max(1, frame_index - self._last_index)
        self._last_index = frame_index
        predicted = [t.predicted_box(gap) for t in self.tracks]
        pairs = match(predicted, [r.box for r in regions])
        matched_tracks = {t for t, _ in pairs}
        out: list[tuple[Track, Polyp]] = []
        for t, r in pairs:
            out.append((self._follow(self.tracks[t], regions[r], gap, frame_index), regions[r]))
        for i, track in enumerate(self.tracks):
            if i not in matched_tracks:
                track.misses += 1
                track.record(0.0)
        taken = {r for _, r in pairs}
        for r, region in enumerate(regions):
            if r not in taken:
                track = Track(next(self._ids), tuple(float(v) for v in region.box), self.settings.window,
                              first_index=frame_index, last_index=frame_index)
                track.record(region.max_prob)
                self.tracks.append(track)
                out.append((track, region))
        for track in self.tracks:
            self._judge(track)
        self.tracks = [t for t in self.tracks if t.misses <= self.settings.max_misses]
        polyps = [dataclasses.replace(region, id=track.id, alert=track.alert, track_confidence=track.confidence)
                  for track, region in out]
        polyps.sort(key=lambda p: (-p.area, p.box[1], p.box[0]))
        return tuple(polyps)

    def peek(self, regions: Sequence[Polyp]) -> tuple[Polyp, ...]:
        """This frame's regions labelled by the tracks they match, without changing any track.

        For a re-analysis of the frame on screen (a setting changed while paused): what it shows
        must not count as another frame of evidence.
        """
        pairs = dict((r, t) for t, r in match([t.box for t in self.tracks], [r.box for r in regions]))
        polyps = []
        for r, region in enumerate(regions):
            track = self.tracks[pairs[r]] if r in pairs else None
            polyps.append(dataclasses.replace(region, id=track.id, alert=track.alert,
                                              track_confidence=track.confidence) if track else
                          dataclasses.replace(region, id=0, alert=False, track_confidence=0.0))
        polyps.sort(key=lambda p: (-p.area, p.box[1], p.box[0]))
        return tuple(polyps)

    def _follow(self, track: Track, region: Polyp, gap: int, frame_index: int) -> Track:
        step = (_centre(region.box) - _centre(track.box)) / gap
        track.velocity = _VELOCITY_MEMORY * track.velocity + (1 - _VELOCITY_MEMORY) * step
        track.box = tuple(float(v) for v in region.box)
        track.misses = 0
        track.last_index = frame_index
        track.record(region.max_prob)
        return track

    def _judge(self, track: Track) -> None:
        s = self.settings
        if track.alert:
            track.alert = track.confidence >= s.keep
        else:
            track.alert = track.hits >= s.hits and track.confidence >= s.on
