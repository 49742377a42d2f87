#!/usr/bin/env bash
# Fine-tuning runs from v4's float generator on v4's recipe, one at a time under nice, resumable (re-run the
# same line), logs copied to docs/ablation/<name>/. v4's weights were assets/lgps_float.weights.h5 until v5
# replaced them; they are taken from the last commit that shipped v4 (git history), into runs/finetune/.
# ft_photo / ft_photo_s43: --augment photometric (training/augment.py: wider colour, gamma, blur, noise,
# JPEG), two run seeds on the same validation split; ft_standard: the same fine-tune with v4's own
# augmentation (attribution only, never a candidate); ft_standard_s43: the same with run seed 43 (added
# after v5 shipped: is ft_photo_s43's quiet on validation the augmentation's or the seed's?).
# Judged by the rule in docs/training.md ("Fine-tuning v4 for other scopes").
#   bash training/finetune_runs.sh            ONLY=ft_photo_s43 bash training/finetune_runs.sh
set -uo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-10}
init=runs/finetune/v4_float.weights.h5
training/shipped_weights.sh 858fb2e "$init" || exit 1  # assets/ held v4 at 858fb2e
common="--init-weights $init --learning-rate 2e-4 --negative-rate 0.2 --detection-weight 0.1
 --loss hybrid_boundary --empty-target-loss area --select-max-false-alarms 0.05 --cache runs/ablation/cache/train_320.npz"
runs=(
  "ft_photo|--augment photometric"
  "ft_standard|--augment standard"
  "ft_photo_s43|--augment photometric --run-seed 43"
  "ft_standard_s43|--augment standard --run-seed 43"
)
exec training/queue_runs.sh runs/finetune "$EPOCHS" "$common" "${runs[@]}"
