"""The LGPS hybrid loss, the adversarial losses and a per-image Dice metric (backend-agnostic).

Paper: L_G = 0.4 BCE + 0.3 (1 - weighted IoU) + 0.3 (1 - Dice) + lambda L_adv.
The weighted IoU is the paper's alpha-weighted soft IoU of foreground (alpha = 0.7) and
background (1 - alpha). Unlike the released code, IoU and Dice are computed per image and then
averaged over the batch (so a large polyp cannot drown a small one in the same batch), and the
adversarial term really reaches the generator (training/gan.py).

All functions take y_true, y_pred of shape (B, H, W, 1) with values in [0, 1].
"""

from __future__ import annotations

from typing import Any

import numpy as np
from keras import ops

BCE_WEIGHT, IOU_WEIGHT, DICE_WEIGHT = 0.4, 0.3, 0.3
IOU_ALPHA = 0.7
SMOOTH = 1.0
EPS = 1e-7


def _flat(x: Any) -> Any:
    x = ops.cast(x, "float32")
    return ops.reshape(x, (ops.shape(x)[0], -1))


def _sum(x: Any, weights: Any = None) -> Any:
    """Per-image sum over pixels of (B, HW) values, each pixel counted ``weights`` times (None: once)."""
    return ops.sum(x if weights is None else weights * x, axis=1)


def bce_per_image(y_true: Any, y_pred: Any, weights: Any = None) -> Any:
    """Per-image (weighted) mean binary cross-entropy (B,), probabilities clipped to [eps, 1 - eps]."""
    t, p = _flat(y_true), ops.clip(_flat(y_pred), EPS, 1.0 - EPS)
    total = _sum(-(t * ops.log(p) + (1.0 - t) * ops.log(1.0 - p)), weights)
    return total / (ops.cast(ops.shape(t)[1], "float32") if weights is None else _sum(weights))


def bce(y_true: Any, y_pred: Any) -> Any:
    """Mean pixel binary cross-entropy (probabilities clipped to [eps, 1 - eps])."""
    return ops.mean(bce_per_image(y_true, y_pred))


def soft_iou(y_true: Any, y_pred: Any, smooth: float = SMOOTH, weights: Any = None) -> Any:
    """Per-image soft IoU (B,): (sum t p + s) / (sum t + sum p - sum t p + s), sums optionally weighted."""
    t, p = _flat(y_true), _flat(y_pred)
    inter = _sum(t * p, weights)
    return (inter + smooth) / (_sum(t, weights) + _sum(p, weights) - inter + smooth)


def weighted_iou(y_true: Any, y_pred: Any, alpha: float = IOU_ALPHA) -> Any:
    """Per-image alpha IoU(foreground) + (1 - alpha) IoU(background), shape (B,)."""
    t, p = ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")
    return alpha * soft_iou(t, p) + (1.0 - alpha) * soft_iou(1.0 - t, 1.0 - p)


def soft_dice(y_true: Any, y_pred: Any, smooth: float = SMOOTH, weights: Any = None) -> Any:
    """Per-image soft Dice (B,): (2 sum t p + s) / (sum t + sum p + s), sums optionally weighted."""
    t, p = _flat(y_true), _flat(y_pred)
    return (2.0 * _sum(t * p, weights) + smooth) / (_sum(t, weights) + _sum(p, weights) + smooth)


EMPTY_TARGET_MODES = ("area", "per_image")


def _empty_target_terms(t: Any, p: Any, w: Any, one_minus_fg_iou: Any, one_minus_dice: Any,
                        empty_target: str) -> tuple[Any, Any]:
    """The foreground IoU and Dice terms, with polyp-free targets scored by false-positive area.

    Why: with smoothing 1, the per-image Dice of an empty target is 1 / (sum p + 1): a crop whose
    probabilities add up to 100 pixels (invisible after thresholding) costs 0.99, three times a
    well-segmented polyp frame, so a batch's gradient is dominated by pushing every pixel of the
    crops to exactly 0 and the network learns to suppress whole frames (measured on run d: every
    validation crop lost 0.51, median sum p 107, against 0.16 for polyp frames). ``area`` replaces
    both terms of an empty target by its (weighted) soft false-positive share sum w p / sum w, the
    limit of the same ratios with smoothing at the image's scale; ``per_image`` keeps the old form.
    """
    if empty_target not in EMPTY_TARGET_MODES:
        raise ValueError(f"empty_target must be one of {EMPTY_TARGET_MODES}, not {empty_target!r}")
    if empty_target == "per_image":
        return one_minus_fg_iou, one_minus_dice
    empty = ops.sum(t, axis=1) <= 0.0
    fp_share = ops.mean(p, axis=1) if w is None else _sum(p, w) / _sum(w)
    return ops.where(empty, fp_share, one_minus_fg_iou), ops.where(empty, fp_share, one_minus_dice)


def _hybrid(y_true: Any, y_pred: Any, w: Any, empty_target: str) -> Any:
    """Per-image 0.4 BCE + 0.3 (1 - weighted IoU) + 0.3 (1 - Dice) with pixel weights ``w`` (B, HW; None: 1)."""
    t, p = _flat(y_true), ops.clip(_flat(y_pred), EPS, 1.0 - EPS)
    fg_term, dice_term = _empty_target_terms(t, p, w, 1.0 - soft_iou(t, p, weights=w),
                                             1.0 - soft_dice(t, p, weights=w), empty_target)
    iou_term = IOU_ALPHA * fg_term + (1.0 - IOU_ALPHA) * (1.0 - soft_iou(1.0 - t, 1.0 - p, weights=w))
    return ops.mean(BCE_WEIGHT * bce_per_image(t, p, w) + IOU_WEIGHT * iou_term + DICE_WEIGHT * dice_term)


def hybrid_loss(y_true: Any, y_pred: Any, empty_target: str = "area") -> Any:
    """0.4 BCE + 0.3 (1 - weighted IoU) + 0.3 (1 - Dice), IoU and Dice averaged per image.

    A polyp-free target (all background) is scored as ``_empty_target_terms`` says.
    """
    return _hybrid(y_true, y_pred, None, empty_target)


BOUNDARY_GAIN, BOUNDARY_POOL = 5.0, 31


def boundary_weights(y_true: Any) -> Any:
    """Pixel weights 1 + 5 |avgpool31(mask) - mask| (PraNet's structure loss): edges count up to 6x."""
    t = ops.cast(y_true, "float32")
    local = ops.average_pool(t, BOUNDARY_POOL, strides=1, padding="same")
    return 1.0 + BOUNDARY_GAIN * ops.abs(local - t)


def hybrid_boundary_loss(y_true: Any, y_pred: Any, empty_target: str = "area") -> Any:
    """The hybrid loss with every pixel weighted by ``boundary_weights`` (BCE, IoU and Dice).

    Why: most pixels are far from an outline and easy; the boundary band is where the Dice of a
    small or flat polyp is won or lost. On a polyp-free sample the weights are all 1.
    """
    return _hybrid(y_true, y_pred, _flat(boundary_weights(y_true)), empty_target)


APP_MIN_AREA_FRAC = 0.0005  # the app's smallest kept region (config postprocess.min_area_frac)


def alarm_pixels(shape: tuple[int, ...], min_area_frac: float = APP_MIN_AREA_FRAC) -> int:
    """How many pixels above threshold make the app report a polyp: its smallest kept region.

    ``shape`` is (H, W), (B, H, W) or (B, H, W, 1) (the model grid; on a letterboxed frame the app
    counts only the visible part, so k is then a little larger than the app's)."""
    h, w = (shape[-3], shape[-2]) if shape[-1] == 1 and len(shape) == 4 else (shape[-2], shape[-1])
    return max(1, int(np.ceil(min_area_frac * h * w)))


def _alarm_pixels_at_run_time(y_pred: Any, min_area_frac: float) -> Any:
    """``alarm_pixels`` of a (B, H, W, 1) tensor whose sides are known only at run time (multi-scale
    training traced by TensorFlow); an int32 scalar tensor."""
    shape = ops.shape(y_pred)
    area = ops.cast(shape[1], "float32") * ops.cast(shape[2], "float32")
    return ops.maximum(1, ops.cast(ops.ceil(min_area_frac * area), "int32"))


def detection_loss(y_true: Any, y_pred: Any, min_area_frac: float = APP_MIN_AREA_FRAC) -> Any:
    """Frame-level loss on what the app reports, not on pixels: the alarm itself.

    The app outlines a polyp when a region of at least ``min_area_frac`` of the frame passes the
    threshold, so a frame's soft "reported" score is the mean of its k highest probabilities (k =
    that region's size in pixels). A polyp-free frame costs -log(1 - score) (a false alarm); a polyp
    frame costs -log(score) taken over the polyp's own pixels (a miss). The two kinds are averaged
    separately and then together, so a batch's mix of kinds does not weight them. Why: the pixel
    losses fit masks, but the small confident blobs they leave on healthy mucosa are the alarms.
    A polyp smaller than k pixels always costs something: the app cannot report it either (its
    regions under ``min_area_frac`` are removed), and the push is towards the target anyway.
    """
    k = alarm_pixels(tuple(y_pred.shape), min_area_frac) if None not in tuple(y_pred.shape)[1:3] else (
        _alarm_pixels_at_run_time(y_pred, min_area_frac))
    q, m = _flat(y_pred), _flat(y_true)
    free = ops.max(m, axis=1) < 0.5
    alarm = ops.mean(ops.top_k(q, k)[0], axis=1)
    found = ops.mean(ops.top_k(q * m, k)[0], axis=1)
    means, present = [], []
    for kind, cost in ((free, -ops.log(1.0 - alarm + EPS)), (ops.logical_not(free), -ops.log(found + EPS))):
        n = ops.sum(ops.cast(kind, "float32"))
        means.append(ops.sum(ops.where(kind, cost, 0.0)) / ops.maximum(n, 1.0))
        present.append(ops.cast(n > 0, "float32"))
    present = ops.stack(present)
    return ops.sum(ops.stack(means) * present) / ops.maximum(ops.sum(present), 1.0)


def configured_loss(cfg: dict[str, Any]) -> Any:
    """The segmentation loss a training config (``training:`` section, flags applied) asks for."""
    return segmentation_loss(cfg.get("loss", "hybrid"), cfg.get("empty_target_loss", "area"),
                             cfg.get("detection_weight", 0.0))


def segmentation_loss(name: str, empty_target: str = "area", detection_weight: float = 0.0) -> Any:
    """The training loss by its config name (``hybrid`` | ``hybrid_boundary``), Keras-callable.

    ``detection_weight`` adds that multiple of ``detection_loss`` (off at 0)."""
    bases = {"hybrid": hybrid_loss, "hybrid_boundary": hybrid_boundary_loss}
    if name not in bases:
        raise ValueError(f"loss must be one of {tuple(bases)}, not {name!r}")
    base = bases[name]

    def loss(y_true: Any, y_pred: Any) -> Any:
        value = base(y_true, y_pred, empty_target)
        if detection_weight:
            value = value + detection_weight * detection_loss(y_true, y_pred)
        return value

    loss.__name__ = f"{base.__name__}_{empty_target}" + (f"_detect{detection_weight:g}" if detection_weight else "")
    return loss


AUX_WEIGHTS = (0.5, 0.25, 0.125)  # deep supervision: decoder stages 3 (1/4 res.), 2, 1


def deep_supervision_loss(base: Any) -> Any:
    """Loss on a stacked (B, H, W, 1 + k) output: base(main) + sum w_i base(aux_i).

    The training model stacks the main head and the auxiliary decoder heads as channels (one
    output keeps Keras' metric and log names unchanged); the shipped generator has only channel 0.
    """

    def loss(y_true: Any, y_pred: Any) -> Any:
        total = base(y_true, y_pred[..., :1])
        for i, weight in enumerate(AUX_WEIGHTS, start=1):
            total = total + weight * base(y_true, y_pred[..., i:i + 1])
        return total

    return loss


def main_head(metric: Any) -> Any:
    """A metric of the main head (channel 0) of a deep-supervision output."""

    def fn(y_true: Any, y_pred: Any) -> Any:
        return metric(y_true, y_pred[..., :1])

    return fn


def _bce_logits(target: float, logits: Any) -> Any:
    """Mean sigmoid cross-entropy of logits against a constant target (stable form)."""
    x = ops.cast(logits, "float32")
    return ops.mean(ops.maximum(x, 0.0) - x * target + ops.log1p(ops.exp(-ops.abs(x))))


def generator_adversarial_loss(fake_logits: Any) -> Any:
    """Non-saturating GAN loss: the generator wants D(image, G(image)) judged real."""
    return _bce_logits(1.0, fake_logits)


def discriminator_loss(real_logits: Any, fake_logits: Any) -> Any:
    """D learns real (image, ground truth) -> 1 and (image, G(image)) -> 0."""
    return _bce_logits(1.0, real_logits) + _bce_logits(0.0, fake_logits)


def dice_per_image(y_true: Any, y_pred: Any, threshold: float = 0.5) -> Any:
    """Hard Dice per image at a threshold; an empty mask with an empty prediction scores 1."""
    t = ops.cast(_flat(y_true) > 0.5, "float32")
    p = ops.cast(_flat(y_pred) > threshold, "float32")
    inter, total = ops.sum(t * p, axis=1), ops.sum(t, axis=1) + ops.sum(p, axis=1)
    return ops.where(total > 0, 2.0 * inter / ops.maximum(total, 1.0), 1.0)
