"""One command from a finished run to the shipped model and its numbers.

    python -m training.report --run-dir runs/lgps --data ../shared/data/kvasir-seg \
        --data ../shared/data/cvc-clinicdb --data ../shared/data/cvc-colondb --status "..." \
        [--polyp-free runs/negatives/test/kvasir-seg ...] [--validation runs/val_stills \
         --validation runs/negatives/val] [--previous v2]

Exports int8 and float32 into the run folder, evaluates Keras float and TFLite int8, each with the
ConvCRF off and on, through the same code as ``main.py evaluate``, on the test sets and the
polyp-free test crops (TFLite int8 only on validation material); writes every result as JSON
under <run-dir>/eval/, a Markdown report <run-dir>/eval/report.md, and the model card with the
numbers in it and, with ``--previous``, the replaced model's headline numbers beside them. The
shipped model and card (``--out``, ``--card``) are replaced only once every evaluation has run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import sys
from pathlib import Path

from engine.errors import DataError, one_line_errors
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
    p.add_argument("--polyp-free", action="append", default=[], metavar="DIR",
                   help="polyp-free test crops (training/negatives.py): false alarms, report only; repeatable")
    p.add_argument("--validation", action="append", default=[], metavar="DIR",
                   help="validation material (the numbers a choice of model rests on); repeatable")
    p.add_argument("--previous", metavar="LABEL",
                   help="keep the replaced card's headline numbers as previous_model_<LABEL>")
    p.add_argument("--limit", type=int, default=None, help="frames per dataset (quick checks only)")
    p.add_argument("--skip-keras", action="store_true", help="int8 only (saves time)")
    args = p.parse_args(argv)
    run_dir = Path(args.run_dir)
    for folder in [*args.data, *args.polyp_free, *args.validation]:
        if not Path(folder).is_dir():  # before anything is exported or replaced
            raise DataError(f"evaluation folder not found: {folder}")
    old_card = json.loads(Path(args.card).read_text()) if Path(args.card).is_file() else {}
    if args.previous and not old_card.get("metrics"):
        raise DataError(f"--previous {args.previous}: {args.card} has no metrics to keep (an unfinished report?)")
    evals = run_dir / "eval"
    evals.mkdir(parents=True, exist_ok=True)
    from training.export import main as export_main

    # exported and evaluated inside the run folder; the shipped files are replaced only at the end
    int8_path, float_path = run_dir / "lgps_int8.tflite", run_dir / "lgps_float32.tflite"
    export_card = evals / "card.json"
    export_main(["--run-dir", str(run_dir), "--out", str(int8_path), "--float-out", str(float_path),
                 "--card", str(export_card), "--status", args.status])
    int8 = [("tflite_int8", int8_path)]
    models = int8 if args.skip_keras else [("keras_float", run_dir / "final.weights.h5"), *int8]
    groups = [("", args.data, models), ("polyp_free_test_crops_", args.polyp_free, models),
              ("validation_", args.validation, int8)]
    report, metrics = [f"# Evaluation of {run_dir}\n"], []
    for prefix, data, group_models in groups:
        for label, model in group_models if data else []:
            for crf in ("off", "on"):
                name = f"{prefix}{label}_crf_{crf}"
                text = _evaluate(model, data, crf, evals / f"{name}.json", args.limit)
                print(text)
                report += [f"## {name}\n", text]
                metrics.append(f"{name}={evals / name}.json")
    (evals / "report.md").write_text("\n".join(report))
    from training.card import build_model_card, previous_model_summary, read_metrics, write_model_card
    from training.model import build_generator

    card = json.loads(export_card.read_text())
    card_model = build_generator(int(card["input"]["size"][0]))
    new = build_model_card(card_model, training=card["training"], metrics=read_metrics(metrics), status=args.status)
    new.update({k: v for k, v in old_card.items() if k.startswith("previous_model_")})  # the lineage stays
    if args.previous:
        new[f"previous_model_{args.previous}"] = previous_model_summary(old_card)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(int8_path, args.out)
    # learned ConvCRF parameters travel with their model (<model>.crf.json); the old model's must not stay
    sidecar, shipped_sidecar = int8_path.with_suffix(".crf.json"), Path(args.out).with_suffix(".crf.json")
    if sidecar.is_file():
        shutil.copyfile(sidecar, shipped_sidecar)
    elif shipped_sidecar.is_file():
        shipped_sidecar.unlink()
        print(f"removed {shipped_sidecar}: it held the replaced model's learned ConvCRF parameters")
    write_model_card(args.card, new)
    print(f"wrote {evals / 'report.md'} and {args.card}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
