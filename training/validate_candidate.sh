#!/usr/bin/env bash
# A finished run as a candidate: int8 export into the run folder (assets/ untouched), then validation
# only (never a test set), ConvCRF off and on, as the app would run it.
#   bash training/validate_candidate.sh RUN_DIR    -> RUN_DIR/lgps_int8.tflite, RUN_DIR/val_crf_{off,on}.json
# (per-frame scores included: python -m training.compare A.json B.json gives paired intervals)
# Needs runs/val_stills and runs/negatives/val (python -m training.negatives --out runs/negatives).
set -euo pipefail
cd "$(dirname "$0")/.."
R=${1:?usage: validate_candidate.sh RUN_DIR}
PY=${PY:-.venv/bin/python}
nice "$PY" -m training.export --run-dir "$R" --out "$R/lgps_int8.tflite" --float-out '' \
  --card "$R/model_card.json" --status candidate
for crf in off on; do
  nice "$PY" main.py evaluate --data runs/val_stills --data runs/negatives/val --model "$R/lgps_int8.tflite" \
    --crf "$crf" --json "$R/val_crf_$crf.json" --per-frame
done
