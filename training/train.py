"""Train the LGPS generator (optionally with its conditional discriminator) with Keras 3.

    python -m training.train [--config config.yaml] [--epochs N] [--adversarial-weight L] ...
    KERAS_BACKEND=jax python -m training.train --cache runs/cache/train_320.npz   # JAX + CUDA, no TF

Backend-neutral by construction: data come from numpy (training/augment.py), losses use
``keras.ops``, lambda = 0 trains the generator with plain ``compile``/``fit`` and lambda > 0 with
training/gan.py. Several GPUs: with TensorFlow, ``tf.distribute.MirroredStrategy`` (--multi-gpu);
with JAX, ``keras.distribution.DataParallel``.

Resume: ``BackupAndRestore`` saves model and optimizer state every epoch under <out>/backup; run
the same command again after an interruption and it continues from the last finished epoch (the
backup is kept at the end, so re-running a finished run only re-finalises; raise --epochs to go on).
Model selection: the best validation per-image Dice (inference mode) so far is kept in
<out>/best.weights.h5. At the end the best weights get their decoder batch-norm statistics
recalibrated (training/bn.py) and are saved as <out>/final.weights.h5 with <out>/summary.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from engine.cli_args import non_negative, non_negative_int, probability, share
from engine.errors import one_line_errors

REPO_ROOT = Path(__file__).resolve().parent.parent


def load_training_config(path: str | Path | None = None) -> Any:
    """The ``training:`` section of config.yaml, relative paths resolved against the file's folder."""
    import dataclasses

    from engine.config import DEFAULT_CONFIG_PATH, load_config

    path = Path(path) if path else DEFAULT_CONFIG_PATH
    cfg = load_config(path).training
    base = path.resolve().parent
    fix = {k: str((base / getattr(cfg, k)).resolve()) for k in ("data_root", "encoder_weights", "out_dir")
           if not Path(getattr(cfg, k)).is_absolute()}
    return dataclasses.replace(cfg, **fix)


def config_choices(key: str) -> tuple[str, ...]:
    """The values config.yaml accepts for ``training.<key>``: one list for the config and the flags."""
    import dataclasses

    from engine.config import TrainingConfig

    return next(f.metadata["choices"] for f in dataclasses.fields(TrainingConfig) if f.name == key)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.train", description=__doc__.split("\n")[0])
    p.add_argument("--config", default=None, help="config.yaml with a training: section")
    p.add_argument("--data-root", help="folder holding the training datasets")
    p.add_argument("--out-dir", help="run folder: checkpoints, logs, summary")
    p.add_argument("--cache", help="training cache .npz (built from --data-root when missing)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--adversarial-weight", type=float, help="lambda of the adversarial term (0: no D)")
    p.add_argument("--seed", type=int, help="draws the validation split (and, without --run-seed, everything else)")
    p.add_argument("--run-seed", type=non_negative_int,
                   help="seed of the run's own randomness (decoder init, sample order, augmentation) on the "
                        "same validation split: seed replicates (default: --seed)")
    p.add_argument("--negative-rate", type=share, help="share of samples replaced by polyp-free crops (0: none)")
    p.add_argument("--hard-negatives", type=share,
                   help="share of the polyp-free crops drawn in proportion to the model's alarms on them (mining)")
    p.add_argument("--loss", choices=config_choices("loss"))
    p.add_argument("--empty-target-loss", choices=config_choices("empty_target_loss"),
                   help="how a polyp-free target's IoU/Dice terms are scored (training/losses.py)")
    p.add_argument("--detection-weight", type=non_negative,
                   help="weight of the frame-level loss on what the app reports (false alarms, misses; 0: off)")
    p.add_argument("--select-max-false-alarms", type=probability,
                   help="model selection: best val Dice among epochs with val false alarms <= this")
    p.add_argument("--deep-supervision", action=argparse.BooleanOptionalAction, default=None,
                   help="auxiliary decoder heads during training (never exported)")
    p.add_argument("--augment", choices=config_choices("augment"))
    p.add_argument("--multi-scale", action=argparse.BooleanOptionalAction, default=None,
                   help="each training batch at 0.75, 1 or 1.25 x --input-size (rounded to 32); validation at 1")
    p.add_argument("--jit-compile", choices=("auto", "on", "off"), default="auto",
                   help="XLA compilation of the training step (measure on your machine)")
    p.add_argument("--input-size", type=int, help="model input (multiple of 32; the app model is 256)")
    p.add_argument("--cache-size", type=int, help="side of the cached frames (a bit above --input-size)")
    p.add_argument("--encoder-weights", help="ImageNet MobileNetV2 .tflite for the encoder initialisation")
    p.add_argument("--build-cache-only", action="store_true",
                   help="write the training cache (.npz, one file to copy to a GPU machine) and stop")
    p.add_argument("--steps-per-epoch", type=int, help="cap on steps per epoch (smoke tests)")
    p.add_argument("--max-frames", type=int, help="use only the first N train/val frames (smoke tests)")
    p.add_argument("--no-imagenet", action="store_true", help="random encoder init (tests only)")
    p.add_argument("--init-weights", help="start the generator from these weights (fine-tuning, ablations)")
    p.add_argument("--recalibrate-frames", type=int, default=256, help="train frames for BN recalibration")
    p.add_argument("--calibration-frames", type=int, default=128,
                   help="train frames for BN statistics before each validation (0: moving averages)")
    p.add_argument("--finalize-only", action="store_true",
                   help="no training: best weights -> BN recalibration -> final.weights.h5 + summary.json")
    p.add_argument("--multi-gpu", action="store_true", help="data-parallel over all local GPUs")
    return p.parse_args(argv)


def resolve(args: argparse.Namespace) -> dict[str, Any]:
    """Config file values overridden by flags; one flat dict that is also written to summary.json."""
    import dataclasses

    cfg = dataclasses.asdict(load_training_config(args.config))
    keys = ("data_root", "out_dir", "epochs", "batch_size", "learning_rate", "adversarial_weight", "seed",
            "input_size", "cache_size", "encoder_weights", "negative_rate", "hard_negatives", "loss",
            "empty_target_loss", "detection_weight", "deep_supervision", "augment", "select_max_false_alarms",
            "multi_scale")
    for key in keys:
        value = getattr(args, key)
        if value is not None:
            cfg[key] = value
    cfg["run_seed"] = cfg["seed"] if args.run_seed is None else args.run_seed
    cfg["jit_compile"] = {"auto": "auto", "on": True, "off": False}[args.jit_compile]
    cfg["cache"] = args.cache or str(Path(cfg["out_dir"]).parent / "cache" / f"train_{cfg['cache_size']}.npz")
    return cfg


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    cfg = resolve(args)
    if args.build_cache_only:
        from training.data import build_cache

        path = build_cache(cfg["data_root"], cfg["train_sets"], cfg["cache"], cfg["cache_size"],
                           cfg["val_fraction"], cfg["seed"])
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
        return 0
    from training.run import train

    started = time.time()
    summary = train(cfg, steps_per_epoch=args.steps_per_epoch, max_frames=args.max_frames,
                    imagenet=not args.no_imagenet, recalibrate_frames=args.recalibrate_frames,
                    multi_gpu=args.multi_gpu, finalize_only=args.finalize_only,
                    init_weights=args.init_weights, calibration_frames=args.calibration_frames)
    print(json.dumps({k: summary[k] for k in ("epochs_done", "best_epoch", "val_dice_best",
                                               "val_dice_final")}, indent=1))
    print(f"done in {time.time() - started:.0f} s; run folder {cfg['out_dir']}")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyError):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main())
