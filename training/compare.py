"""Two models on the same frames: is the difference more than noise?

    main.py evaluate --data runs/val_stills --data runs/negatives/val --model A.tflite --json a.json --per-frame
    main.py evaluate ... --model B.tflite --json b.json --per-frame
    python -m training.compare a.json b.json        # B - A, per dataset

Why paired: both models see the same frames, so most of the frame-to-frame spread cancels; a
bootstrap over frames of the per-frame Dice difference gives the interval a ship decision needs
(validation material only). On polyp-free sets (every mask empty) the frames where only one model
raises an alarm are counted, with the exact two-sided McNemar p-value of that split.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from engine.cli_args import positive_int
from engine.errors import DataError, one_line_errors

RESAMPLES = 5000


FRAME_KEYS = ("frame", "dice", "empty", "reported")


def _frames(result: Any, source: str, name: str) -> dict[str, dict[str, Any]]:
    """One dataset's frames by name, checked: every record complete, no name twice."""
    if not isinstance(result, dict) or "frames" not in result:
        raise DataError(f"{source}: {name} has no per-frame scores (run main.py evaluate with --per-frame)")
    frames = result["frames"]
    if not isinstance(frames, list) or not all(isinstance(f, dict) and all(k in f for k in FRAME_KEYS)
                                               for f in frames):
        raise DataError(f"{source}: {name}: each frame needs {', '.join(FRAME_KEYS)}")
    by_name = {f["frame"]: f for f in frames}
    if len(by_name) != len(frames):
        raise DataError(f"{source}: {name}: a frame name occurs twice; frames cannot be paired")
    return by_name


def paired_dice(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]], resamples: int = RESAMPLES,
                seed: int = 0) -> dict[str, float]:
    """Mean per-frame Dice difference b - a and its bootstrap 95 % interval over frames."""
    names = sorted(a)
    diff = np.array([b[n]["dice"] - a[n]["dice"] for n in names], np.float64)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (resamples, len(diff)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {"n": len(diff), "dice_a": float(np.mean([a[n]["dice"] for n in names])),
            "dice_b": float(np.mean([b[n]["dice"] for n in names])), "difference": float(diff.mean()),
            "ci_low": float(lo), "ci_high": float(hi)}


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar p-value: the discordant frames split as a fair coin would split them."""
    n, k = only_a + only_b, min(only_a, only_b)
    if n == 0:
        return 1.0
    return min(1.0, 2.0 * sum(math.comb(n, i) for i in range(k + 1)) / 2.0 ** n)


def paired_alarms(a: dict[str, dict[str, Any]], b: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Alarms of each model on the same polyp-free frames, and the frames where they disagree."""
    names = sorted(a)
    only_a = sum(a[n]["reported"] and not b[n]["reported"] for n in names)
    only_b = sum(b[n]["reported"] and not a[n]["reported"] for n in names)
    return {"n": len(names), "alarms_a": sum(bool(a[n]["reported"]) for n in names),
            "alarms_b": sum(bool(b[n]["reported"]) for n in names), "only_a": only_a, "only_b": only_b,
            "mcnemar_p": mcnemar_p(only_a, only_b)}


def compare(a: dict[str, Any], b: dict[str, Any], sources: tuple[str, str] = ("A", "B"),
            resamples: int = RESAMPLES) -> dict[str, dict[str, float]]:
    """Per dataset present in both results: paired Dice (sets with polyps) or paired alarms (polyp-free)."""
    common = [k for k in a if k in b]
    if not common:
        raise DataError(f"{sources[0]} and {sources[1]} share no dataset")
    out = {}
    for key in common:
        fa, fb = _frames(a[key], sources[0], key), _frames(b[key], sources[1], key)
        if set(fa) != set(fb):
            example = sorted(set(fa) ^ set(fb))[0]
            raise DataError(f"{key}: the two results scored different frames ({len(fa)} vs {len(fb)}; "
                            f"{example!r} is in only one)")
        polyp_free = all(f["empty"] for f in fa.values())
        out[key] = paired_alarms(fa, fb) if polyp_free else paired_dice(fa, fb, resamples)
    return out


def _load(path: str) -> dict[str, Any]:
    try:
        result = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DataError(f"results file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not an evaluate --json file ({exc})") from None
    if not isinstance(result, dict):
        raise DataError(f"{path}: not an evaluate --json file (expected datasets by name)")
    return result


def unpaired(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Datasets only one of the two results has (named so that none is dropped without a word)."""
    return [k for k in a if k not in b] + [k for k in b if k not in a]


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.compare", description=__doc__.split("\n")[0])
    p.add_argument("a", help="evaluate --json --per-frame results of model A (the reference)")
    p.add_argument("b", help="the same for model B; differences are B - A")
    p.add_argument("--resamples", type=positive_int, default=RESAMPLES)
    p.add_argument("--json", default=None, metavar="PATH", help="also write the comparison as JSON")
    args = p.parse_args(argv)
    a, b = _load(args.a), _load(args.b)
    result = compare(a, b, (args.a, args.b), args.resamples)
    print(f"B = {args.b} minus A = {args.a}, paired over the same frames")
    for key in unpaired(a, b):
        print(f"{key}: not compared (in only one of the two files)")
    for key, r in result.items():
        if "difference" in r:
            print(f"{key}: {r['n']} frames, Dice A {r['dice_a']:.4f}, B {r['dice_b']:.4f}, B - A "
                  f"{r['difference']:+.4f} (95 % bootstrap interval {r['ci_low']:+.4f} .. {r['ci_high']:+.4f})")
        else:
            print(f"{key}: {r['n']} polyp-free frames, alarms A {r['alarms_a']}, B {r['alarms_b']}; only A "
                  f"{r['only_a']}, only B {r['only_b']} (exact McNemar p = {r['mcnemar_p']:.3f})")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
