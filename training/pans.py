"""Continuous-motion clips with ground truth: a slow pan and zoom over a still frame, mask moved with it.

The datasets' own sequences are frames picked far apart (a stress test of motion); a withdrawal is
continuous. A 2-second pan and zoom over one frame (50 frames at 25 fps) is a fair stand-in, and
its ground truth is exact: the mask goes through the same crops.

    python -m training.pans --out runs/pans

writes folders that ``main.py evaluate --video`` reads (images/, masks/, sequences.csv: one
sequence per pan):
- ``val_sequences/``: the validation frames that belong to video sequences (ClinicDB), as clips;
- ``val/``: pans over the validation frames (the polyp kept in view), for choices;
- ``val_free/``: pans over polyp-free crops of the validation frames (training/negatives.py);
- ``test/<dataset>/`` and ``test_free/<dataset>/``: the same from test frames, for reporting only.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from engine.errors import DataError, one_line_errors

FPS = 25
SECONDS = 2.0
ZOOM = (0.85, 0.65)  # the view's side as a fraction of the frame's, at the start and the end


def pan_clip(image: np.ndarray, mask: np.ndarray, rng: np.random.Generator, frames: int = int(FPS * SECONDS)
             ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``frames`` views (each resized to the frame's size) moving and zooming smoothly over ``image``.

    The view starts and ends at random places that keep the polyp's box inside it where it fits,
    so the polyp stays in view; a polyp-free image simply gets a random path.
    """
    h, w = mask.shape[:2]
    ys, xs = np.nonzero(mask)
    box = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) if len(xs) else None
    ends = []
    for zoom in ZOOM:
        vw, vh = zoom * w, zoom * h
        lo_x, hi_x, lo_y, hi_y = 0.0, w - vw, 0.0, h - vh
        if box is not None:  # the view must contain the box: its left edge in [box.x1 - vw, box.x0]
            lo_x, hi_x = max(lo_x, min(box[2] - vw, hi_x)), min(hi_x, max(box[0], lo_x))
            lo_y, hi_y = max(lo_y, min(box[3] - vh, hi_y)), min(hi_y, max(box[1], lo_y))
        ends.append((rng.uniform(lo_x, max(lo_x, hi_x)), rng.uniform(lo_y, max(lo_y, hi_y)), vw, vh))
    images, masks = [], []
    for t in np.linspace(0.0, 1.0, frames):
        ease = 0.5 - 0.5 * np.cos(np.pi * t)  # starts and stops gently, like a hand on the scope
        x, y, vw, vh = (a + (b - a) * ease for a, b in zip(ends[0], ends[1], strict=True))
        m = np.array([[w / vw, 0, -x * w / vw], [0, h / vh, -y * h / vh]], np.float32)
        images.append(cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
        masks.append(cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT))
    return images, masks


def write_pans(items: Iterable[tuple[str, np.ndarray, np.ndarray]], out: Path, seed: int) -> int:
    """Write one pan per (name, RGB image, mask 0/1) as out/images + out/masks + sequences.csv."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    rows, clips = [], 0
    for clip, (name, image, mask) in enumerate(items):
        rng = np.random.default_rng([seed, clip])
        frames, masks = pan_clip(image[:, :, ::-1], (mask > 0).astype(np.uint8) * 255, rng)
        for t, (frame, m) in enumerate(zip(frames, masks, strict=True)):
            stem = f"{name}_{t:03d}"
            cv2.imwrite(str(out / "images" / f"{stem}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
            cv2.imwrite(str(out / "masks" / f"{stem}.png"), m)
            rows.append({"frame": stem, "sequence": name})
        clips += 1
    if not clips:
        raise DataError(f"no frames to pan over for {out}")
    with (out / "sequences.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["frame", "sequence"])
        writer.writeheader()
        writer.writerows(rows)
    return clips


def write_sequences(samples, out: Path) -> int:
    """The validation frames that belong to a video sequence (ClinicDB), as clips in their own order."""
    import shutil

    in_sequences = [s for s in samples if s.group != s.stem]
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    rows = []
    for s in in_sequences:
        stem = f"{s.dataset}_{s.stem}"
        shutil.copyfile(s.image, out / "images" / f"{stem}{s.image.suffix}")
        shutil.copyfile(s.mask, out / "masks" / f"{stem}{s.mask.suffix}")
        rows.append({"frame": stem, "sequence": f"{s.dataset}_seq{s.group}"})
    with (out / "sequences.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["frame", "sequence"])
        writer.writeheader()
        writer.writerows(rows)
    return len({r["sequence"] for r in rows})


def _positives(samples) -> Iterable[tuple[str, np.ndarray, np.ndarray]]:
    from training.data import read_pair

    for s in samples:
        image, mask = read_pair(s)
        yield f"{s.dataset}_{s.stem}", image, mask


def _negatives(samples) -> Iterable[tuple[str, np.ndarray, np.ndarray]]:
    from training.data import read_pair
    from training.negatives import crop, free_box

    for s in samples:
        image, mask = read_pair(s)
        box = free_box(mask)
        if box is not None:
            piece = crop(image, box)
            yield f"{s.dataset}_{s.stem}", piece, np.zeros(piece.shape[:2], np.uint8)


def _every(samples: list, count: int | None) -> list:
    """At most ``count`` samples spread evenly over the list (all when None)."""
    if count is None or count >= len(samples):
        return samples
    return [samples[i] for i in np.linspace(0, len(samples) - 1, count).round().astype(int)]


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    from training.data import find_samples, validation_samples
    from training.train import load_training_config

    p = argparse.ArgumentParser(prog="python -m training.pans", description=__doc__.split("\n")[0])
    p.add_argument("--config", default=None)
    p.add_argument("--data-root", default=None)
    p.add_argument("--out", default="runs/pans")
    p.add_argument("--test-sets", nargs="+", default=["kvasir-seg", "cvc-clinicdb", "cvc-colondb"])
    p.add_argument("--per-set", type=int, default=16, help="pans per test set (spread over its frames)")
    p.add_argument("--val-count", type=int, default=None, help="pans over validation frames (default: all)")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    cfg = load_training_config(args.config)
    root, out = Path(args.data_root or cfg.data_root), Path(args.out)
    val_frames = validation_samples(root, cfg.train_sets, cfg.val_fraction, cfg.seed)
    val = _every(val_frames, args.val_count)
    made = {"val_sequences": write_sequences(val_frames, out / "val_sequences"),
            "val": write_pans(_positives(val), out / "val", args.seed),
            "val_free": write_pans(_negatives(val), out / "val_free", args.seed)}
    for ds in args.test_sets:
        test = _every(find_samples(root / ds, "test"), args.per_set)
        made[f"test/{ds}"] = write_pans(_positives(test), out / "test" / ds, args.seed)
        made[f"test_free/{ds}"] = write_pans(_negatives(test), out / "test_free" / ds, args.seed)
    for name, clips in made.items():
        print(f"{name}: {clips} clips -> {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
