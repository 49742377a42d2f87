#!/usr/bin/env bash
# The recipe ablation of docs/training.md: equal-length runs from ImageNet, one at a time, under nice.
# Runs a-f predate the 'area' scoring of polyp-free targets and name the old one (per_image).
# Resumable: re-run the same line after an interruption; a finished run (summary.json) is skipped.
#   bash training/ablation.sh [EPOCHS]        (logs: runs/ablation/<name>/log.csv; copied to docs/ablation/)
set -uo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-12}
PY=${PY:-.venv/bin/python}
runs=(
  "a_baseline|--empty-target-loss per_image"
  "b_neg20|--negative-rate 0.2 --empty-target-loss per_image"
  "c_neg40|--negative-rate 0.4 --empty-target-loss per_image"
  "d_neg30_boundary|--negative-rate 0.3 --loss hybrid_boundary --empty-target-loss per_image"
  "e_neg30_boundary_ds|--negative-rate 0.3 --loss hybrid_boundary --deep-supervision --empty-target-loss per_image"
  "f_neg30_boundary_strong|--negative-rate 0.3 --loss hybrid_boundary --augment strong --empty-target-loss per_image"
  # polyp-free targets scored by false-positive area instead of per-image Dice (training/losses.py)
  "h_neg30_boundary_area|--negative-rate 0.3 --loss hybrid_boundary --empty-target-loss area --select-max-false-alarms 0.1"
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
