"""Keras generator -> TFLite (full-integer int8, or float32) and the model card.

Why through a SavedModel: with Keras 3, ``TFLiteConverter.from_concrete_functions`` produces a
file with unfrozen weights (NaN output); ``model.export(..., "tf_saved_model")`` followed by
``from_saved_model`` is the path that works (see docs/DESIGN "Known traps").

int8 means full integer: int8 weights and activations, int8 input and output. Because the model
normalises inside, the input tensor carries raw pixels (scale 1, zero point -128) and the output
carries the sigmoid probability (scale 1/256, zero point -128); the engine reads both from the file.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ModelError, one_line_errors

REPO_ROOT = Path(__file__).resolve().parent.parent
QUANTIZE_CHOICES = ("int8", "float32")


def _tf() -> Any:
    import tensorflow as tf

    return tf


def export_tflite(
    model: Any, out_path: str | Path, representative: np.ndarray, quantize: str = "int8"
) -> Path:
    """Write ``model`` as a TFLite file; ``representative`` is (N, S, S, 3) float32 RGB 0..255.

    Returns the path written. ``representative`` calibrates activation ranges (int8 only): use
    real training frames so the ranges match what the model will see.
    """
    if quantize not in QUANTIZE_CHOICES:
        raise ValueError(f"quantize must be one of {QUANTIZE_CHOICES}, got {quantize!r}")
    rep = np.asarray(representative, dtype=np.float32)
    size = int(model.input_shape[1])
    if quantize == "int8" and (rep.ndim != 4 or rep.shape[1:] != (size, size, 3) or len(rep) == 0):
        raise ValueError(f"representative must be (N, {size}, {size}, 3), got {rep.shape}")
    if quantize == "int8":
        # Pin the input range to exactly 0..255 (two pixels of one frame) so the input tensor gets
        # scale 1 and zero point -128: the engine then feeds raw pixels without rounding.
        rep = rep.copy()
        rep[0, 0, 0], rep[0, 0, 1] = 0.0, 255.0
    tf = _tf()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if quantize == "int8":
        from training.quant_fixes import with_live_se_units

        model = with_live_se_units(model, rep)
    with tempfile.TemporaryDirectory(prefix="lgps_savedmodel_") as tmp:
        model.export(tmp, format="tf_saved_model", verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        if quantize == "int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: _representative_batches(rep)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        out_path.write_bytes(converter.convert())
    check_loads(out_path)
    return out_path


def check_loads(path: Path) -> None:
    """Load the file with LiteRT + XNNPACK in a child process: a bad file crashes the child, not us."""
    code = ("from ai_edge_litert.interpreter import Interpreter; import sys; "
            "i = Interpreter(model_path=sys.argv[1], num_threads=1); i.allocate_tensors(); i.invoke()")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise ModelError(f"exported {path} does not load in LiteRT (exit {done.returncode}): {tail}")


def _representative_batches(rep: np.ndarray) -> Iterator[list[np.ndarray]]:
    for frame in rep:
        yield [frame[None].astype(np.float32)]


def export_untrained(out_path: str | Path, input_size: int = 256, seed: int = 0) -> Path:
    """An untrained (random-init, no ImageNet) generator as int8 TFLite, for tests and fixtures.

    Its output is meaningless but its file format, shapes and quantisation are the real ones.
    """
    import keras

    from training.model import build_generator

    keras.utils.set_random_seed(seed)
    model = build_generator(input_size)
    rng = np.random.default_rng(seed)
    rep = rng.uniform(0, 255, size=(8, input_size, input_size, 3)).astype(np.float32)
    return export_tflite(model, out_path, rep, "int8")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.export", description=__doc__.split("\n")[0])
    p.add_argument("--run-dir", help="a training run folder: uses final.weights.h5 and summary.json")
    p.add_argument("--weights", help="generator weights (.weights.h5); default <run-dir>/final.weights.h5")
    p.add_argument("--untrained", action="store_true", help="export a random-init model (tests only)")
    p.add_argument("--config", default=None, help="config.yaml (training section) for data paths")
    p.add_argument("--out", default=str(REPO_ROOT / "assets" / "lgps_int8.tflite"), help="int8 output")
    p.add_argument("--float-out", default=str(REPO_ROOT / "runs" / "lgps_float32.tflite"),
                   help="float32 output ('' to skip)")
    p.add_argument("--card", default=str(REPO_ROOT / "assets" / "model_card.json"), help="model card")
    p.add_argument("--metrics", action="append", default=[], metavar="LABEL=PATH",
                   help="evaluation JSON (main.py evaluate --json) to put in the card; repeatable")
    p.add_argument("--status", default="unknown", help="one line for the card: final, or how preliminary")
    p.add_argument("--representative", type=int, default=200, help="training frames for calibration")
    p.add_argument("--input-size", type=int, default=256)
    return p.parse_args(argv)


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    """CLI: Keras weights -> assets/lgps_int8.tflite (+ float32 elsewhere) + assets/model_card.json."""
    args = _parse(argv)
    if args.untrained:
        print(f"wrote {export_untrained(args.out, args.input_size)} (untrained)")
        return 0
    weights = args.weights or (str(Path(args.run_dir) / "final.weights.h5") if args.run_dir else None)
    if not weights or not Path(weights).is_file():
        print(f"error: generator weights not found: {weights} (give --run-dir or --weights)", file=sys.stderr)
        return 2
    from training.card import build_model_card, read_metrics, write_model_card
    from training.data import load_training_frames
    from training.model import build_generator
    from training.train import load_training_config

    cfg = load_training_config(args.config)
    model = build_generator(args.input_size)
    model.load_weights(weights)
    rep = load_training_frames(cfg, args.input_size, args.representative, seed=cfg.seed)
    out = export_tflite(model, args.out, rep, "int8")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    if args.float_out:
        fout = export_tflite(model, args.float_out, rep, "float32")
        print(f"wrote {fout} ({fout.stat().st_size / 1e6:.2f} MB)")
    summary_path = Path(args.run_dir) / "summary.json" if args.run_dir else None
    training = json.loads(summary_path.read_text()) if summary_path and summary_path.is_file() else {}
    training["weights"] = str(weights)
    training["calibration"] = f"{len(rep)} training-split frames (not validation, not test)"
    card = build_model_card(model, training=training, metrics=read_metrics(args.metrics), status=args.status)
    print(f"wrote {write_model_card(args.card, card)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
