#!/usr/bin/env bash
# Multi-scale fine-tunes of v5's float generator (the shipped assets/lgps_float.weights.h5, copied into
# runs/multiscale/ first so a later ship cannot change the starting point): v5's own recipe (Adam 2e-4
# with warm-up + cosine, 20 % polyp-free crops, the detection term at 0.1, the boundary-weighted loss,
# area-scored targets, selection within 0.05 validation false alarms, --augment photometric) plus
# --multi-scale (training batches at 192 / 256 / 320 in turn; validation and export at 256), 10 epochs,
# run seeds 42 and 43 on the same validation split. Judged by the rule in docs/training.md
# ("Multi-scale training").   bash training/multiscale_runs.sh     ONLY=ms_ft_s43 bash training/multiscale_runs.sh
set -uo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-10}
init=runs/multiscale/v5_float.weights.h5
training/shipped_weights.sh 41ecd53 "$init" || exit 1  # assets/ held v5 at 41ecd53
common="--init-weights $init --learning-rate 2e-4 --negative-rate 0.2 --detection-weight 0.1
 --loss hybrid_boundary --empty-target-loss area --select-max-false-alarms 0.05 --augment photometric
 --multi-scale --cache runs/ablation/cache/train_320.npz"
runs=(
  "ms_ft|--run-seed 42"
  "ms_ft_s43|--run-seed 43"
)
exec training/queue_runs.sh runs/multiscale "$EPOCHS" "$common" "${runs[@]}"
