#!/usr/bin/env bash
# Training runs one at a time under nice, each resumable and skipped once finished (summary.json);
# the shared loop of training/ablation.sh and training/long_runs.sh.
#   training/queue_runs.sh OUT_ROOT EPOCHS "COMMON FLAGS" "name|flags" ...
# Each run trains into OUT_ROOT/<name> with COMMON FLAGS then its own (a later flag wins), and its
# log.csv and summary.json are copied to docs/ablation/<name>/. ONLY="name ..." runs just those entries
# (a fresh machine has no runs/: without it every earlier run would be trained again).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$1; epochs=$2; common=$3; shift 3
PY=${PY:-.venv/bin/python}
for entry in "$@"; do
  name=${entry%%|*}; flags=${entry#*|}; out=$root/$name
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then continue; fi
  if [ -f "$out/summary.json" ]; then echo "$name: done"; continue; fi
  mkdir -p "$out" docs/ablation/$name
  echo "$(date -u +%FT%TZ) $name: $common $flags"
  # shellcheck disable=SC2086
  nice -n 10 "$PY" -m training.train --out-dir "$out" --epochs "$epochs" $common $flags >> "$out/train.out" 2>&1 \
    || { echo "$name failed (see $out/train.out)"; exit 1; }
  cp "$out/log.csv" "$out/summary.json" docs/ablation/$name/
done
