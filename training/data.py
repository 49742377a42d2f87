"""Polyp datasets: find image/mask pairs, apply split files, hold out validation, cache compactly.

Layouts understood (a dataset is one folder):
- ``images/`` + ``masks/`` with optional ``train.txt`` / ``test.txt`` (one stem per line): the
  layout of ../shared/data, and Kvasir-SEG as published (``Kvasir-SEG/images``, ``masks``);
- PraNet's ``image/`` + ``mask/`` (``TrainDataset/``, ``TestDataset/<name>/``).
Masks are read as grey and thresholded at 127. Images are returned RGB.

Why a cache: decoding 1450 JPEGs of up to 1920 px every epoch costs more than a training step on
a GPU. ``build_cache`` decodes and resizes once to a square a little larger than the input (room
for scale/crop augmentation) and stores JPEG/PNG bytes in one ``.npz`` (~60 MB), which also makes
a run on a machine without these folders (e.g. JAX + CUDA, no TensorFlow) a one-file copy.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine.errors import DataError

IMAGE_DIRS = ("images", "image")
MASK_DIRS = ("masks", "mask")
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


@dataclass(frozen=True)
class Sample:
    """One frame of a dataset: its stem, files and (optional) video sequence."""

    dataset: str
    stem: str
    image: Path
    mask: Path
    group: str  # sequence id where known, else the stem (used to keep val frames out of train videos)


def _subdir(folder: Path, names: Sequence[str]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_dir()), None)


def _files_by_stem(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_EXTS}


def _sequences(folder: Path) -> dict[str, str]:
    path = folder / "sequences.csv"
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        return {row["frame"]: row["sequence"] for row in csv.DictReader(f)}


def find_samples(folder: str | Path, split: str = "all") -> list[Sample]:
    """Image/mask pairs of one dataset folder; ``split`` is "all", "train" or "test".

    With split "train"/"test" the stems listed in ``<split>.txt`` are used; when the file does
    not exist, "test" means every frame (an unseen-domain test set such as CVC-ColonDB).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"dataset folder not found: {folder}")
    img_dir, mask_dir = _subdir(folder, IMAGE_DIRS), _subdir(folder, MASK_DIRS)
    if img_dir is None or mask_dir is None:
        raise DataError(f"{folder}: expected images/ and masks/ (or image/ and mask/) folders")
    images, masks = _files_by_stem(img_dir), _files_by_stem(mask_dir)
    stems = [s for s in images if s in masks]
    split_file = folder / f"{split}.txt"
    if split != "all" and split_file.is_file():
        wanted = [line.strip() for line in split_file.read_text().splitlines() if line.strip()]
        missing = [s for s in wanted if s not in images or s not in masks]
        if missing:
            raise DataError(f"{split_file}: {len(missing)} listed frames missing, e.g. {missing[0]}")
        stems = wanted
    elif split == "train":
        raise DataError(f"{folder}: no train.txt; a dataset without a split file is test-only")
    if not stems:
        raise DataError(f"{folder}: no image/mask pairs found")
    seq = _sequences(folder)
    return [Sample(folder.name, s, images[s], masks[s], seq.get(s, s)) for s in stems]


def read_pair(sample: Sample) -> tuple[np.ndarray, np.ndarray]:
    """(RGB uint8 HxWx3, mask uint8 HxW in {0, 1}) at the original resolution."""
    image = cv2.imread(str(sample.image), cv2.IMREAD_COLOR)
    mask = cv2.imread(str(sample.mask), cv2.IMREAD_GRAYSCALE)
    if image is None or mask is None:
        raise DataError(f"cannot read {sample.image if image is None else sample.mask}")
    if mask.shape != image.shape[:2]:
        mask = cv2.resize(mask, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
    return image[:, :, ::-1].copy(), (mask > 127).astype(np.uint8)


def split_train_val(samples: Sequence[Sample], val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (train, val): per dataset, whole sequences (or frames) drawn at random for val.

    Why groups: neighbouring frames of one video are near-duplicates; a validation frame whose
    twin is in training would make model selection optimistic.
    """
    rng = np.random.default_rng(seed)
    train, val = [], []
    for ds in sorted({s.dataset for s in samples}):
        idx = [i for i, s in enumerate(samples) if s.dataset == ds]
        groups = sorted({samples[i].group for i in idx})
        rng.shuffle(groups)
        target, chosen, count = round(val_fraction * len(idx)), set(), 0
        for g in groups:
            if count >= target:
                break
            chosen.add(g)
            count += sum(1 for i in idx if samples[i].group == g)
        for i in idx:
            (val if samples[i].group in chosen else train).append(i)
    return train, val


def fit_and_validation_samples(data_root: str | Path, train_sets: Sequence[str], val_fraction: float, seed: int
                               ) -> tuple[list[Sample], list[Sample]]:
    """(frames training learns from, frames of its held-out validation split), as training splits them."""
    samples = [s for ds in train_sets for s in find_samples(Path(data_root) / ds, "train")]
    fit_idx, val_idx = split_train_val(samples, val_fraction, seed)
    return [samples[i] for i in fit_idx], [samples[i] for i in val_idx]


def validation_samples(data_root: str | Path, train_sets: Sequence[str], val_fraction: float, seed: int
                       ) -> list[Sample]:
    """The frames of training's held-out validation split: what every choice is made on."""
    return fit_and_validation_samples(data_root, train_sets, val_fraction, seed)[1]


def build_cache(data_root: str | Path, train_sets: Sequence[str], out_path: str | Path, size: int,
                val_fraction: float, seed: int) -> Path:
    """Decode, resize (stretch) to size x size and store the training frames in one .npz."""
    samples = [s for ds in train_sets for s in find_samples(Path(data_root) / ds, "train")]
    train_idx, val_idx = split_train_val(samples, val_fraction, seed)
    is_val = np.zeros(len(samples), bool)
    is_val[val_idx] = True
    jpgs, pngs = [], []
    for s in samples:
        image, mask = read_pair(s)
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask * 255, (size, size), interpolation=cv2.INTER_LINEAR)
        jpgs.append(cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])[1])
        pngs.append(cv2.imencode(".png", mask)[1])
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out_path, size=size, seed=seed, val_fraction=val_fraction, is_val=is_val,
             names=np.array([f"{s.dataset}/{s.stem}" for s in samples]),
             **_pack("jpg", jpgs), **_pack("png", pngs))
    return out_path


def _pack(prefix: str, blobs: list[np.ndarray]) -> dict[str, np.ndarray]:
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    return {f"{prefix}_bytes": np.concatenate([b.ravel() for b in blobs]), f"{prefix}_offsets": offsets}


@dataclass(frozen=True)
class Cache:
    """Decoded training frames: RGB uint8 (N, C, C, 3), masks uint8 (N, C, C) in 0..255."""

    images: np.ndarray
    masks: np.ndarray
    names: np.ndarray
    is_val: np.ndarray
    meta: dict[str, Any]


def load_cache(path: str | Path) -> Cache:
    """Read a cache written by ``build_cache`` into memory."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"training cache not found: {path}")
    with np.load(path) as z:
        jb, jo, pb, po = z["jpg_bytes"], z["jpg_offsets"], z["png_bytes"], z["png_offsets"]
        images = np.stack([cv2.imdecode(jb[a:b], cv2.IMREAD_COLOR)[:, :, ::-1]
                           for a, b in zip(jo[:-1], jo[1:], strict=True)])
        masks = np.stack([cv2.imdecode(pb[a:b], cv2.IMREAD_GRAYSCALE)
                          for a, b in zip(po[:-1], po[1:], strict=True)])
        meta = {k: z[k].item() for k in ("size", "seed", "val_fraction")}
        return Cache(images, masks, z["names"], z["is_val"], meta)


def load_training_frames(cfg: Any, size: int, count: int, seed: int = 0) -> np.ndarray:
    """``count`` training frames (train split, not val), RGB float32 0..255 (N, size, size, 3).

    For int8 calibration: representative frames must come from the training distribution.
    """
    samples = [s for ds in cfg.train_sets for s in find_samples(Path(cfg.data_root) / ds, "train")]
    train_idx, _ = split_train_val(samples, cfg.val_fraction, cfg.seed)
    rng = np.random.default_rng(seed)
    pick = rng.choice(train_idx, size=min(count, len(train_idx)), replace=False)
    frames = [cv2.resize(read_pair(samples[i])[0], (size, size), interpolation=cv2.INTER_AREA) for i in pick]
    return np.stack(frames).astype(np.float32)
