#!/usr/bin/env bash
# Full-length runs of the stable recipe (area-scored polyp-free targets), one at a time, under nice.
# v3 (docs/training.md) plateaued on validation at the shipped model's level; these are the next levers.
# Resumable: re-run the same line after an interruption (BackupAndRestore); a finished run is skipped.
#   bash training/long_runs.sh [EPOCHS]      (logs copied to docs/ablation/<name>/)
# Then, per finished run: bash training/validate_candidate.sh runs/long/<name> (validation only), compare
# with the shipped model's docs/results/v2_validation_crf_*.json, and ship with training.report only
# a candidate that is better on validation.
set -uo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-48}
common="--negative-rate 0.3 --loss hybrid_boundary --empty-target-loss area --select-max-false-alarms 0.1"
runs=(
  "v3_strong|--augment strong"
  "v3_neg20|--negative-rate 0.2"
)
exec training/queue_runs.sh runs/long "$EPOCHS" "$common" "${runs[@]}"
