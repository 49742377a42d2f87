"""The learning curve of a run (log.csv) as a PNG: validation Dice and false alarms per epoch.

    python -m training.plot_curve runs/lgps_v2/log.csv docs/learning_curve_v2.png [--compare runs/x/log.csv]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from engine.errors import DataError, one_line_errors


def _read(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        raise DataError(f"training log not found: {path}")
    with path.open(newline="") as f:
        return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(f)]


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.plot_curve", description=__doc__.split("\n")[0])
    p.add_argument("log")
    p.add_argument("out")
    p.add_argument("--compare", action="append", default=[], help="other runs' log.csv, drawn thin")
    p.add_argument("--title", default="")
    args = p.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 4.5), dpi=110)
    ax = fig.add_subplot()
    fa = ax.twinx()
    for i, path in enumerate([args.log, *args.compare]):
        rows = _read(Path(path))
        epochs = [r["epoch"] + 1 for r in rows]
        width, alpha = (2.0, 1.0) if i == 0 else (1.0, 0.6)
        style = ("-", ":", "-.", (0, (3, 1, 1, 1, 1, 1)))[i % 4]  # each run its own line style (colour = quantity)
        name = Path(path).parent.name
        ax.plot(epochs, [r.get("dice", float("nan")) for r in rows], color="#7aa6d8", lw=width * 0.7, alpha=alpha,
                ls="--", label=f"{name}: train Dice (augmented)")
        ax.plot(epochs, [r["val_dice"] for r in rows], color="#1f5fa8", lw=width, alpha=alpha, ls=style,
                label=f"{name}: validation Dice")
        if "val_false_alarms" in rows[0]:
            fa.plot(epochs, [r["val_false_alarms"] for r in rows], color="#c0392b", lw=width, alpha=alpha, ls=style,
                    label=f"{name}: validation false alarms")
    ax.set_xlabel("epoch")
    ax.set_ylabel("per-image Dice (validation, 159 frames)")
    fa.set_ylabel("share of polyp-free validation crops with a 'polyp'", color="#c0392b")
    ax.set_ylim(0.5, 1.0)
    fa.set_ylim(0.0, 1.0)
    ax.grid(alpha=0.3)
    lines = ax.get_legend_handles_labels()[0] + fa.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + fa.get_legend_handles_labels()[1]
    ax.legend(lines, labels, loc="center right", fontsize=7)
    ax.set_title(args.title or Path(args.log).parent.name)
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
