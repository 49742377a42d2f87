"""``main.py evaluate``: score a model on images/ + masks/ folders, the way the app runs it.

The int8/float32 ``.tflite`` goes through the engine's own ``Segmenter`` (and ``ConvCRF`` with
--crf on); a Keras generator (``.weights.h5`` or ``.keras``) goes through the same resize, CRF and
back-to-frame path with Keras doing the inference. Masks are compared at their original
resolution. Keras/TensorFlow are imported only for a Keras model: the app runtime has neither.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from engine.cli_args import positive_int, probability
from engine.errors import DataError, ModelError, UsageError
from engine.segmenter import ModelOutput, Segmenter
from training.metrics import DatasetScores

KERAS_SUFFIXES = (".h5", ".keras")
COLUMNS = [("n", "n", "{}"), ("mean_dice", "mean Dice", "{:.4f}"), ("mean_iou", "mean IoU", "{:.4f}"),
           ("mean_precision", "precision", "{:.4f}"), ("mean_recall", "recall", "{:.4f}"),
           ("mean_f2", "F2", "{:.4f}"), ("pooled_dice", "pooled Dice (seed)", "{:.4f}"),
           ("two_class_miou", "2-class mIoU (seed)", "{:.4f}"), ("false_alarm_rate", "false alarms (app)", "{:.3f}"),
           ("pixel_false_alarm_rate", "false alarms (any pixel)", "{:.3f}")]


class KerasSegmenter(Segmenter):
    """The Segmenter's pre/post-processing with a Keras generator doing the inference (float)."""

    def __init__(self, model_path: str | Path, input_size: int = 256, input_mode: str = "stretch"):
        self.path, self.input_mode, self.name = Path(model_path), input_mode, Path(model_path).stem
        if not self.path.is_file():
            raise ModelError(f"model file not found: {self.path}")
        try:
            import keras
        except ImportError:
            raise ModelError(f"evaluating a Keras model ({self.path.name}) needs TensorFlow/Keras: "
                             "pip install -e '.[train]'") from None

        if self.path.suffix == ".keras":
            self.model = keras.saving.load_model(self.path, compile=False)
        else:
            from training.model import build_generator, load_generator_weights

            self.model = build_generator(input_size)
            load_generator_weights(self.model, self.path)
        self.input_size = int(self.model.input_shape[1])
        self.input_dtype = "float32"

    def infer(self, frame_bgr: np.ndarray, fitted=None) -> ModelOutput:
        image, content = fitted if fitted is not None else self.fit(frame_bgr)
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB).astype(np.float32)
        prob = np.asarray(self.model(rgb[None], training=False))[0, :, :, 0]
        return ModelOutput(np.clip(prob, 0.0, 1.0).astype(np.float32), image, content)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``main.py evaluate``."""
    parser.add_argument("--data", action="append", metavar="DIR",
                        help="dataset folder with images/ and masks/ (test.txt used when present); repeatable")
    parser.add_argument("--video", action="append", metavar="DIR",
                        help="clips: a folder with images/, masks/ and sequences.csv, or video files with "
                             "<name>_masks/ folders; run through the live per-frame path (training/video_eval.py)")
    parser.add_argument("--tracking", choices=("on", "off"), default=None,
                        help="--video: persistent-alert tracker (default: config); off = frame by frame")
    parser.add_argument("--smoothing", choices=("on", "off"), default=None,
                        help="--video: the pixel EMA over frames (default: config)")
    parser.add_argument("--model", default=None,
                        help="a .tflite (engine path) or Keras .weights.h5/.keras (float); default from config")
    parser.add_argument("--crf", choices=("on", "off"), default=None, help="ConvCRF refinement (default: config)")
    parser.add_argument("--threshold", type=probability, default=None, help="probability threshold (default: config)")
    parser.add_argument("--config", default=None, help="config.yaml (segmenter, crf, postprocess sections)")
    parser.add_argument("--limit", type=positive_int, default=None, help="first N frames per dataset (quick checks)")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--per-frame", action="store_true",
                        help="--json: also each frame's Dice and verdict (for python -m training.compare)")


def _open_model(path: Path, cfg: Any) -> Segmenter:
    if path.suffix in KERAS_SUFFIXES:
        return KerasSegmenter(path, input_mode=cfg.segmenter.input_mode)
    return Segmenter(path, threads=cfg.threads.inference, input_mode=cfg.segmenter.input_mode)


def app_reports_polyp(prob: np.ndarray, threshold: float, min_area_frac: float) -> bool:
    """Whether the app would outline a polyp on this map: its own extractor (threshold, small regions removed)."""
    from engine.postprocess import PolypExtractor

    return bool(PolypExtractor().extract(prob, threshold, min_area_frac)[1])


def evaluate_folder(seg: Segmenter, folder: Path, crf: Any, threshold: float, limit: int | None = None,
                    min_area_frac: float = 0.0005, per_frame: bool = False) -> dict[str, Any]:
    """Per-dataset summary: every test frame (test.txt, or all) scored at its own resolution.

    A frame counts as "reported" when the app's post-processing (threshold, regions smaller than
    ``min_area_frac`` of the frame removed) leaves at least one polyp: what the window would outline.
    ``per_frame`` adds each frame's scores under "frames" (``python -m training.compare`` pairs them).
    """
    from training.data import find_samples

    samples = find_samples(folder, "test")[:limit]
    scores = DatasetScores()
    for s in samples:
        frame = cv2.imread(str(s.image), cv2.IMREAD_COLOR)
        mask = cv2.imread(str(s.mask), cv2.IMREAD_GRAYSCALE)
        if frame is None or mask is None:
            raise DataError(f"cannot read {s.image if frame is None else s.mask}")
        out = seg.infer(frame)
        prob = crf.refine(out.prob, out.image) if crf is not None else out.prob
        prob = seg.to_frame(prob, mask.shape, out.content)
        scores.add(mask > 127, prob > threshold, reported=app_reports_polyp(prob, threshold, min_area_frac),
                   name=s.stem)
    summary = scores.summary()
    return dict(summary, frames=scores.per_frame()) if per_frame else summary


def markdown_table(results: dict[str, dict[str, Any]]) -> str:
    """Results as a Markdown table, one row per dataset."""
    lines = ["| dataset | " + " | ".join(h for _, h, _ in COLUMNS) + " |",
             "|---|" + "---:|" * len(COLUMNS)]
    for name, r in results.items():
        cells = ["–" if r.get(k) is None else fmt.format(r[k]) for k, _, fmt in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(args: argparse.Namespace, config: Any = None) -> int:
    """Evaluate, print a Markdown table (and write --json); 0 on success. `config`: already loaded."""
    from engine.config import DEFAULT_CONFIG_PATH, load_config
    from engine.convcrf import ConvCRF, effective_crf

    cfg = config or load_config(Path(args.config) if args.config else DEFAULT_CONFIG_PATH)
    if args.model:
        cfg = cfg.replace("segmenter", model=str(args.model))
    if bool(args.data) == bool(args.video):
        raise UsageError("evaluate needs --data DIR (stills) or --video DIR (clips), not both")
    if args.video:
        from training.video_eval import run_video

        return run_video(args, cfg)
    model_path = Path(args.model or cfg.segmenter.model)
    crf_on = cfg.crf.enabled if args.crf is None else args.crf == "on"
    threshold = cfg.postprocess.threshold if args.threshold is None else args.threshold
    folders = [Path(d) for d in args.data]
    for folder in folders:
        if not folder.is_dir():
            raise DataError(f"dataset folder not found: {folder}")
    seg = _open_model(model_path, cfg)
    crf = ConvCRF(effective_crf(cfg)) if crf_on else None
    names = [f.name for f in folders]
    # two folders of one name (a test set and its polyp-free crops): tell them apart by their parent
    keys = [n if names.count(n) == 1 else "/".join(f.parts[-2:]) for n, f in zip(names, folders, strict=True)]
    results = {key: evaluate_folder(seg, f, crf, threshold, args.limit, cfg.postprocess.min_area_frac,
                                    args.per_frame)
               for key, f in zip(keys, folders, strict=True)}
    kind = "Keras float" if model_path.suffix in KERAS_SUFFIXES else f"TFLite {seg.input_dtype}"
    print(f"model {model_path} ({kind}), ConvCRF {'on' if crf_on else 'off'}, threshold {threshold}; "
          "per-image means at original resolution; 'seed' columns = the LGPS script's pooled metrics; "
          f"false alarms (app) = share of polyp-free frames where the app outlines a polyp (regions under "
          f"{cfg.postprocess.min_area_frac:g} of the frame removed); (any pixel) = before that removal")
    print(markdown_table(results))
    if args.json:
        meta = {"model": str(model_path), "kind": kind, "crf": crf_on, "threshold": threshold,
                "min_area_frac": cfg.postprocess.min_area_frac}
        payload = {name: dict(r, **meta) for name, r in results.items()}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return 0
