#!/usr/bin/env bash
# The recipe ablation of docs/training.md: equal-length runs from ImageNet, one at a time, under nice.
# Resumable: re-run the same line after an interruption; a finished run (summary.json) is skipped.
#   bash training/ablation.sh [EPOCHS]        (logs: runs/ablation/<name>/log.csv; copied to docs/ablation/)
set -uo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-12}
PY=${PY:-.venv/bin/python}
runs=(
  "a_baseline|"
  "b_neg20|--negative-rate 0.2"
  "c_neg40|--negative-rate 0.4"
  "d_neg30_boundary|--negative-rate 0.3 --loss hybrid_boundary"
  "e_neg30_boundary_ds|--negative-rate 0.3 --loss hybrid_boundary --deep-supervision"
  "f_neg30_boundary_strong|--negative-rate 0.3 --loss hybrid_boundary --augment strong"
)
for entry in "${runs[@]}"; do
  name=${entry%%|*}; flags=${entry#*|}; out=runs/ablation/$name
  if [ -f "$out/summary.json" ]; then echo "$name: done"; continue; fi
  mkdir -p "$out" docs/ablation/$name
  echo "$(date -u +%FT%TZ) $name: $flags"
  # shellcheck disable=SC2086
  nice -n 10 "$PY" -m training.train --out-dir "$out" --epochs "$EPOCHS" $flags >> "$out/train.out" 2>&1 \
    || { echo "$name failed (see $out/train.out)"; exit 1; }
  cp "$out/log.csv" "$out/summary.json" docs/ablation/$name/
done
