"""Choose the ConvCRF weights on the validation split (held out from training, never a test split).

Why: ConvCRF's kernel weights decide whether it sharpens boundaries or erases small polyps; the
right strength depends on the model's calibration. The model runs once per validation frame; each
candidate CRF setting then re-scores the cached outputs at the frame's original resolution.

    python -m training.tune_crf --model assets/lgps_int8.tflite [--config config.yaml]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
from pathlib import Path

import cv2

from engine.config import load_config
from engine.convcrf import ConvCRF
from engine.errors import one_line_errors
from engine.segmenter import Segmenter
from training.data import validation_samples
from training.metrics import DatasetScores

WEIGHT_SCALES = (0.02, 0.05, 0.1, 0.2, 0.4, 1.0)  # times the ConvCRF paper's (3, 10) compatibilities
COLOUR_SIGMAS = (13.0, 30.0)


def validation_outputs(cfg, model: Path, limit: int | None):
    """(model output, mask) for every validation frame: the same split training selects on."""
    t = cfg.training
    samples = validation_samples(t.data_root, t.train_sets, t.val_fraction, t.seed)
    seg = Segmenter(model, cfg.threads.inference, cfg.segmenter.input_mode)
    outputs = []
    for sample in samples[:limit]:
        frame = cv2.imread(str(sample.image), cv2.IMREAD_COLOR)
        mask = cv2.imread(str(sample.mask), cv2.IMREAD_GRAYSCALE)
        outputs.append((seg.infer(frame), mask > 127))
    return seg, outputs


def score(seg: Segmenter, outputs, crf: ConvCRF | None, threshold: float) -> float:
    scores = DatasetScores()
    for out, gt in outputs:
        prob = crf.refine(out.prob, out.image) if crf is not None else out.prob
        scores.add(gt, seg.to_frame(prob, gt.shape, out.content) > threshold)
    return float(scores.summary()["mean_dice"])


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.tune_crf", description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="the .tflite to tune for (default: segmenter.model)")
    parser.add_argument("--config", help="config.yaml (training: split, crf: starting point)")
    parser.add_argument("--limit", type=int, help="first N validation frames (quick checks)")
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    seg, outputs = validation_outputs(cfg, Path(args.model or cfg.segmenter.model), args.limit)
    threshold = cfg.postprocess.threshold
    print(f"validation frames: {len(outputs)}; per-image mean Dice at original resolution, threshold {threshold}")
    print("| pos_weight | app_weight | app_col_sigma | val mean Dice |\n|---:|---:|---:|---:|")
    print(f"| CRF off | | | {score(seg, outputs, None, threshold):.4f} |")
    best = None
    for scale, col in itertools.product(WEIGHT_SCALES, COLOUR_SIGMAS):
        crf_cfg = dataclasses.replace(cfg.crf, pos_weight=3.0 * scale, app_weight=10.0 * scale, app_col_sigma=col)
        dice = score(seg, outputs, ConvCRF(crf_cfg), threshold)
        print(f"| {crf_cfg.pos_weight:.2f} | {crf_cfg.app_weight:.2f} | {col:.0f} | {dice:.4f} |")
        if best is None or dice > best[0]:
            best = (dice, crf_cfg)
    print(f"best: pos_weight {best[1].pos_weight:.2f}, app_weight {best[1].app_weight:.2f}, "
          f"app_col_sigma {best[1].app_col_sigma:.0f} (val mean Dice {best[0]:.4f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
