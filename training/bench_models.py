"""Bare int8 inference of model files side by side: is a new model slower than the shipped one?

    python -m training.bench_models OLD.tflite NEW.tflite [--frame IMAGE] [--rounds 5] [--seconds 2]

Each round times every model in turn for ``--seconds`` (``engine.bench.bare_inference_fps``, what
``main.py bench`` reports as bare inference; interleaved, so a machine that slows down or speeds up
during the run affects all of them alike) on one frame scaled to 1920x1080; printed per model: the
median of the rounds' median invoke times, and every round. Run it with nothing else
running (pause training: SIGSTOP/SIGCONT); the issue's criterion is the new model within +20 %.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np

from engine.cli_args import positive_float, positive_int
from engine.errors import DataError, UsageError, one_line_errors


def time_models(paths: list[str], frame_bgr: np.ndarray, rounds: int, seconds: float, threads: int = 1
                ) -> dict[str, list[float]]:
    """Median milliseconds per invoke, one per round, for each model path."""
    from engine.bench import bare_inference_fps
    from engine.segmenter import Segmenter

    models = {path: Segmenter(path, threads=threads) for path in paths}
    times: dict[str, list[float]] = {path: [] for path in paths}
    for _ in range(rounds):
        for path, segmenter in models.items():
            times[path].append(bare_inference_fps(segmenter, frame_bgr, seconds)["ms_p50"])
    return times


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    import cv2

    p = argparse.ArgumentParser(prog="python -m training.bench_models", description=__doc__.split("\n")[0])
    p.add_argument("models", nargs="+", help=".tflite files (the first is the reference)")
    p.add_argument("--frame", help="an image to run on (default: a generated 1080p frame)")
    p.add_argument("--rounds", type=positive_int, default=5)
    p.add_argument("--seconds", type=positive_float, default=2.0, help="timed per model and round")
    p.add_argument("--threads", type=positive_int, default=1)
    args = p.parse_args(argv)
    if len(set(args.models)) != len(args.models):
        raise UsageError("each model file once (the results are per file)")
    if args.frame:
        image = cv2.imread(args.frame)
        if image is None:
            raise DataError(f"not a readable image: {args.frame}")
    else:
        image = np.random.default_rng(0).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    frame = cv2.resize(image, (1920, 1080))
    times = time_models(args.models, frame, args.rounds, args.seconds, args.threads)
    reference = statistics.median(times[args.models[0]])
    for path, rounds in times.items():
        median = statistics.median(rounds)
        print(f"{Path(path).name}: {median:.3f} ms, median of {args.rounds} rounds of {args.seconds:g} s "
              f"({median / reference - 1:+.1%} vs the first); rounds " + " ".join(f"{t:.3f}" for t in rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
