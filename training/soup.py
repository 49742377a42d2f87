"""Weight averaging of generators fine-tuned from one start (WiSE-FT, model soups; Wortsman et al. 2022).

Why: a fine-tune and the model it started from lie in one basin of the loss; a weighted mean of their
weights is itself a working network, often keeping most of what each does well, and costs no
training. The mean is written as ``<out-dir>/best.weights.h5``; then
``python -m training.train --out-dir <out-dir> --finalize-only`` recalibrates its batch-norm
statistics on training frames (as every run's end does) and writes ``final.weights.h5``; give it the
split seed and input size the averaged models were trained with if they are not the config's.

    python -m training.soup --weights v4.weights.h5 --weights v5.weights.h5 --coef 0.5 --coef 0.5 \\
        --out-dir runs/soup/wise_050
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine.errors import DataError, ModelError, UsageError, one_line_errors


def check_coefficients(coefs: Sequence[float], n_models: int) -> list[float]:
    """One non-negative coefficient per model, summing to 1 (a mean, not a rescaling of the network)."""
    if len(coefs) != n_models:
        raise UsageError(f"--coef given {len(coefs)} times for {n_models} weight files")
    if not all(math.isfinite(c) and c >= 0 for c in coefs) or not abs(sum(coefs) - 1.0) <= 1e-6:
        raise UsageError(f"coefficients must be finite, >= 0 and sum to 1 (leave --coef out for equal "
                         f"weights), got {list(coefs)}")
    return [float(c) for c in coefs]


def average_weights(weight_lists: Sequence[Sequence[np.ndarray]], coefs: Sequence[float]) -> list[np.ndarray]:
    """The coefficient-weighted mean of each variable across models (all variables, batch-norm included)."""
    shapes = [[w.shape for w in weights] for weights in weight_lists]
    if any(s != shapes[0] for s in shapes[1:]):
        raise DataError("the weight files are not the same network (variable shapes differ)")
    return [sum(c * np.asarray(w, np.float64) for c, w in zip(coefs, variables, strict=True)).astype(variables[0].dtype)
            for variables in zip(*weight_lists, strict=True)]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m training.soup", description=__doc__.splitlines()[0])
    p.add_argument("--weights", action="append", required=True, help="generator weights (.weights.h5), repeat")
    p.add_argument("--coef", action="append", type=float, help="one per --weights, summing to 1 (default: equal)")
    p.add_argument("--out-dir", required=True, help="writes best.weights.h5 and soup.json here")
    p.add_argument("--input-size", type=int, default=256,
                   help="the generator's input side (a multiple of 32; the weights do not depend on it)")
    return p.parse_args(argv)


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    """CLI: weighted mean of generator weight files -> <out-dir>/best.weights.h5 (+ soup.json)."""
    args = _parse(argv)
    if len(args.weights) < 2:
        raise UsageError("give at least two --weights")
    coefs = check_coefficients(args.coef or [1.0 / len(args.weights)] * len(args.weights), len(args.weights))
    if args.input_size <= 0 or args.input_size % 32:
        raise UsageError(f"--input-size must be a positive multiple of 32, got {args.input_size}")
    for path in args.weights:
        if not Path(path).is_file():
            raise ModelError(f"weights not found: {path}")
    out = Path(args.out_dir)
    if (out / "best.weights.h5").exists():
        raise UsageError(f"{out / 'best.weights.h5'} exists: give a new --out-dir (a run's weights are never replaced)")
    from training.model import build_generator, load_generator_weights

    generator = build_generator(args.input_size)
    weight_lists = []
    for path in args.weights:
        load_generator_weights(generator, path)
        weight_lists.append(generator.get_weights())
    generator.set_weights(average_weights(weight_lists, coefs))
    out.mkdir(parents=True, exist_ok=True)
    generator.save_weights(out / "best.weights.h5")
    (out / "soup.json").write_text(json.dumps({"weights": args.weights, "coefficients": coefs}, indent=2))
    terms = " + ".join(f"{c:g} x {w}" for c, w in zip(coefs, args.weights, strict=True))
    print(f"wrote {out / 'best.weights.h5'} ({terms})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
