"""One command from a finished run to the shipped model and its numbers.

    python -m training.report --run-dir runs/lgps --data ../shared/data/kvasir-seg \
        --data ../shared/data/cvc-clinicdb --data ../shared/data/cvc-colondb --status "..."

Exports int8 (assets/) and float32 (runs/), evaluates Keras float and TFLite int8, each with the
ConvCRF off and on, through the same code as ``main.py evaluate``; writes every result as JSON
under <run-dir>/eval/, a Markdown report <run-dir>/eval/report.md, and the model card with the
int8 numbers in it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from pathlib import Path

from engine.errors import one_line_errors
from training.export import REPO_ROOT


def _evaluate(model: Path, data: list[str], crf: str, out: Path, limit: int | None) -> str:
    from training.evaluate import add_arguments, run

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    argv = [a for d in data for a in ("--data", d)] + ["--model", str(model), "--crf", crf, "--json", str(out)]
    if limit:
        argv += ["--limit", str(limit)]
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        run(parser.parse_args(argv))
    return buffer.getvalue()


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.report", description=__doc__.split("\n")[0])
    p.add_argument("--run-dir", required=True)
    p.add_argument("--data", action="append", required=True)
    p.add_argument("--status", required=True, help="one line for the model card")
    p.add_argument("--out", default=str(REPO_ROOT / "assets" / "lgps_int8.tflite"))
    p.add_argument("--card", default=str(REPO_ROOT / "assets" / "model_card.json"))
    p.add_argument("--limit", type=int, default=None, help="frames per dataset (quick checks only)")
    p.add_argument("--skip-keras", action="store_true", help="int8 only (saves time)")
    args = p.parse_args(argv)
    run_dir = Path(args.run_dir)
    evals = run_dir / "eval"
    evals.mkdir(parents=True, exist_ok=True)
    from training.export import main as export_main

    float_path = run_dir / "lgps_float32.tflite"
    export_main(["--run-dir", str(run_dir), "--out", args.out, "--float-out", str(float_path),
                 "--card", args.card, "--status", args.status])
    models = [("tflite_int8", Path(args.out))]
    if not args.skip_keras:
        models.insert(0, ("keras_float", run_dir / "final.weights.h5"))
    report = [f"# Evaluation of {run_dir}\n"]
    for label, model in models:
        for crf in ("off", "on"):
            name = f"{label}_crf_{crf}"
            text = _evaluate(model, args.data, crf, evals / f"{name}.json", args.limit)
            print(text)
            report += [f"## {name}\n", text]
    (evals / "report.md").write_text("\n".join(report))
    metrics = [f"{n}={evals / n}.json" for n in ("tflite_int8_crf_off", "tflite_int8_crf_on")]
    metrics += [f"{n}={evals / n}.json" for n in ("keras_float_crf_off", "keras_float_crf_on")
                if (evals / f"{n}.json").is_file()]
    from training.card import build_model_card, read_metrics, write_model_card
    from training.model import build_generator

    card = json.loads(Path(args.card).read_text())
    card_model = build_generator(int(card["input"]["size"][0]))
    new = build_model_card(card_model, training=card["training"], metrics=read_metrics(metrics), status=args.status)
    write_model_card(args.card, new)
    print(f"wrote {evals / 'report.md'} and {args.card}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
