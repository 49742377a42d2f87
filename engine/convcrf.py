"""Mean-field ConvCRF for two classes (background, polyp) on a down-sampled grid.

Teichmann & Cipolla, "Convolutional CRFs for Semantic Segmentation", 2018 (arXiv 1805.04777).
Why a ConvCRF: messages are passed in a truncated k x k window on a grid `blur` times coarser than
the model's output, so five mean-field iterations cost about a millisecond on a laptop CPU, yet the
appearance kernel still pulls the mask onto colour edges.

Layout: the grid is stored zero-padded and flattened with a row stride of `gw + 2r`, so the
neighbour at window offset (dy, dx) of every cell is one contiguous slice of a flat buffer and all
k x k slices together are one strided view, never copied. Junk columns and out-of-image neighbours
hold a zero probability (and a negligible kernel weight), so they contribute nothing.
With two classes Q0 = 1 - Q1 and only the polyp channel is filtered: under Potts compatibility the
polyp logit is unary1 - unary0 + m1 - m0 = unary1 - unary0 + 2 m1 - S, where S = sum_j k_ij.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import numpy as np
from numpy.lib.stride_tricks import as_strided

from engine.config import Config, CRFConfig
from engine.errors import ModelError

_EPS = 1e-6  # probabilities are clipped to [eps, 1 - eps] before the log
_MAX_CACHED_GRIDS = 4
# Kernel weights below exp(-60) ~ 1e-26 are raised to it: products with probabilities then stay
# normal floats (denormals cost ~100x on many CPUs), and the change is far below float32 precision.
_MIN_LOG_WEIGHT = np.float32(-60.0)


def _pool(image: np.ndarray, blur: int, scale: np.ndarray | None = None) -> np.ndarray:
    """Average-pool by `blur` to a ceil-sized grid, zero-padding partial edge cells.

    `scale` (cell area / in-image pixels, per cell) turns a partial cell's mean over the padded cell
    into the mean over its in-image pixels, like avg_pool2d(count_include_pad=False).
    """
    if blur == 1:
        return image.astype(np.float32, copy=False)
    h, w = image.shape[:2]
    gh, gw = -(-h // blur), -(-w // blur)
    if (gh * blur, gw * blur) != (h, w):
        padded = np.zeros((gh * blur, gw * blur) + image.shape[2:], np.float32)
        padded[:h, :w] = image
        image = padded
    pooled = cv2.resize(image, (gw, gh), interpolation=cv2.INTER_AREA)
    if scale is None:
        return pooled
    return pooled * (scale if pooled.ndim == 2 else scale[..., None])


class _Grid:
    """What depends only on the input shape: flat layout, position kernels, scratch buffers."""

    def __init__(self, shape: tuple[int, int], cfg: CRFConfig) -> None:
        h, w = shape
        b, r = cfg.blur, cfg.kernel_size // 2
        self.shape, self.blur = shape, b
        self.gh, self.gw = gh, gw = -(-h // b), -(-w // b)
        self.stride = gw + 2 * r
        self.length = gh * self.stride  # flat length of one message, junk columns included
        self.base = r * self.stride + r  # flat index of grid cell (0, 0)
        self.radius = r
        self.flat_len = (gh + 2 * r) * self.stride + 2 * r
        self.scale = None
        if h % b or w % b:
            self.scale = (1.0 / _pool(np.ones(shape, np.float32), b)).astype(np.float32)
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        pos = self.differences(_pool(np.dstack([ys, xs]), b, self.scale))
        dist2 = (pos * pos).sum(axis=0)
        inside = self.to_flat(np.ones((gh, gw, 1), np.float32))
        valid = (self.neighbours(inside)[0] > 0) & (self.centre(inside)[0] > 0)
        valid[r, r] = False  # the centre sends no message to itself
        pos_k = cfg.pos_weight * np.exp(-dist2 / (2 * cfg.pos_sigma**2))
        self.pos_kernel = np.where(valid & (pos_k > 1e-30), pos_k, 0).astype(np.float32)
        with np.errstate(divide="ignore"):  # app_weight 0 gives log 0 = -inf, i.e. no appearance term
            app_log = np.log(cfg.app_weight) - dist2 / (2 * cfg.app_pos_sigma**2)
        self.app_log = np.where(valid, app_log, -np.inf).astype(np.float32)
        self.qbuf = np.zeros(self.flat_len, np.float32)
        self.qgrid = self.grid_view(self.qbuf[None])[0]
        self.window = np.empty(self.pos_kernel.shape, np.float32)

    def grid_view(self, flat: np.ndarray) -> np.ndarray:
        """(c, gh, gw) view of the in-image cells of a (c, flat_len) buffer."""
        r = self.radius
        rows = flat[:, : (self.gh + 2 * r) * self.stride].reshape(len(flat), -1, self.stride)
        return rows[:, r : r + self.gh, r : r + self.gw]

    def to_flat(self, grid: np.ndarray) -> np.ndarray:
        """Zero-padded flat (c, flat_len) copy of a (gh, gw, c) grid."""
        out = np.zeros((grid.shape[2], self.flat_len), np.float32)
        self.grid_view(out)[...] = np.moveaxis(grid, 2, 0)
        return out

    def neighbours(self, flat: np.ndarray) -> np.ndarray:
        """(c, k, k, length) strided view of every cell's window neighbours (centre included)."""
        channel, item = flat.strides  # offset (-r, -r) of cell (0, 0) is flat index 0
        k = 2 * self.radius + 1
        return as_strided(flat, (len(flat), k, k, self.length), (channel, self.stride * item, item, item))

    def centre(self, flat: np.ndarray) -> np.ndarray:
        """(c, 1, 1, length) values of the cells themselves, aligned with `neighbours`."""
        return flat[:, None, None, self.base : self.base + self.length]

    def differences(self, grid: np.ndarray) -> np.ndarray:
        """(c, k, k, length) neighbour-minus-centre differences of a feature grid."""
        flat = self.to_flat(grid)
        return self.neighbours(flat) - self.centre(flat)

    def upsample(self, flat_message: np.ndarray) -> np.ndarray:
        """Bilinear (half-pixel, like ConvCRF's upsampling) from the grid back to the input shape."""
        grid = flat_message.reshape(self.gh, self.stride)[:, : self.gw]
        if self.blur == 1:
            return grid
        up = cv2.resize(grid, (self.gw * self.blur, self.gh * self.blur), interpolation=cv2.INTER_LINEAR)
        return up[: self.shape[0], : self.shape[1]]


LEARNED_KEYS = ("pos_weight", "pos_sigma", "app_weight", "app_pos_sigma", "app_col_sigma", "unary_weight")
_SIDECARS: dict[Path, tuple[float, dict[str, float]]] = {}


def learned_parameters(model: str | Path) -> dict[str, float]:
    """The ConvCRF parameters learned for this model (``<model>.crf.json``, training/crf_fit.py), or {}."""
    path = Path(model).with_suffix(".crf.json")
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return {}
    cached = _SIDECARS.get(path)
    if cached is None or cached[0] != mtime:
        try:
            raw = json.loads(path.read_text())
            values = {k: float(raw[k]) for k in LEARNED_KEYS if k in raw}
        except (OSError, ValueError, TypeError) as exc:
            raise ModelError(f"cannot read the learned ConvCRF parameters {path}: {exc}") from None
        if any(not np.isfinite(v) or v <= 0 for v in values.values()):
            raise ModelError(f"{path}: learned ConvCRF parameters must be positive numbers")
        cached = _SIDECARS[path] = (mtime, values)
    return cached[1]


def effective_crf(config: Config) -> CRFConfig:
    """config.crf with the model's learned parameters for every key config.yaml does not set itself."""
    learned = learned_parameters(config.segmenter.model)
    chosen = {k: v for k, v in learned.items() if f"crf.{k}" not in config.explicit}
    return dataclasses.replace(config.crf, **chosen) if chosen else config.crf


class ConvCRF:
    """Refines the model's polyp probability with a fully vectorised mean-field ConvCRF.

    Holds per-shape caches and scratch buffers: use one instance per thread.
    """

    def __init__(self, config: CRFConfig) -> None:
        self.config = config
        self._grids: dict[tuple[int, int], _Grid] = {}

    def _grid(self, shape: tuple[int, int]) -> _Grid:
        grid = self._grids.get(shape)
        if grid is None:
            if len(self._grids) >= _MAX_CACHED_GRIDS:
                self._grids.clear()
            grid = self._grids[shape] = _Grid(shape, self.config)
        return grid

    def _kernel(self, grid: _Grid, image: np.ndarray) -> np.ndarray:
        """Smoothness plus appearance kernel of this frame, (k, k, length), times 2 (see module)."""
        colours = grid.to_flat(_pool(image.astype(np.float32), grid.blur, grid.scale))
        kernel = np.zeros(grid.pos_kernel.shape, np.float32)
        for channel in colours[:, None]:  # one channel at a time keeps the peak memory low
            diff = grid.neighbours(channel)[0] - grid.centre(channel)[0]
            diff *= diff
            kernel += diff
        kernel *= -0.5 / self.config.app_col_sigma**2
        kernel += grid.app_log
        np.maximum(kernel, _MIN_LOG_WEIGHT, out=kernel)
        np.exp(kernel, out=kernel)
        kernel += grid.pos_kernel
        kernel *= 2.0
        return kernel

    def refine(self, prob: np.ndarray, image: np.ndarray, iterations: int | None = None) -> np.ndarray:
        """Return the refined HxW float32 polyp probability; `image` is the frame at prob's size."""
        iterations = self.config.iterations if iterations is None else iterations
        if iterations <= 0:
            return prob.astype(np.float32, copy=True)
        if image.shape[:2] != prob.shape or image.ndim != 3:
            raise ValueError(f"CRF image {image.shape} does not match probability map {prob.shape}")
        grid = self._grid(prob.shape)
        kernel = self._kernel(grid, image)
        p = np.clip(prob, _EPS, 1.0 - _EPS, dtype=np.float32)
        # Q1 = 1 / (1 + exp(neg_unary + S - 2 m1)), neg_unary = unary0 - unary1, S = sum_j k_ij.
        neg_unary = np.log1p(-p) - np.log(p)
        neg_unary *= self.config.unary_weight
        q = self._sigmoid(neg_unary)
        neg_logit0 = neg_unary + grid.upsample(kernel.sum(axis=(0, 1)) * 0.5)
        window = grid.window
        for _ in range(iterations):
            grid.qgrid[...] = _pool(q, grid.blur, grid.scale)
            np.multiply(grid.neighbours(grid.qbuf[None])[0], kernel, out=window)
            q = self._sigmoid(neg_logit0 - grid.upsample(window.sum(axis=(0, 1))))
        return q

    @staticmethod
    def _sigmoid(neg_logit: np.ndarray) -> np.ndarray:
        """1 / (1 + exp(neg_logit)) as 0.5 - 0.5 tanh(neg_logit / 2).

        Why tanh: it saturates to exactly 0 or 1 at a steady speed, while exp of the large logits a
        strong appearance kernel produces overflows or returns denormals, up to 100x slower.
        """
        t = np.multiply(neg_logit, np.float32(-0.5), dtype=np.float32)
        np.tanh(t, out=t)
        t *= 0.5
        t += 0.5
        return t
