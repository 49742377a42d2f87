"""Learn the ConvCRF's parameters by back-propagating through its mean-field iterations (model fixed).

Teichmann & Cipolla train their ConvCRF's kernel parameters; hand-picked values here erased small
polyps (docs/training.md). ``DifferentiableConvCRF`` computes exactly what ``engine.convcrf.ConvCRF``
computes (tested on random inputs), in TensorFlow, for frames whose sides are multiples of
``blur``; its six parameters (smoothness weight and width, appearance weight, position and colour
widths, unary weight) are positive, so they are fitted as logarithms.

    python -m training.crf_fit --frames 256 --steps 150

fits on training frames (never validation or test): the shipped int8 model's probability maps
(what the engine refines), the frames' masks, and polyp-free crops (training/negatives.py) so the
CRF is also taught to leave healthy mucosa empty. The result is written beside the model as
``<model>.crf.json``, which the engine reads (engine/convcrf.py: ``effective_crf``); keys written
in config.yaml's ``crf:`` section still win.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import one_line_errors
from training.losses import APP_MIN_AREA_FRAC

LEARNED = ("pos_weight", "pos_sigma", "app_weight", "app_pos_sigma", "app_col_sigma", "unary_weight")
_EPS = 1e-6
_MIN_LOG_WEIGHT = -60.0


class DifferentiableConvCRF:
    """Mean-field ConvCRF (two classes, Potts) in TensorFlow with trainable log-parameters."""

    def __init__(self, params: dict[str, float], kernel_size: int = 7, blur: int = 4, iterations: int = 5):
        import tensorflow as tf

        self.tf = tf
        self.k, self.r, self.blur, self.iterations = kernel_size, kernel_size // 2, blur, iterations
        self.log = {name: tf.Variable(float(np.log(params[name])), dtype=tf.float32, name=name) for name in LEARNED}

    @property
    def variables(self) -> list[Any]:
        return list(self.log.values())

    def values(self) -> dict[str, float]:
        return {name: float(np.exp(v.numpy())) for name, v in self.log.items()}

    def _pool(self, x: Any) -> Any:  # (B, H, W, C) -> (B, gh, gw, C), mean of each blur x blur cell
        return self.tf.nn.avg_pool2d(x, self.blur, self.blur, "VALID")

    def _neighbours(self, grid: Any) -> Any:
        """(B, gh, gw, C) -> (B, k*k, gh, gw, C): each cell's window, zero outside the image."""
        tf, r = self.tf, self.r
        gh, gw = grid.shape[1], grid.shape[2]
        padded = tf.pad(grid, [[0, 0], [r, r], [r, r], [0, 0]])
        return tf.stack([padded[:, dy:dy + gh, dx:dx + gw] for dy in range(self.k) for dx in range(self.k)], 1)

    def __call__(self, prob: Any, image: Any) -> Any:
        """prob (B, H, W) in [0, 1], image (B, H, W, 3) colours 0..255 -> refined prob (B, H, W)."""
        tf = self.tf
        p = {name: tf.exp(v) for name, v in self.log.items()}
        b, h, w = prob.shape[0], prob.shape[1], prob.shape[2]
        gh, gw = h // self.blur, w // self.blur
        offsets = np.array([(dy - self.r, dx - self.r) for dy in range(self.k) for dx in range(self.k)], np.float32)
        dist2 = tf.constant((self.blur ** 2) * (offsets ** 2).sum(1), tf.float32)[None, :, None, None]
        inside = self._neighbours(tf.ones((1, gh, gw, 1)))[..., 0]  # (1, k*k, gh, gw): neighbour in the image
        centre = np.zeros(self.k * self.k, np.float32)
        centre[self.k * self.k // 2] = 1.0
        valid = inside * tf.constant(1.0 - centre)[None, :, None, None]
        colours = self._pool(tf.cast(image, tf.float32))
        diff2 = tf.reduce_sum(tf.square(self._neighbours(colours) - colours[:, None]), -1)
        app_log = tf.math.log(p["app_weight"]) - dist2 / (2 * p["app_pos_sigma"] ** 2) - diff2 / (
            2 * p["app_col_sigma"] ** 2)
        app_log = tf.where(valid > 0, app_log, -np.inf)
        appearance = tf.exp(tf.maximum(app_log, _MIN_LOG_WEIGHT))
        smooth = p["pos_weight"] * tf.exp(-dist2 / (2 * p["pos_sigma"] ** 2))
        smooth = tf.where((valid > 0) & (smooth > 1e-30), smooth, 0.0)
        kernel = 2.0 * (appearance + smooth)  # (B, k*k, gh, gw)

        def up(grid: Any) -> Any:  # (B, gh, gw) -> (B, H, W), half-pixel bilinear like cv2.INTER_LINEAR
            return tf.image.resize(grid[..., None], (h, w), method="bilinear")[..., 0]

        pc = tf.clip_by_value(tf.cast(prob, tf.float32), _EPS, 1.0 - _EPS)
        neg_unary = p["unary_weight"] * (tf.math.log1p(-pc) - tf.math.log(pc))
        q = tf.sigmoid(-neg_unary)
        neg_logit0 = neg_unary + up(tf.reduce_sum(kernel, 1) * 0.5)
        for _ in range(self.iterations):
            qn = self._neighbours(self._pool(q[..., None]))[..., 0]  # (B, k*k, gh, gw)
            q = tf.sigmoid(-(neg_logit0 - up(tf.reduce_sum(qn * kernel, 1))))
        del b
        return q


def sidecar_path(model: str | Path) -> Path:
    """Where the learned parameters of ``model`` live: ``<model>.crf.json``."""
    return Path(model).with_suffix(".crf.json")


def write_sidecar(model: Path, learned: dict[str, float], fitted: dict[str, Any]) -> Path:
    """The learned values as ``<model>.crf.json`` (what engine.convcrf reads), with how they were fitted."""
    out = sidecar_path(model)
    out.write_text(json.dumps({**{k: round(v, 6) for k, v in learned.items()}, "fitted": fitted}, indent=1) + "\n")
    return out


def training_material(cfg: Any, model: Path, frames: int, negative_share: float, seed: int
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prob, image BGR, mask) at the model's size for training frames and their polyp-free crops."""
    import cv2

    from engine.segmenter import Segmenter
    from training.data import build_cache, load_cache
    from training.negatives import crop, free_box

    cache_path = Path(cfg.out_dir).parent / "cache" / f"train_{cfg.cache_size}.npz"
    if not cache_path.is_file():
        build_cache(cfg.data_root, cfg.train_sets, cache_path, cfg.cache_size, cfg.val_fraction, cfg.seed)
    cache = load_cache(cache_path)
    train = np.nonzero(~cache.is_val)[0]  # never the validation frames
    rng = np.random.default_rng(seed)
    seg = Segmenter(model)
    probs, images, masks = [], [], []
    n_neg = int(round(frames * negative_share))
    for i in rng.choice(train, size=min(frames, len(train)), replace=False):
        rgb, mask = cache.images[i], cache.masks[i] > 127
        if len(masks) < n_neg and (box := free_box(mask)) is not None:
            rgb, mask = crop(rgb, box), np.zeros(crop(mask, box).shape, bool)
        out = seg.infer(np.ascontiguousarray(rgb[:, :, ::-1]))
        size = out.prob.shape[::-1]
        probs.append(out.prob)
        images.append(out.image.astype(np.float32))
        masks.append(cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(np.float32))
    return np.stack(probs), np.stack(images), np.stack(masks)


def objective(masks: Any, q: Any, alarm_weight: float = 0.0, min_area_frac: float = APP_MIN_AREA_FRAC) -> Any:
    """What the fit minimises: the hybrid pixel loss, plus ``alarm_weight`` x the frame-level detection loss
    (``training.losses.detection_loss``: the soft top-k "reported" score, false alarms and misses)."""
    import tensorflow as tf

    from training.losses import detection_loss, hybrid_loss

    target = tf.convert_to_tensor(masks)[..., None]
    loss = hybrid_loss(target, q[..., None])
    if alarm_weight:
        loss = loss + alarm_weight * detection_loss(target, q[..., None], min_area_frac)
    return loss


def fit(crf: DifferentiableConvCRF, probs: np.ndarray, images: np.ndarray, masks: np.ndarray, steps: int,
        batch: int = 8, learning_rate: float = 0.05, seed: int = 0, draw_p: np.ndarray | None = None,
        alarm_weight: float = 0.0, min_area_frac: float = APP_MIN_AREA_FRAC) -> list[float]:
    """Adam on the log-parameters against ``objective`` (per image); returns the loss per step.

    ``draw_p``: each frame's chance of being drawn into a batch (default uniform)."""
    import tensorflow as tf

    opt = tf.keras.optimizers.Adam(learning_rate)
    rng = np.random.default_rng(seed)
    losses = []
    for _ in range(steps):
        idx = rng.choice(len(probs), size=min(batch, len(probs)), replace=False, p=draw_p)
        with tf.GradientTape() as tape:
            q = crf(tf.constant(probs[idx]), tf.constant(images[idx]))
            loss = objective(tf.constant(masks[idx]), q, alarm_weight, min_area_frac)
        grads = tape.gradient(loss, crf.variables)
        opt.apply_gradients(zip(grads, crf.variables, strict=True))
        losses.append(float(loss))
    return losses


def mean_loss(crf: DifferentiableConvCRF, probs: np.ndarray, images: np.ndarray, masks: np.ndarray,
              alarm_weight: float = 0.0, min_area_frac: float = APP_MIN_AREA_FRAC) -> float:
    """``objective`` over all frames, in chunks of 16."""
    import tensorflow as tf

    values = [float(objective(tf.constant(masks[i:i + 16]),
                              crf(tf.constant(probs[i:i + 16]), tf.constant(images[i:i + 16])),
                              alarm_weight, min_area_frac))
              for i in range(0, len(probs), 16)]
    return float(np.mean(values))


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    import dataclasses

    from engine.config import load_config
    from training.train import load_training_config

    p = argparse.ArgumentParser(prog="python -m training.crf_fit", description=__doc__.split("\n")[0])
    p.add_argument("--config", default=None)
    p.add_argument("--model", default=None, help="int8 model whose outputs are refined (default: config)")
    p.add_argument("--frames", type=int, default=256)
    p.add_argument("--negative-share", type=float, default=0.3)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    config = load_config(args.config)
    model = Path(args.model or config.segmenter.model)
    crf_cfg = config.crf
    start = {name: getattr(crf_cfg, name) for name in LEARNED}
    probs, images, masks = training_material(load_training_config(args.config), model, args.frames,
                                             args.negative_share, args.seed)
    crf = DifferentiableConvCRF(start, crf_cfg.kernel_size, crf_cfg.blur, crf_cfg.iterations)
    t0 = time.time()
    before = mean_loss(crf, probs, images, masks)
    fit(crf, probs, images, masks, args.steps, seed=args.seed)
    after = mean_loss(crf, probs, images, masks)
    learned = crf.values()
    out = write_sidecar(model, learned, {
        "model": model.name, "frames": len(probs), "negative_share": args.negative_share,
        "steps": args.steps, "loss_before": before, "loss_after": after, "start": start,
        "kernel_size": crf_cfg.kernel_size, "blur": crf_cfg.blur, "iterations": crf_cfg.iterations,
        "seconds": round(time.time() - t0, 1), "config": dataclasses.asdict(crf_cfg)})
    print(f"hybrid loss on {len(probs)} training frames: {before:.4f} -> {after:.4f}; learned "
          + ", ".join(f"{k} {v:.3g}" for k, v in learned.items()) + f" -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
