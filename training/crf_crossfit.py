"""Learn the ConvCRF on frames the network never trained on, and judge it only on frames it was not fit on.

Why: fitted on the network's own training frames (``training.crf_fit``), where its output is nearly
perfect, the CRF learned to trust the network more than unseen frames warrant and lost to the
hand-picked values on validation (docs/training.md). The validation frames and their polyp-free
crops show the network's real errors. K-fold by group keeps every judged frame out of the fit that
judges it: a ClinicDB video sequence is one group (its frames are near-duplicates), a Kvasir frame
is one, and a polyp-free crop travels with the frame it was cut from. The out-of-fold scores decide
whether the learned CRF earns its place (issue: it must raise Dice *and* lower false alarms against
"off"); ``--write-sidecar`` then fits once on all the material and writes ``<model>.crf.json``.

    python -m training.crf_crossfit --model assets/lgps_int8.tflite \\
        --stills runs/val_stills --polyp-free runs/negatives/val --json docs/results/crf_crossfit_v3.json

The JSON holds, per setting (off / the config's values / learned out of fold), the same per-dataset
records as ``main.py evaluate --json --per-frame``, so ``python -m training.compare`` pairs them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine.cli_args import non_negative, non_negative_int
from engine.errors import DataError, UsageError, one_line_errors
from training.losses import APP_MIN_AREA_FRAC

DEFAULT_FOLDS = 3


@dataclass
class Frame:
    """One validation frame or polyp-free crop: the network's output once, and its masks."""

    name: str  # <dataset>_<stem>, as written by training/negatives.py
    folder: str  # the result key (the folder's name, as main.py evaluate keys it)
    prob: np.ndarray  # the network's probability on the model grid
    image: np.ndarray  # the fitted frame on the model grid (what the CRF's appearance kernel sees)
    content: tuple[int, int, int, int]
    grid_mask: np.ndarray  # float32 target on the model grid (for fitting)
    mask: np.ndarray  # bool at the original resolution (for scoring)
    view: bool = False  # a moved view of a frame (training.pans' pan and zoom): fitted on, never scored


def sequence_groups(names: list[str], data_root: Path) -> list[str]:
    """The group of each ``<dataset>_<stem>`` name: its video sequence where the dataset has one, else itself."""
    from training.data import find_samples

    by_dataset: dict[str, dict[str, str]] = {}
    groups = []
    for name in names:
        dataset, _, stem = name.partition("_")
        if dataset not in by_dataset:
            folder = data_root / dataset
            by_dataset[dataset] = {s.stem: s.group for s in find_samples(folder)} if folder.is_dir() else {}
        groups.append(f"{dataset}/{by_dataset[dataset].get(stem, stem)}")
    return groups


def assign_folds(groups: list[str], folds: int, seed: int) -> np.ndarray:
    """Fold of each item: whole groups, largest first, each to the fold with the fewest items so far."""
    if folds < 2:
        raise UsageError("--folds must be at least 2")
    unique = sorted(set(groups))
    if len(unique) < folds:
        raise DataError(f"{len(unique)} groups cannot fill {folds} folds")
    sizes = Counter(groups)
    order = np.random.default_rng(seed).permutation(len(unique))
    ranked = sorted((unique[i] for i in order), key=lambda g: -sizes[g])  # stable: ties keep the shuffle
    load, fold_of = [0] * folds, {}
    for g in ranked:
        k = int(np.argmin(load))
        fold_of[g] = k
        load[k] += sizes[g]
    return np.array([fold_of[g] for g in groups])


def _through_network(seg: Any, name: str, folder: str, image: np.ndarray, mask: np.ndarray, view: bool) -> Frame:
    out = seg.infer(image)
    x, y, w, h = out.content
    grid = np.zeros(out.prob.shape, np.float32)
    grid[y:y + h, x:x + w] = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST)
    return Frame(name, folder, out.prob, out.image.astype(np.float32), out.content, grid, mask, view)


def load_material(seg: Any, folders: list[Path], views: int = 0, seed: int = 0) -> list[Frame]:
    """Every frame of ``folders`` through the network once (engine Segmenter, as the app runs it).

    ``views``: also that many moved views of each frame (points along a ``training.pans`` pan and
    zoom, the polyp kept in view), for fitting only: what the app sees on video is the network's
    output on such moving views, and its alarms there are what the CRF must not keep.
    """
    from training.data import find_samples
    from training.pans import pan_clip

    rng = np.random.default_rng(seed)
    frames = []
    for folder in folders:
        for s in find_samples(folder):
            image = cv2.imread(str(s.image), cv2.IMREAD_COLOR)
            mask = cv2.imread(str(s.mask), cv2.IMREAD_GRAYSCALE)
            if image is None or mask is None:
                raise DataError(f"cannot read {s.image if image is None else s.mask}")
            polyp = mask > 127
            frames.append(_through_network(seg, s.stem, folder.name, image, polyp, view=False))
            if views:
                for v_image, v_mask in zip(*pan_clip(image, polyp.astype(np.uint8), rng, frames=views), strict=True):
                    frames.append(_through_network(seg, s.stem, folder.name, v_image, v_mask > 0, view=True))
    return frames


def score(frames: list[Frame], crfs: list[Any | None], seg: Any, threshold: float, min_area_frac: float
          ) -> dict[str, dict[str, Any]]:
    """Per-folder summary and per-frame records (``evaluate --per-frame`` format); frame i refined by crfs[i]."""
    from training.evaluate import app_reports_polyp
    from training.metrics import DatasetScores

    scores: dict[str, DatasetScores] = {}
    for f, crf in zip(frames, crfs, strict=True):
        if f.view:
            continue
        prob = crf.refine(f.prob, f.image) if crf is not None else f.prob
        prob = seg.to_frame(prob, f.mask.shape, f.content)
        scores.setdefault(f.folder, DatasetScores()).add(
            f.mask, prob > threshold, reported=app_reports_polyp(prob, threshold, min_area_frac), name=f.name)
    return {k: dict(v.summary(), frames=v.per_frame()) for k, v in scores.items()}


def balanced_draws(masks: np.ndarray) -> np.ndarray:
    """Draw chances under which polyp-free and polyp frames fill a batch equally (each kind half)."""
    free = masks.reshape(len(masks), -1).max(axis=1) == 0
    if free.all() or not free.any():
        return np.full(len(masks), 1.0 / len(masks))
    return np.where(free, 0.5 / free.sum(), 0.5 / (~free).sum())


def fit_params(frames: list[Frame], start: dict[str, float], crf_cfg: Any, steps: int, seed: int,
               balance: bool = False, alarm_weight: float = 0.0, min_area_frac: float = APP_MIN_AREA_FRAC
               ) -> tuple[dict[str, float], float, float]:
    """Back-propagate through the mean-field iterations on ``frames``: (learned values, loss before, after).

    ``balance``: polyp-free crops fill half of every batch (their share of the material is lower);
    ``alarm_weight``: weight of the frame-level detection loss (``training.losses.detection_loss``)."""
    from training.crf_fit import DifferentiableConvCRF, fit, mean_loss

    probs = np.stack([f.prob for f in frames])
    images = np.stack([f.image for f in frames])
    masks = np.stack([f.grid_mask for f in frames])
    crf = DifferentiableConvCRF(start, crf_cfg.kernel_size, crf_cfg.blur, crf_cfg.iterations)
    terms = {"alarm_weight": alarm_weight, "min_area_frac": min_area_frac}
    before = mean_loss(crf, probs, images, masks, **terms)
    fit(crf, probs, images, masks, steps, seed=seed, draw_p=balanced_draws(masks) if balance else None, **terms)
    return crf.values(), before, mean_loss(crf, probs, images, masks, **terms)


def headline(result: dict[str, dict[str, Any]], stills: str, polyp_free: str) -> str:
    alarms = sum(f["reported"] for f in result[polyp_free]["frames"])
    return (f"Dice {result[stills]['mean_dice']:.4f} on {result[stills]['n']} frames, "
            f"false alarms {alarms} of {result[polyp_free]['n']}")


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    from engine.config import load_config
    from engine.convcrf import ConvCRF, effective_crf
    from engine.segmenter import Segmenter
    from training.compare import compare
    from training.crf_fit import LEARNED, write_sidecar
    from training.train import load_training_config

    p = argparse.ArgumentParser(prog="python -m training.crf_crossfit", description=__doc__.split("\n")[0])
    p.add_argument("--config", default=None)
    p.add_argument("--model", default=None, help="int8 model whose outputs are refined (default: config)")
    p.add_argument("--stills", required=True, help="validation frames with masks (runs/val_stills)")
    p.add_argument("--polyp-free", required=True, help="their polyp-free crops (runs/negatives/val)")
    p.add_argument("--data-root", default=None,
                   help="where the datasets' sequences.csv files are (default: the training config's data_root)")
    p.add_argument("--folds", type=int, default=DEFAULT_FOLDS)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--balance", action="store_true", help="polyp-free crops fill half of every fitting batch")
    p.add_argument("--alarm-weight", type=non_negative, default=0.0,
                   help="weight of the frame-level loss on what the app reports (false alarms and misses)")
    p.add_argument("--views", type=non_negative_int, default=0,
                   help="moved views (pan and zoom) of each frame added to the fit, never scored")
    p.add_argument("--json", required=True, metavar="PATH", help="the three settings' scores and each fold's fit")
    p.add_argument("--write-sidecar", action="store_true",
                   help="then fit on all the material and write <model>.crf.json beside the model")
    args = p.parse_args(argv)
    config = load_config(args.config)
    model = Path(args.model or config.segmenter.model)
    config = config.replace("segmenter", model=str(model))
    folders = [Path(args.stills), Path(args.polyp_free)]
    if folders[0].name == folders[1].name:
        raise UsageError("--stills and --polyp-free need folders of different names (they key the results)")
    crf_cfg = config.crf
    start = {name: getattr(crf_cfg, name) for name in LEARNED}
    seg = Segmenter(model, threads=config.threads.inference, input_mode=config.segmenter.input_mode)
    t0 = time.time()
    frames = load_material(seg, folders, args.views, args.seed)
    post = config.postprocess
    objective = {"alarm_weight": args.alarm_weight, "min_area_frac": post.min_area_frac}
    data_root = Path(args.data_root or load_training_config(args.config).data_root)
    groups = sequence_groups([f.name for f in frames], data_root)
    fold = assign_folds(groups, args.folds, args.seed)
    fits, oof_crfs = [], [None] * len(frames)
    for k in range(args.folds):
        train = [f for f, g in zip(frames, fold, strict=True) if g != k]
        learned, before, after = fit_params(train, start, crf_cfg, args.steps, args.seed, args.balance, **objective)
        judged = sum(g == k and not f.view for f, g in zip(frames, fold, strict=True))
        fits.append({"fold": k, "fit_frames": sum(not f.view for f in train),
                     "fit_views": sum(f.view for f in train), "judged_frames": int(judged),
                     "loss_before": before, "loss_after": after, **learned})
        crf = ConvCRF(dataclasses.replace(crf_cfg, **learned))
        for i in np.nonzero(fold == k)[0]:
            oof_crfs[i] = crf
    settings = {name: score(frames, crfs, seg, post.threshold, post.min_area_frac) for name, crfs in (
        ("off", [None] * len(frames)), ("config", [ConvCRF(effective_crf(config))] * len(frames)),
        ("learned_out_of_fold", oof_crfs))}
    stills, free = folders[0].name, folders[1].name
    for name, result in settings.items():
        print(f"{name:>20}: {headline(result, stills, free)}")
    paired = {f"learned_out_of_fold - {ref}": compare(settings[ref], settings["learned_out_of_fold"])
              for ref in ("off", "config")}
    for name, result in paired.items():
        d, a = result[stills], result[free]
        print(f"{name}: Dice {d['difference']:+.4f} ({d['ci_low']:+.4f} .. {d['ci_high']:+.4f}), alarms "
              f"{a['alarms_b']} vs {a['alarms_a']} (McNemar p {a['mcnemar_p']:.3f})")
    payload: dict[str, Any] = {"model": str(model), "folds": args.folds, "steps": args.steps, "seed": args.seed,
                               "balance": args.balance, "alarm_weight": args.alarm_weight, "views": args.views,
                               "start": start, "config_crf": dataclasses.asdict(effective_crf(config)),
                               "fits": fits, "groups": len(set(groups)), "paired": paired, "settings": settings}
    if args.write_sidecar:
        learned, before, after = fit_params(frames, start, crf_cfg, args.steps, args.seed, args.balance, **objective)
        out = write_sidecar(model, learned, {
            "model": model.name, "material": [str(f) for f in folders],
            "frames": sum(not f.view for f in frames),
            "steps": args.steps, "balance": args.balance, **objective, "views": args.views,
            "loss_before": before, "loss_after": after,
            "start": start, "kernel_size": crf_cfg.kernel_size, "blur": crf_cfg.blur,
            "iterations": crf_cfg.iterations,
            "out_of_fold": {n: headline(r, stills, free) for n, r in settings.items()}})
        payload["sidecar"] = {"path": str(out), **learned}
        print(f"fitted on all {len(frames)} frames: loss {before:.4f} -> {after:.4f}; learned "
              + ", ".join(f"{k} {v:.3g}" for k, v in learned.items()) + f" -> {out}")
    payload["seconds"] = round(time.time() - t0, 1)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(payload, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
