"""Joint image/mask augmentation and the batch loaders fed to ``fit``.

Every geometric change (flips, 90-degree turns, scale/crop, small rotation) is composed into one
affine matrix and applied to image and mask with the same ``cv2.warpAffine`` call parameters, so
they cannot drift apart; colour jitter (brightness, contrast, hue) touches the image only, and so do
the optional degradations of ``PHOTOMETRIC_AUGMENT`` (saturation, gamma, blur, sensor noise, JPEG).

Why numpy/OpenCV on the host rather than layers on the device: the same code then feeds the
TensorFlow and the JAX backends; one warp per frame costs well under a millisecond, and the
loaders run in worker threads (OpenCV releases the GIL), so the accelerator stays the bottleneck.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import keras
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random changes (defaults follow common polyp-segmentation practice)."""

    scale: tuple[float, float] = (0.75, 1.25)  # zoom (1 = the whole cached frame fills the input)
    rotate_deg: float = 15.0  # small rotation, +-degrees
    shift: float = 0.1  # translation, fraction of the output size
    brightness: float = 0.2  # +- fraction of 255
    contrast: float = 0.2  # factor 1 +- this
    hue_deg: float = 8.0  # +- degrees of hue (OpenCV hue unit is 2 degrees)
    # Degradations, off by default (the standard stream of random draws is unchanged while they are 0)
    saturation: float = 0.0  # factor 1 +- this
    gamma: tuple[float, float] = (1.0, 1.0)  # exponent range on 0..1 intensities
    blur_p: float = 0.0  # probability of a Gaussian blur (defocus, motion smear)
    blur_sigma: tuple[float, float] = (0.5, 1.5)  # pixels at the output size
    noise_p: float = 0.0  # probability of additive Gaussian sensor noise
    noise_sigma: float = 6.0  # up to this standard deviation, 0..255 units
    jpeg_p: float = 0.0  # probability of a JPEG round trip (capture cards, re-encoded recordings)
    jpeg_quality: tuple[int, int] = (35, 90)

    @property
    def degrades(self) -> bool:
        return bool(self.saturation or self.gamma != (1.0, 1.0) or self.blur_p or self.noise_p or self.jpeg_p)


STRONG_AUGMENT = AugmentConfig(scale=(0.6, 1.4), rotate_deg=45.0, shift=0.15)  # with 90-degree turns: any angle
# Standard geometry, wider colour and the image degradations of other scopes and processors (darker,
# softer, noisier, re-encoded): the unseen-domain lever that the validation split cannot show directly
PHOTOMETRIC_AUGMENT = AugmentConfig(brightness=0.25, contrast=0.3, hue_deg=12.0, saturation=0.3, gamma=(0.7, 1.4),
                                    blur_p=0.3, noise_p=0.2, jpeg_p=0.3)
# Flips and 90-degree turns only (label-preserving views of the frame itself): a capacity probe that asks
# whether the network can fit its own training frames at all, never a recipe
FIT_PROBE_AUGMENT = AugmentConfig(scale=(1.0, 1.0), rotate_deg=0.0, shift=0.0,
                                  brightness=0.0, contrast=0.0, hue_deg=0.0)
AUGMENTS = {"standard": AugmentConfig(), "strong": STRONG_AUGMENT, "photometric": PHOTOMETRIC_AUGMENT,
            "fit_probe": FIT_PROBE_AUGMENT}


def random_affine(rng: np.random.Generator, src: int, out: int, cfg: AugmentConfig) -> np.ndarray:
    """A 2x3 matrix mapping a src x src frame to out x out: flips, 90 turns, zoom, rotation, shift."""
    centre_src, centre_out = (src - 1) / 2.0, (out - 1) / 2.0
    angle = 90.0 * rng.integers(4) + rng.uniform(-cfg.rotate_deg, cfg.rotate_deg)
    zoom = rng.uniform(*cfg.scale) * out / src
    m = cv2.getRotationMatrix2D((centre_src, centre_src), angle, zoom)
    m[:, 2] += np.array([centre_out - centre_src] * 2) + rng.uniform(-cfg.shift, cfg.shift, 2) * out
    flip = np.diag([-1.0 if rng.random() < 0.5 else 1.0, -1.0 if rng.random() < 0.5 else 1.0])
    m = flip @ m
    m[:, 2] += np.where(np.diag(flip) < 0, out - 1, 0)
    return m


def color_jitter(rng: np.random.Generator, image: np.ndarray, cfg: AugmentConfig) -> np.ndarray:
    """Brightness, contrast and hue jitter of an RGB uint8 image."""
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
    shift = int(round(rng.uniform(-cfg.hue_deg, cfg.hue_deg) / 2.0))
    hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + shift) % 180).astype(np.uint8)
    x = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB).astype(np.float32)
    c = 1.0 + rng.uniform(-cfg.contrast, cfg.contrast)
    b = rng.uniform(-cfg.brightness, cfg.brightness) * 255.0
    x = (x - x.mean()) * c + x.mean() + b
    return np.clip(x, 0, 255).astype(np.uint8)


def degrade(rng: np.random.Generator, image: np.ndarray, cfg: AugmentConfig) -> np.ndarray:
    """Saturation, gamma, blur, noise and JPEG round trip of an RGB uint8 image, as ``cfg`` enables."""
    x = image
    if cfg.saturation:
        hsv = cv2.cvtColor(x, cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 1] *= 1.0 + rng.uniform(-cfg.saturation, cfg.saturation)
        x = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB)
    if cfg.gamma != (1.0, 1.0):
        g = rng.uniform(*cfg.gamma)
        x = cv2.LUT(x, (255.0 * (np.arange(256) / 255.0) ** g).round().astype(np.uint8))
    if cfg.blur_p and rng.random() < cfg.blur_p:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(*cfg.blur_sigma))
    if cfg.noise_p and rng.random() < cfg.noise_p:
        noise = rng.normal(0.0, rng.uniform(0.0, cfg.noise_sigma), x.shape)
        x = np.clip(x + noise, 0, 255).astype(np.uint8)
    if cfg.jpeg_p and rng.random() < cfg.jpeg_p:
        q = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
        ok, buf = cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, q])
        # encoded as if BGR (R and B swap roles in the luma weights); the round trip keeps the channel order
        x = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else x
    return x


MULTI_SCALES = (0.75, 1.0, 1.25)  # PraNet's multi-scale training


def multi_scale_sizes(size: int, scales: tuple[float, ...] = MULTI_SCALES) -> tuple[int, ...]:
    """Training sides for multi-scale training: each scale x ``size``, rounded half up to a multiple
    of 32 (the generator's stride), distinct, at least 32."""
    return tuple(sorted({max(32, math.floor(s * size / 32 + 0.5) * 32) for s in scales}))


def augment_pair(rng: np.random.Generator, image: np.ndarray, mask: np.ndarray, out: int,
                 cfg: AugmentConfig = AugmentConfig(), colour: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Augment an RGB uint8 image and its uint8 mask (0..255) together; returns (out, out) pair."""
    m = random_affine(rng, image.shape[0], out, cfg)
    img = cv2.warpAffine(image, m, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    msk = cv2.warpAffine(mask, m, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    if colour:
        img = color_jitter(rng, img, cfg)
        if cfg.degrades:
            img = degrade(rng, img, cfg)
    return img, msk


class FrameBatches(keras.utils.PyDataset):
    """Batches (RGB float32 0..255 (B,S,S,3), mask float32 {0,1} (B,S,S,1)) from cached frames.

    Training: reshuffled each epoch and augmented, the random stream seeded by (seed, epoch, batch)
    so a run is repeatable and a resumed run sees the same epochs. With ``negative_rate`` > 0 that
    share of samples is replaced by a polyp-free crop of a training frame (all-background
    target; training/negatives.py cuts it), so the model also sees healthy mucosa; which crop is
    drawn follows ``negative_p`` when hard-negative mining sets it (training/mining.py), uniform
    otherwise. With ``sizes`` (multi-scale training) the training batches take those sides in
    turn (``batch_side``). Validation: plain resize to ``size``.
    """

    def __init__(self, images: np.ndarray, masks: np.ndarray, batch_size: int, size: int, *,
                 train: bool, seed: int = 0, aug: AugmentConfig = AugmentConfig(), workers: int = 1,
                 negative_rate: float = 0.0, sizes: tuple[int, ...] = ()):
        super().__init__(workers=workers, use_multiprocessing=False)
        self.images, self.masks = images, masks
        self.batch_size, self.size, self.train, self.seed, self.aug = batch_size, size, train, seed, aug
        self.sizes = tuple(sizes) if train else ()
        self.negative_rate = negative_rate if train else 0.0
        self.negatives = self._negative_boxes() if self.negative_rate > 0 else []
        self.negative_p: np.ndarray | None = None  # draw probabilities over self.negatives (None: uniform)
        self.epoch = 0
        self.order = self._order()

    def _negative_boxes(self) -> list[tuple[int, tuple[int, int, int, int]]]:
        from training.negatives import free_box

        boxes = [(i, free_box(m > 127)) for i, m in enumerate(self.masks)]
        found = [(i, b) for i, b in boxes if b is not None]
        if not found:
            raise ValueError("negative_rate > 0 but no training frame has a polyp-free crop")
        return found

    def pick_negative(self, rng: np.random.Generator) -> int:
        """Index into self.negatives of the next polyp-free crop."""
        if self.negative_p is None:
            return int(rng.integers(len(self.negatives)))
        return int(rng.choice(len(self.negatives), p=self.negative_p))

    def _negative(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        i, (x, y, w, h) = self.negatives[self.pick_negative(rng)]
        side = self.images.shape[1]
        piece = cv2.resize(self.images[i, y:y + h, x:x + w], (side, side), interpolation=cv2.INTER_LINEAR)
        return piece, np.zeros((side, side), np.uint8)

    def negative_inputs(self) -> np.ndarray:
        """Every polyp-free crop, unaugmented, at the model input: (N, S, S, 3) uint8 (for mining; a
        quarter of float32's memory, ~250 MB for the 1,291 training frames at 256)."""
        from training.negatives import model_inputs

        return model_inputs(self.images, self.negatives, self.size)

    def _order(self) -> np.ndarray:
        if not self.train:
            return np.arange(len(self.images))
        return np.random.default_rng([self.seed, self.epoch]).permutation(len(self.images))

    def __len__(self) -> int:
        n = len(self.images)
        return n // self.batch_size if self.train else -(-n // self.batch_size)

    def on_epoch_end(self) -> None:
        self.start_epoch(self.epoch + 1)

    def start_epoch(self, epoch: int) -> None:
        """Draw the given epoch's order and samples next (a resumed run starts past 0)."""
        self.epoch = epoch
        self.order = self._order()

    def batch_side(self, index: int) -> int:
        """Side of training batch ``index`` this epoch: ``size``, or ``sizes`` in turn (multi-scale).

        In turn, not drawn: each side gets an equal share of the steps (give or take one), and
        consecutive batches always differ, which Keras needs (on TensorFlow it fixes the dataset's
        shapes from the first two batches; two equal sides there would make a later batch of another
        side fail).
        """
        if not self.sizes:
            return self.size
        return self.sizes[(index + self.epoch) % len(self.sizes)]

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        idx = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        side = self.batch_side(index) if self.train else self.size
        xs, ys = [], []
        for i in idx:
            if self.train:
                image, mask = self._negative(rng) if self.negative_rate and rng.random() < self.negative_rate else (
                    self.images[i], self.masks[i])
                img, msk = augment_pair(rng, image, mask, side, self.aug)
            else:
                img = cv2.resize(self.images[i], (self.size, self.size), interpolation=cv2.INTER_AREA)
                msk = cv2.resize(self.masks[i], (self.size, self.size), interpolation=cv2.INTER_LINEAR)
            xs.append(img)
            ys.append(msk)
        x = np.stack(xs).astype(np.float32)
        y = (np.stack(ys)[..., None] > 127).astype(np.float32)
        return x, y
