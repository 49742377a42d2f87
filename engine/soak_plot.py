"""A long `bench --json` run's timeline as a PNG: memory, latency and analysed share over time.

    python main.py bench --source clip.mp4 --realtime --seconds 3600 --timeline 60 --json > soak.json
    python -m engine.soak_plot soak.json docs/soak_1080p60.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.errors import UsageError, one_line_errors


def plot(report: dict, out: Path, title: str) -> Path:
    """Three panels sharing the time axis (minutes): RSS, read→result p50/p95, share analysed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["timeline"]
    minutes = [r["t_s"] / 60 for r in rows]
    fig, axes = plt.subplots(3, 1, figsize=(8, 7), sharex=True)
    axes[0].plot(minutes, [r["rss_mb"] for r in rows], color="tab:blue")
    axes[0].set_ylabel("RSS (MB)")
    axes[1].plot(minutes, [r["latency_ms_p50"] for r in rows], label="p50", color="tab:green")
    axes[1].plot(minutes, [r["latency_ms_p95"] for r in rows], label="p95", color="tab:red")
    axes[1].set_ylabel("read→result (ms)")
    axes[1].legend(loc="upper right")
    share = [100 * r.get("analysed_of_due", r["analysed_share"]) for r in rows]
    axes[2].plot(minutes, share, color="tab:purple")
    axes[2].set_ylabel("analysed (%)")
    axes[2].set_xlabel("minutes")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(title or f"{report['source']}, {report['machine']}", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m engine.soak_plot", description=__doc__.split("\n")[0])
    p.add_argument("report", help="bench --json output")
    p.add_argument("out", help="PNG to write")
    p.add_argument("--title", default="")
    args = p.parse_args(argv)
    try:
        report = json.loads(Path(args.report).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UsageError(f"cannot read bench report {args.report}: {exc}") from None
    if not report.get("timeline"):
        raise UsageError(f"{args.report} has no timeline (run bench with --seconds of a few intervals)")
    print(f"wrote {plot(report, Path(args.out), args.title)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
