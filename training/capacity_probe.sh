#!/usr/bin/env bash
# Capacity probe (diagnostic, never a ship candidate): can the shipped architecture fit its own training
# frames? The seed's hybrid loss from ImageNet, no polyp-free crops, only flips and 90-degree turns
# (--augment fit_probe), 30 epochs of warm-up + cosine, seed 42's split. Its log's train Dice is Dice on
# the training frames themselves (at 256, in training mode); then main.py evaluate scores best/final weights
# on the training lists at original resolution. Resumable: re-run the same line.
#   bash training/capacity_probe.sh [EPOCHS]      (log copied to docs/ablation/capacity_probe/)
set -uo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-30}
common="--negative-rate 0 --loss hybrid --detection-weight 0 --augment fit_probe --select-max-false-alarms 0.99
 --cache runs/ablation/cache/train_320.npz"
exec training/queue_runs.sh runs/probe "$EPOCHS" "$common" "capacity_probe|"
