"""ConvCRF: the vectorised version against an obviously-correct loop version, and on a toy scene."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from engine.config import CRFConfig
from engine.convcrf import ConvCRF


def _pool_reference(values: np.ndarray, b: int) -> np.ndarray:
    """Mean of each b x b cell over the pixels inside the image (ceil-sized grid)."""
    h, w, c = values.shape
    gh, gw = math.ceil(h / b), math.ceil(w / b)
    out = np.zeros((gh, gw, c))
    for gy in range(gh):
        for gx in range(gw):
            out[gy, gx] = values[gy * b : (gy + 1) * b, gx * b : (gx + 1) * b].reshape(-1, c).mean(axis=0)
    return out


def _upsample_reference(grid: np.ndarray, b: int, h: int, w: int) -> np.ndarray:
    """Half-pixel bilinear interpolation with clamped borders (PyTorch align_corners=False)."""
    gh, gw = grid.shape
    out = np.zeros((h, w))
    for y in range(h):
        sy = min(max((y + 0.5) / b - 0.5, 0.0), gh - 1)
        y0 = int(math.floor(sy))
        y1, fy = min(y0 + 1, gh - 1), sy - y0
        for x in range(w):
            sx = min(max((x + 0.5) / b - 0.5, 0.0), gw - 1)
            x0 = int(math.floor(sx))
            x1, fx = min(x0 + 1, gw - 1), sx - x0
            top = grid[y0, x0] * (1 - fx) + grid[y0, x1] * fx
            bottom = grid[y1, x0] * (1 - fx) + grid[y1, x1] * fx
            out[y, x] = top * (1 - fy) + bottom * fy
    return out


def _kernel_reference(image: np.ndarray, cfg: CRFConfig) -> np.ndarray:
    """Dense (cells x cells) kernel matrix: smoothness + appearance inside the k x k window."""
    h, w = image.shape[:2]
    b, r = cfg.blur, cfg.kernel_size // 2
    ys, xs = np.mgrid[0:h, 0:w].astype(float)
    pos = _pool_reference(np.dstack([ys, xs]), b)
    col = _pool_reference(image.astype(float), b)
    gh, gw = pos.shape[:2]
    kernel = np.zeros((gh * gw, gh * gw))
    for gy in range(gh):
        for gx in range(gw):
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    ny, nx = gy + dy, gx + dx
                    if (dy, dx) == (0, 0) or not (0 <= ny < gh and 0 <= nx < gw):
                        continue
                    dp2 = np.sum((pos[gy, gx] - pos[ny, nx]) ** 2)
                    dc2 = np.sum((col[gy, gx] - col[ny, nx]) ** 2)
                    smooth = cfg.pos_weight * math.exp(-dp2 / (2 * cfg.pos_sigma**2))
                    appear = cfg.app_weight * math.exp(
                        -dp2 / (2 * cfg.app_pos_sigma**2) - dc2 / (2 * cfg.app_col_sigma**2)
                    )
                    kernel[gy * gw + gx, ny * gw + nx] = smooth + appear
    return kernel


def _crf_reference(prob: np.ndarray, image: np.ndarray, cfg: CRFConfig, iterations: int) -> np.ndarray:
    """Two-class mean field with Potts compatibility, both classes filtered explicitly."""
    h, w = prob.shape
    b = cfg.blur
    kernel = _kernel_reference(image, cfg)
    p = np.clip(prob.astype(float), 1e-6, 1 - 1e-6)
    unary = cfg.unary_weight * np.log(np.stack([1 - p, p]))
    q = np.exp(unary) / np.exp(unary).sum(axis=0)
    for _ in range(iterations):
        messages = []
        for label in range(2):
            grid = _pool_reference(q[label][..., None], b)[..., 0]
            m = (kernel @ grid.ravel()).reshape(grid.shape)
            messages.append(_upsample_reference(m, b, h, w))
        # Potts: a label pays the message of every other label.
        energy = unary - np.stack([messages[1], messages[0]])
        energy -= energy.max(axis=0)
        q = np.exp(energy) / np.exp(energy).sum(axis=0)
    return q[1]


# Moderate weights for several iterations: with the defaults the kernel sums reach the hundreds,
# mean field becomes nearly bistable and float32 rounding alone can flip a borderline cell later on.
_MILD = {"pos_weight": 1.0, "app_weight": 2.0}


@pytest.mark.parametrize(
    ("shape", "blur", "kernel_size", "iterations", "weights"),
    [
        ((24, 20), 2, 5, 1, {}),  # the shipped weights
        ((24, 20), 2, 5, 3, _MILD),
        ((23, 19), 2, 5, 2, _MILD),
        ((17, 29), 3, 3, 3, {**_MILD, "app_col_sigma": 60.0}),
        ((13, 11), 1, 5, 3, _MILD),
        ((30, 26), 4, 7, 5, {"pos_weight": 1.0, "app_weight": 0.1, "app_col_sigma": 80.0, "unary_weight": 2.0}),
        ((21, 22), 2, 7, 2, {"pos_weight": 1.5, "app_weight": 0.0}),
        ((9, 14), 3, 5, 3, {"pos_weight": 0.0, "app_weight": 3.0}),
    ],
)
def test_matches_loop_reference(shape, blur, kernel_size, iterations, weights):
    rng = np.random.default_rng(sum(shape) + blur)
    cfg = dataclasses.replace(CRFConfig(), blur=blur, kernel_size=kernel_size, **weights)
    # Colours in a narrow band so the appearance kernel is neither all zero nor all one.
    image = (rng.integers(0, 256, (*shape, 3)) // 4 + 96).astype(np.uint8)
    prob = rng.random(shape, dtype=np.float32)
    got = ConvCRF(cfg).refine(prob, image, iterations)
    want = _crf_reference(prob, image, cfg, iterations)
    np.testing.assert_allclose(got, want, atol=2e-5)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_cleans_salt_and_pepper_noise_on_a_disc():
    rng = np.random.default_rng(7)
    h, w = 96, 128
    ys, xs = np.mgrid[0:h, 0:w]
    truth = (ys - 50) ** 2 + (xs - 60) ** 2 < 28**2
    image = np.where(truth[..., None], [60, 80, 200], [150, 120, 90]).astype(np.float32)
    image = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    prob = np.where(truth, 0.7, 0.3).astype(np.float32)
    flips = rng.random((h, w)) < 0.2
    prob[flips] = 1.0 - prob[flips]
    noisy_iou = _iou(prob > 0.5, truth)
    refined = ConvCRF(CRFConfig()).refine(prob, image)
    refined_iou = _iou(refined > 0.5, truth)
    assert noisy_iou < 0.6  # about 0.44: one flipped pixel in five
    assert refined_iou > noisy_iou + 0.3
    assert refined_iou > 0.93  # about 0.97


def test_zero_iterations_returns_the_input():
    prob = np.random.default_rng(1).random((37, 53), dtype=np.float32)
    image = np.zeros((37, 53, 3), np.uint8)
    out = ConvCRF(CRFConfig()).refine(prob, image, iterations=0)
    np.testing.assert_array_equal(out, prob)
    assert out is not prob


@pytest.mark.parametrize("shape", [(256, 256), (37, 53), (5, 3), (255, 250)])
def test_output_range_shape_and_dtype(shape):
    rng = np.random.default_rng(3)
    prob = rng.random(shape).astype(np.float64)  # any float input is accepted
    prob[0, 0], prob[-1, -1] = 0.0, 1.0
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    crf = ConvCRF(CRFConfig())
    out = crf.refine(prob, image)
    assert out.shape == shape and out.dtype == np.float32
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(crf.refine(prob, image), out)  # cached grid gives the same answer


def test_flat_image_saturates_cleanly():
    # A flat frame makes the appearance kernel strong everywhere: logits in the hundreds.
    prob = np.random.default_rng(4).random((64, 64), dtype=np.float32) * 0.5 + 0.3
    out = ConvCRF(CRFConfig()).refine(prob, np.full((64, 64, 3), 128, np.uint8))
    assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
    assert (out > 0.5).all()  # most pixels lean polyp, so the whole flat region follows


def test_rejects_an_image_of_another_size():
    with pytest.raises(ValueError, match="does not match"):
        ConvCRF(CRFConfig()).refine(np.zeros((8, 8), np.float32), np.zeros((8, 9, 3), np.uint8))
