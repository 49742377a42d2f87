"""The temporal layer: tracks with memory, persistence before an alert, hysteresis, current outlines."""

from __future__ import annotations

import numpy as np
import pytest

from engine.postprocess import PolypExtractor
from engine.tracking import PolypTracker, TrackerSettings, match, similarity

SHAPE = (120, 160)


def _frame(*blobs: tuple[int, int, int, float]) -> np.ndarray:
    """A probability map with square blobs (x, y, side, value)."""
    prob = np.zeros(SHAPE, np.float32)
    for x, y, side, value in blobs:
        prob[y:y + side, x:x + side] = value
    return prob


def _step(tracker: PolypTracker, index: int, *blobs):
    _, regions = PolypExtractor().extract(_frame(*blobs), 0.5, 0.0)
    return tracker.update(regions, index)


def test_a_polyp_keeps_its_id_across_a_two_frame_miss():
    tracker = PolypTracker(TrackerSettings(hits=3, window=5, on=0.5, keep=0.3, max_misses=5))
    ids = []
    for i in range(8):
        found = _step(tracker, i, *([] if i in (3, 4) else [(40 + 2 * i, 30, 30, 0.9)]))
        ids.append([p.id for p in found])
    assert ids == [[1], [1], [1], [], [], [1], [1], [1]]


def test_a_track_survives_motion_that_leaves_no_box_overlap():
    tracker = PolypTracker()
    ids = [[p.id for p in _step(tracker, i, (10 + 22 * i, 40, 20, 0.9))] for i in range(6)]
    assert ids == [[1]] * 6  # 22 px per frame on a 20 px polyp: consecutive boxes never overlap


def test_far_away_region_is_another_polyp_and_reset_never_reuses_an_id():
    tracker = PolypTracker()
    _step(tracker, 0, (10, 10, 20, 0.9))
    found = _step(tracker, 1, (12, 10, 20, 0.9), (120, 80, 20, 0.9))
    assert sorted(p.id for p in found) == [1, 2]
    tracker.reset()  # a seek: the same place may hold another polyp now
    assert [p.id for p in _step(tracker, 2, (120, 80, 20, 0.9))] == [3]


@pytest.mark.parametrize("blip", [1, 2, 3])
def test_a_short_blip_never_becomes_an_alert_with_the_defaults(blip, config):
    from engine.pipeline import tracker_settings

    tracker = PolypTracker(tracker_settings(config))
    alerts = []
    for i in range(12):
        found = _step(tracker, i, *([(50, 40, 25, 0.99)] if 2 <= i < 2 + blip else []))
        alerts += [p.alert for p in found]
    assert alerts == [False] * blip
    steady = PolypTracker(tracker_settings(config))
    flags = [p.alert for i in range(8) for p in _step(steady, i, (50, 40, 25, 0.99))]
    t = config.tracking
    first = next(n for n in range(t.hits, 9) if min(n, t.window) * 0.99 / t.window >= t.on_confidence)
    assert flags == [False] * (first - 1) + [True] * (8 - first + 1)  # a steady polyp: alert once both hold
    assert first <= 5  # within 5 frames (200 ms at 25 fps)


def test_confidence_is_the_mean_peak_over_the_window_with_hysteresis():
    tracker = PolypTracker(TrackerSettings(hits=2, window=4, on=0.6, keep=0.3, max_misses=10))
    values = [0.9, 0.9, 0.9, 0.9, 0.0, 0.0, 0.55, 0.0, 0.0, 0.0]
    seen = []
    for i, v in enumerate(values):
        found = _step(tracker, i, *([(60, 50, 30, v)] if v else []))
        track = tracker.tracks[0]
        seen.append((round(track.confidence, 4), track.alert, [p.confidence for p in found]))
    assert [c for c, _, _ in seen] == [0.225, 0.45, 0.675, 0.9, 0.675, 0.45, 0.3625, 0.1375, 0.1375, 0.1375]
    # on at 0.675 (>= 0.6), kept down to 0.3625 (>= keep 0.3), off at 0.1375
    assert [a for _, a, _ in seen] == [False, False, True, True, True, True, True, False, False, False]
    assert seen[3][2] == [pytest.approx(0.9)]  # the label shows the track's confidence


def test_the_drawn_outline_is_the_current_frames_region():
    tracker = PolypTracker(TrackerSettings(hits=1, window=3, on=0.0, keep=0.0))
    for i, side in enumerate((40, 20, 30)):
        _, regions = PolypExtractor().extract(_frame((30, 30, side, 0.9)), 0.5, 0.0)
        found = tracker.update(regions, i)
        assert len(found) == 1
        assert np.array_equal(found[0].contour, regions[0].contour)  # never a blend with older masks
        assert found[0].area == side * side and found[0].box == regions[0].box


def test_matching_maximises_total_similarity():
    tracks = [(0.0, 0.0, 20.0, 20.0), (30.0, 0.0, 20.0, 20.0)]
    boxes = [(32, 0, 20, 20), (2, 0, 20, 20)]
    assert sorted(match(tracks, boxes)) == [(0, 1), (1, 0)]
    assert match(tracks, [(140, 140, 10, 10)]) == []  # too far: a new polyp
    assert similarity((0.0, 0.0, 20.0, 20.0), (0, 0, 20, 20)) == pytest.approx(1.0)


def test_settings_are_checked():
    with pytest.raises(ValueError, match="hits"):
        TrackerSettings(hits=6, window=5)
    with pytest.raises(ValueError, match="keep"):
        TrackerSettings(on=0.3, keep=0.5)


def test_peek_labels_regions_without_adding_history():
    tracker = PolypTracker(TrackerSettings(hits=2, window=4, on=0.3, keep=0.2))
    for i in range(3):
        _step(tracker, i, (40, 40, 30, 0.9))
    before = [(t.id, list(t.peaks), t.alert) for t in tracker.tracks]
    _, regions = PolypExtractor().extract(_frame((41, 40, 30, 0.9), (120, 90, 20, 0.9)), 0.5, 0.0)
    peeked = tracker.peek(regions)
    assert [(p.id, p.alert) for p in peeked] == [(1, True), (0, False)]  # known polyp, and a candidate
    assert [(t.id, list(t.peaks), t.alert) for t in tracker.tracks] == before
