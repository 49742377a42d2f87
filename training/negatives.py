"""Polyp-free material cut from polyp frames: training crops and still sets for choosing/reporting.

None of Kvasir-SEG, CVC-ClinicDB and CVC-ColonDB has a polyp-free frame, so a model trained on
them is never shown healthy mucosa and outlines "polyps" everywhere. The mucosa beside a polyp is
real healthy tissue, filmed by the same scope: the largest box of about the frame's aspect that
keeps clear of the polyp mask (dilated by a margin) is a polyp-free view of it.

    python -m training.negatives --data-root ../shared/data --out runs/negatives

writes, as ``images/`` + ``masks/`` folders that ``main.py evaluate`` reads:
- ``val/``: crops of the validation frames (training's own held-out split): for choices;
- ``test/<dataset>/``: crops of the test frames of each dataset: for reporting only;
- with ``--val-stills`` / ``--fit-stills``: the validation frames / the frames training learns from.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from engine.errors import DataError, one_line_errors

MARGIN_FRAC = 0.05  # dilation of the mask, fraction of the frame's shorter side
MIN_SIDE_FRAC = 0.45  # a crop is at least this fraction of the frame's sides
SEARCH_SIDE = 96  # the search runs on the mask shrunk to about this shorter side
SCALE_STEPS = 12


def free_box(mask: np.ndarray, margin_frac: float = MARGIN_FRAC, min_side_frac: float = MIN_SIDE_FRAC
             ) -> tuple[int, int, int, int] | None:
    """The largest (x, y, w, h) box of the frame's aspect clear of the dilated mask, or None.

    Among equally large boxes the one farthest from the polyp (largest clearance) is taken, so a
    crop never ends just beside the margin when it need not. Searched on a shrunk mask with an
    integral image; the box is then shrunk by one search cell so rounding cannot make it touch.
    """
    h, w = mask.shape[:2]
    fg = (mask > 0).astype(np.uint8)
    margin = max(1, int(round(margin_frac * min(h, w))))
    grown = cv2.dilate(fg, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * margin + 1, 2 * margin + 1)))
    if not grown.any():
        return 0, 0, w, h
    k = max(1.0, min(h, w) / SEARCH_SIDE)
    sh, sw = max(1, int(h / k)), max(1, int(w / k))
    # float INTER_AREA: a cell holding a single dilated pixel stays > 0 (uint8 could round it away)
    small = cv2.resize(grown.astype(np.float32), (sw, sh), interpolation=cv2.INTER_AREA) > 0
    kx, ky = w / sw, h / sh
    integral = cv2.integral(small.astype(np.uint8))
    clearance = cv2.distanceTransform((~small).astype(np.uint8), cv2.DIST_L2, 3)
    for scale in np.linspace(1.0, min_side_frac, SCALE_STEPS):
        bw, bh = int(np.ceil(scale * sw)) + 1, int(np.ceil(scale * sh)) + 1
        if bw > sw or bh > sh:
            continue
        inside = (integral[bh:, bw:] - integral[:-bh, bw:] - integral[bh:, :-bw] + integral[:-bh, :-bw])
        ys, xs = np.nonzero(inside == 0)
        if len(ys) == 0:
            continue
        centres = clearance[ys + bh // 2, xs + bw // 2]
        i = int(np.argmax(centres))
        x0, y0 = (xs[i] + 1) * kx, (ys[i] + 1) * ky
        x1, y1 = (xs[i] + bw - 1) * kx, (ys[i] + bh - 1) * ky
        box = int(np.ceil(x0)), int(np.ceil(y0)), int(np.floor(x1 - x0)), int(np.floor(y1 - y0))
        if box[2] >= min_side_frac * w * 0.95 and box[3] >= min_side_frac * h * 0.95:
            return box
    return None


def crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The box's pixels (a copy)."""
    x, y, w, h = box
    return image[y:y + h, x:x + w].copy()


def model_inputs(images: np.ndarray, boxes: Iterable[tuple[int, tuple[int, int, int, int]]], size: int
                 ) -> np.ndarray:
    """(frame index, box) pairs as polyp-free crops resized to the model input: (N, size, size, 3) uint8."""
    pieces = [cv2.resize(crop(images[i], box), (size, size), interpolation=cv2.INTER_AREA) for i, box in boxes]
    return np.stack(pieces) if pieces else np.zeros((0, size, size, 3), np.uint8)


def write_still_set(samples: Iterable, out: Path) -> tuple[int, int]:
    """Polyp-free crops of ``samples`` as out/images + out/masks (all zero); (frames, crops)."""
    from training.data import read_pair

    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    frames = crops = 0
    for s in samples:
        frames += 1
        image, mask = read_pair(s)
        box = free_box(mask)
        if box is None:
            continue
        name = f"{s.dataset}_{s.stem}"
        piece = crop(image, box)
        cv2.imwrite(str(out / "images" / f"{name}.png"), piece[:, :, ::-1])
        cv2.imwrite(str(out / "masks" / f"{name}.png"), np.zeros(piece.shape[:2], np.uint8))
        crops += 1
    if crops == 0:
        raise DataError(f"no polyp-free crop could be cut for {out}")
    return frames, crops


def copy_stills(samples: Iterable, out: Path) -> int:
    """The frames themselves, byte for byte, as out/images + out/masks named <dataset>_<stem>: a still
    set ``main.py evaluate --data`` scores at original resolution (the validation frames, for choices)."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "masks").mkdir(parents=True, exist_ok=True)
    count = 0
    for s in samples:
        name = f"{s.dataset}_{s.stem}"
        shutil.copyfile(s.image, out / "images" / f"{name}{s.image.suffix}")
        shutil.copyfile(s.mask, out / "masks" / f"{name}{s.mask.suffix}")
        count += 1
    return count


def write_all(data_root: Path, val: list, test_sets: list[str], out: Path) -> dict[str, tuple[int, int]]:
    """Polyp-free crops of the validation frames ``val`` and of each test set's frames."""
    from training.data import find_samples

    made = {"val": write_still_set(val, out / "val")}
    for ds in test_sets:
        made[f"test/{ds}"] = write_still_set(find_samples(data_root / ds, "test"), out / "test" / ds)
    return made


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    from training.train import load_training_config

    p = argparse.ArgumentParser(prog="python -m training.negatives", description=__doc__.split("\n")[0])
    p.add_argument("--config", default=None, help="config.yaml (training: data_root, train_sets, split)")
    p.add_argument("--data-root", default=None)
    p.add_argument("--test-sets", nargs="+", default=["kvasir-seg", "cvc-clinicdb", "cvc-colondb"])
    p.add_argument("--out", default="runs/negatives")
    p.add_argument("--val-stills", default="runs/val_stills",
                   help="also copy the validation frames here (training/validate_candidate.sh scores them); '' to skip")
    p.add_argument("--fit-stills", default="",
                   help="also copy the frames training learns from (its split minus validation) here: "
                        "how well a model fits them tells underfitting from poor generalisation; '' (default) to skip")
    args = p.parse_args(argv)
    cfg = load_training_config(args.config)
    root = Path(args.data_root or cfg.data_root)
    from training.data import fit_and_validation_samples

    fit, val = fit_and_validation_samples(root, cfg.train_sets, cfg.val_fraction, cfg.seed)
    for name, (frames, crops) in write_all(root, val, args.test_sets, Path(args.out)).items():
        print(f"{name}: {crops} polyp-free crops from {frames} frames -> {Path(args.out) / name}")
    if args.val_stills:  # the frames themselves, with polyps: the Dice half of a choice
        print(f"validation frames: {copy_stills(val, Path(args.val_stills))} copied -> {args.val_stills}")
    if args.fit_stills:
        print(f"training frames: {copy_stills(fit, Path(args.fit_stills))} copied -> {args.fit_stills}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
