"""Choose the tracker's alert rule on validation clips (never on test clips).

    python -m training.tune_tracker --video runs/pans/val --video runs/pans/val_free \
        --video ../shared/data/cvc-clinicdb-val ...

The model and CRF run once per frame (``video_eval.analyse``); every rule of the grid is then
replayed over the kept regions. The rule chosen is the one with the fewest false alerts per minute
on the polyp-free clips among those that keep per-polyp sensitivity >= --min-sensitivity and a
median first alert <= --max-delay frames on the clips with a polyp; ties go to the faster alert.
Only rules under which the real tracker never alerts on a blip of up to --max-blip frames (at peak
probability 1) enter the grid: brief false alarms are what the temporal layer exists to withhold,
and a quiet model gives the polyp-free clips too few blips to show a rule's cost.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from engine.cli_args import non_negative_int
from engine.errors import UsageError, one_line_errors
from engine.results import Polyp
from engine.tracking import PolypTracker, TrackerSettings

GRID = {"hits": (1, 2, 3, 4, 5, 6), "window": (4, 6, 8), "on": (0.3, 0.4, 0.5, 0.6, 0.7), "keep": (0.2, 0.3)}
MAX_BLIP = 3  # frames: most false activations of a commercial CADe last <= 3 (issue 10)


def alerts_on_blip(settings: TrackerSettings, frames: int) -> bool:
    """Whether a region seen for ``frames`` consecutive frames at peak 1.0 becomes an alert (the real tracker)."""
    tracker = PolypTracker(settings)
    blip = Polyp(id=0, area=400, box=(10, 10, 20, 20), mean_prob=1.0, max_prob=1.0,
                 contour=np.zeros((0, 2), np.int32))
    return any(p.alert for i in range(frames) for p in tracker.update([blip], i))


def candidates(max_misses: int = 5, max_blip: int = MAX_BLIP) -> list[TrackerSettings]:
    """Every valid rule of the grid that withholds blips of up to ``max_blip`` frames."""
    out = []
    for hits, window, on, keep in itertools.product(*GRID.values()):
        if hits <= window and keep <= on:
            settings = TrackerSettings(hits, window, on, keep, max_misses)
            if not alerts_on_blip(settings, max_blip):
                out.append(settings)
    return out


def choose(table: list[dict], min_sensitivity: float, max_delay: float) -> dict | None:
    """The row with the fewest false alerts/min among those meeting sensitivity and delay."""
    ok = [r for r in table if (r["per_polyp_sensitivity"] or 0) >= min_sensitivity
          and r["median_first_alert_frames"] is not None and r["median_first_alert_frames"] <= max_delay]
    if not ok:
        return None
    return min(ok, key=lambda r: (r["false_alerts_per_min"], r["false_alarm_frames"],
                                  r["median_first_alert_frames"], -r["frame_sensitivity"]))


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    from engine.config import load_config
    from training.video_eval import analyse, find_clips, score_clip, summarise

    p = argparse.ArgumentParser(prog="python -m training.tune_tracker", description=__doc__.split("\n")[0])
    p.add_argument("--video", action="append", required=True, help="validation clip folders (with and without polyps)")
    p.add_argument("--config", default=None)
    p.add_argument("--model", default=None)
    p.add_argument("--min-sensitivity", type=float, default=0.95)
    p.add_argument("--max-delay", type=float, default=4.0, help="median frames to the first alert")
    p.add_argument("--max-blip", type=non_negative_int, default=MAX_BLIP,
                   help="only rules that never alert on a blip of up to this many frames (0: every rule)")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    cfg = load_config(args.config)
    if args.model:
        cfg = cfg.replace("segmenter", model=args.model)
    rules = candidates(cfg.tracking.max_misses, args.max_blip)
    if not rules:  # before the slow analysis
        raise UsageError(f"--max-blip {args.max_blip}: every rule of the grid alerts on a blip that long "
                         f"(hits go up to {max(GRID['hits'])})")
    clips = [c for folder in args.video for c in find_clips(folder)]
    analysed = analyse(clips, cfg)
    table = []
    for settings in rules:
        row = summarise([score_clip(c, settings) for c in analysed])
        row.update(settings.__dict__)
        table.append(row)
    best = choose(table, args.min_sensitivity, args.max_delay)
    frame_by_frame = summarise([score_clip(c, TrackerSettings(1, 1, 0.0, 0.0, cfg.tracking.max_misses))
                                for c in analysed])
    print(f"{len(analysed)} clips, {sum(len(c.regions) for c in analysed)} frames; frame by frame: "
          f"{frame_by_frame['false_alerts_per_min']:.1f} false alerts/min, per-polyp sensitivity "
          f"{frame_by_frame['per_polyp_sensitivity']:.3f}")
    print("chosen:" if best else "no rule meets the constraints; closest by sensitivity:",
          json.dumps(best or max(table, key=lambda r: r["per_polyp_sensitivity"] or 0), default=float))
    if args.json:
        Path(args.json).write_text(json.dumps({"frame_by_frame": frame_by_frame, "chosen": best, "table": table},
                                              indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
