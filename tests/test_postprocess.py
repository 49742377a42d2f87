"""Post-processing: threshold, clean-up, region records, id tracking and temporal smoothing."""

from __future__ import annotations

import numpy as np
import pytest

from engine.postprocess import PolypExtractor, TemporalSmoother, box_iou


def _rect(prob: np.ndarray, x: int, y: int, w: int, h: int, value: float) -> None:
    prob[y : y + h, x : x + w] = value


def test_threshold_and_min_area_keep_exact_regions():
    prob = np.zeros((100, 200), np.float32)  # 20 000 px; min_area_frac 0.005 -> 100 px
    _rect(prob, 20, 30, 10, 10, 0.8)  # exactly 100 px: kept
    _rect(prob, 100, 10, 9, 11, 0.9)  # 99 px: removed
    _rect(prob, 150, 60, 20, 20, 0.5)  # not strictly above the threshold
    mask, polyps = PolypExtractor().extract(prob, 0.5, 0.005)
    expected = np.zeros_like(mask)
    expected[30:40, 20:30] = 255
    assert mask.dtype == np.uint8 and mask.shape == prob.shape
    np.testing.assert_array_equal(mask, expected)
    assert len(polyps) == 1
    (polyp,) = polyps
    assert (polyp.id, polyp.area, polyp.box) == (0, 100, (20, 30, 10, 10))  # untracked: id from the tracker
    assert polyp.mean_prob == pytest.approx(0.8) and polyp.max_prob == pytest.approx(0.8)


def test_region_statistics_and_contour():
    prob = np.zeros((60, 80), np.float32)
    _rect(prob, 10, 5, 20, 15, 0.6)
    prob[12, 20] = 0.95
    _rect(prob, 50, 40, 25, 14, 0.7)
    mask, polyps = PolypExtractor().extract(prob, 0.5, 0.0)
    big, small = polyps  # largest first
    assert (big.area, big.box) == (350, (50, 40, 25, 14))
    assert (small.area, small.box) == (300, (10, 5, 20, 15))
    assert small.mean_prob == pytest.approx((299 * 0.6 + 0.95) / 300, rel=1e-6)
    assert small.max_prob == pytest.approx(0.95)
    assert big.mean_prob == pytest.approx(0.7)
    for polyp in polyps:
        x, y, w, h = polyp.box
        assert polyp.contour.dtype == np.int32 and polyp.contour.ndim == 2 and polyp.contour.shape[1] == 2
        assert polyp.contour[:, 0].min() == x and polyp.contour[:, 0].max() == x + w - 1
        assert polyp.contour[:, 1].min() == y and polyp.contour[:, 1].max() == y + h - 1
        assert (mask[polyp.contour[:, 1], polyp.contour[:, 0]] == 255).all()


def test_ring_with_a_blob_in_its_hole_gives_two_regions():
    prob = np.zeros((64, 64), np.float32)
    _rect(prob, 10, 10, 40, 40, 0.9)
    _rect(prob, 20, 20, 20, 20, 0.0)  # the hole
    _rect(prob, 27, 27, 6, 6, 0.8)  # an island inside the hole
    mask, polyps = PolypExtractor().extract(prob, 0.5, 0.0)
    assert sorted(p.area for p in polyps) == [36, 1600 - 400]
    ring = polyps[0]
    assert ring.box == (10, 10, 40, 40) and ring.mean_prob == pytest.approx(0.9)
    assert int(mask.sum()) // 255 == 1200 + 36


def test_speckle_is_removed_and_the_big_region_kept():
    rng = np.random.default_rng(0)
    prob = np.zeros((120, 160), np.float32)
    ys, xs = rng.integers(0, 60, 300) * 2, rng.integers(0, 80, 300) * 2  # isolated single pixels
    prob[ys, xs] = 0.9
    prob[:, 100:] = 0.0
    _rect(prob, 110, 40, 30, 30, 0.95)
    mask, polyps = PolypExtractor().extract(prob, 0.5, 0.01)  # 192 px minimum
    assert len(polyps) == 1 and polyps[0].box == (110, 40, 30, 30) and polyps[0].area == 900
    assert int(np.count_nonzero(mask)) == 900


def test_box_iou():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert box_iou((0, 0, 10, 10), (10, 0, 10, 10)) == 0.0
    assert box_iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)


@pytest.mark.parametrize("shape", [(37, 53), (1, 1), (5, 300)])
def test_odd_shapes(shape):
    rng = np.random.default_rng(1)
    prob = rng.random(shape, dtype=np.float32)
    mask, polyps = PolypExtractor().extract(prob, 0.5, 0.0)
    assert mask.shape == shape
    assert sum(p.area for p in polyps) == np.count_nonzero(prob > 0.5) == np.count_nonzero(mask)
    empty_mask, none = PolypExtractor().extract(np.zeros(shape, np.float32), 0.5, 0.0)
    assert none == () and not empty_mask.any()


def _flicker(n: int, shape=(37, 53)) -> list[np.ndarray]:
    """A steady blob whose probabilities jump frame to frame (model flicker)."""
    rng = np.random.default_rng(2)
    base = np.zeros(shape, np.float32)
    base[10:25, 15:40] = 0.7
    return [np.clip(base + rng.normal(0, 0.2, shape), 0, 1).astype(np.float32) for _ in range(n)]


def _mean_change(frames: list[np.ndarray]) -> float:
    return float(np.mean([np.abs(b - a).mean() for a, b in zip(frames, frames[1:], strict=False)]))


def test_smoother_reduces_flicker():
    frames = _flicker(30)
    smoother = TemporalSmoother(0.6)
    out = [smoother.apply(f, i) for i, f in enumerate(frames)]
    assert _mean_change(out[5:]) < 0.4 * _mean_change(frames[5:])
    assert out[0] is not frames[0]
    np.testing.assert_allclose(out[1], 0.6 * frames[0] + 0.4 * frames[1], atol=1e-6)
    first = out[1].copy()
    smoother.apply(frames[2], 2)
    np.testing.assert_array_equal(out[1], first)  # earlier results are never modified


def test_smoother_resets_on_discontinuities():
    frames = _flicker(6)
    smoother = TemporalSmoother(0.5)
    smoother.apply(frames[0], 10)
    np.testing.assert_array_equal(smoother.apply(frames[1], 500), frames[1])  # seek forward
    np.testing.assert_array_equal(smoother.apply(frames[2], 3), frames[2])  # loop back
    gap = smoother.apply(frames[3], 5)  # a dropped frame in between still counts as continuous
    np.testing.assert_allclose(gap, 0.25 * frames[2] + 0.75 * frames[3], atol=1e-6)
    other = np.full((20, 20), 0.3, np.float32)
    np.testing.assert_array_equal(smoother.apply(other, 6), other)  # new frame size
    smoother.reset()
    np.testing.assert_array_equal(smoother.apply(frames[4], 7), frames[4])


def test_smoother_alpha_zero_passes_through_and_forgets():
    frames = _flicker(3)
    smoother = TemporalSmoother(0.5)
    smoother.apply(frames[0], 0)
    smoother.alpha = 0.0
    assert smoother.apply(frames[1], 1) is frames[1]
    smoother.alpha = 0.5
    np.testing.assert_array_equal(smoother.apply(frames[2], 2), frames[2])


def test_smoother_rejects_bad_alpha():
    with pytest.raises(ValueError):
        TemporalSmoother(1.0)
